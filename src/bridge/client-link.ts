// mqtt.client_mode = per_client: one broker connection per charge point, client id = cpId, made with
// the charge point's own credentials, so the broker's authentication and ACLs decide. [SPEC §7]
// A link is opened during the WebSocket upgrade (its CONNACK decides the upgrade), carries every
// publish about its charge point, and never reconnects by itself: when the broker drops it, the
// charge point is closed and its next connection makes a new link. Reconnecting on our own would
// fight the broker's client-id takeover when another instance now serves the charge point.
import type { Socket } from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { PublishRefused, type BrokerMessageHandler, type BrokerPort, type PublishOptions } from './broker.js';
import { RefusedPublishes } from './refused-publishes.js';
import { encodeLevel } from './topic-level.js';

/** TLS and protocol settings shared by every connection to an external broker. */
export interface BrokerEndpoint {
  readonly url: string;
  readonly qos: 0 | 1 | 2;
  readonly keepaliveMs: number;
  readonly protocolVersion: 4 | 5;
  readonly tls: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer; readonly servername?: string; readonly rejectUnauthorized: boolean };
}

/** The MQTT.js options every connection to an external broker starts from. */
export function endpointOptions(e: BrokerEndpoint): IClientOptions {
  return {
    keepalive: Math.max(1, Math.round(e.keepaliveMs / 1000)),
    protocolVersion: e.protocolVersion,
    rejectUnauthorized: e.tls.rejectUnauthorized,
    ...(e.tls.ca ? { ca: e.tls.ca } : {}),
    ...(e.tls.cert ? { cert: e.tls.cert } : {}),
    ...(e.tls.key ? { key: e.tls.key } : {}),
    ...(e.tls.servername ? { servername: e.tls.servername } : {}),
  };
}

/**
 * One publish through an MQTT.js client; MQTT 5 user properties only where the connection speaks 5.
 * A publish the broker refuses rejects with PublishRefused (see RefusedPublishes).
 */
export function publishVia(client: MqttClient, refusals: RefusedPublishes, qos: 0 | 1 | 2, v5: boolean, topic: string, payload: string, options?: PublishOptions): Promise<void> {
  // User property values are UTF-8 strings that a broker validates like topics [MQTT-1.5.4-1..3]:
  // they carry the same encoded text as the topic levels.
  const retain = options?.retain ?? false;
  const opts = v5 && options?.userProperties ? { qos, retain, properties: { userProperties: encodeValues(options.userProperties) } } : { qos, retain };
  const unmark = options?.outstandingAtDrop === true ? refusals.suspect(topic, payload) : undefined;
  // One promise per publish (the callback form of MQTT.js, not publishAsync inside an async function).
  return new Promise((resolve, reject) => {
    try {
      client.publish(topic, payload, opts, (err) => {
        unmark?.();
        if (err) reject(refusals.failure(err, topic));
        else resolve();
      });
    } catch (err) {
      unmark?.();
      reject(refusals.failure(err, topic));
    }
  });
}

function encodeValues(values: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key in values) out[key] = encodeLevel(values[key] as string);
  return out;
}

/**
 * Ends an MQTT.js client: when connected, a DISCONNECT after every publish made so far is
 * acknowledged, bounded by graceMs; otherwise (or after graceMs) a forced end. With the broker gone, a
 * graceful end would wait for a reconnect that may never come.
 */
export async function endBounded(client: MqttClient, connected: boolean, graceMs: number): Promise<void> {
  if (connected) {
    const graceful = client.endAsync(false);
    const timedOut = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(true), graceMs);
      void graceful.then(
        () => { clearTimeout(timer); resolve(false); },
        () => { clearTimeout(timer); resolve(true); },
      );
    });
    if (!timedOut) return;
  }
  await client.endAsync(true);
}

export interface ClientLinkOptions {
  readonly endpoint: BrokerEndpoint;
  readonly clientId: string;
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
  /** Keep the broker session while the charge point is offline. */
  readonly persistent: boolean;
  /** MQTT 5 session expiry with persistent sessions. */
  readonly sessionExpirySeconds: number;
  /** Published by the broker if this link dies without a DISCONNECT (retained). */
  readonly will: { readonly topic: string; readonly payload: string };
  /** The charge point's downstream filter, subscribed before open() resolves. */
  readonly subscribe: string;
  /** CONNACK and SUBACK must both arrive within this. */
  readonly timeoutMs: number;
}

/** The broker said no (401 at the upgrade) or could not be reached in time (503). */
export class LinkRefused extends Error {
  constructor(readonly kind: 'unauthorized' | 'unavailable', detail: string) {
    super(detail);
  }
}

/** A publish that was unacknowledged when the broker dropped its link (see PublishOptions.outstandingAtDrop). */
export class LinkDropped extends Error {}

/** Why a link ended without the gateway asking: another client took the client id, or the link died. */
export type LinkLoss = 'taken_over' | 'lost';

// CONNACK codes that are about who connects (the rest say the broker cannot serve now).
const V311_REFUSALS: Record<number, string> = { 1: 'unacceptable protocol version', 2: 'identifier rejected', 3: 'server unavailable', 4: 'bad user name or password', 5: 'not authorized' };
const UNAUTHORIZED_CODES = { 4: new Set([2, 4, 5]), 5: new Set([0x85, 0x86, 0x87, 0x8a, 0x8c]) };
/** MQTT 5 DISCONNECT reason: the session was taken over by a client with the same id. */
const SESSION_TAKEN_OVER = 0x8e;

export class ClientLink implements BrokerPort {
  readonly kind = 'external' as const;
  readonly #client: MqttClient;
  readonly #qos: 0 | 1 | 2;
  readonly #v5: boolean;
  /** Messages that arrived before a handler was set (a persistent session's backlog right after CONNACK). */
  #early: Array<[string, Buffer]> | undefined = [];
  #handler: BrokerMessageHandler | undefined;
  #lostListeners: Array<(loss: LinkLoss) => void> = [];
  #takenOver = false;
  #loss: LinkLoss | undefined;
  #closing: Promise<void> | undefined;
  #connected = false;
  readonly #persistent: boolean;
  /** Set once the charge point is gone: later messages stay in a persistent session, unacknowledged. */
  #detached = false;
  readonly #withheld = new WeakSet<object>();
  readonly #refusals: RefusedPublishes;

  private constructor(client: MqttClient, o: ClientLinkOptions) {
    this.#client = client;
    // The link never reconnects, so it never resends; the guard turns PUBACK refusals into PublishRefused.
    this.#refusals = new RefusedPublishes(client, `the broker link of ${o.clientId}`);
    this.#qos = o.endpoint.qos;
    this.#v5 = o.endpoint.protocolVersion === 5;
    // Listening from the start: a persistent session's backlog may arrive in the same read as CONNACK.
    client.once('connect', () => {
      this.#connected = true;
      (client.stream as Partial<Socket>).setNoDelay?.(true);
    });
    this.#persistent = o.persistent;
    client.on('message', (topic, payload, packet) => {
      if (this.#detached && this.#persistent) this.#withheld.add(packet);
      else if (this.#handler !== undefined) this.#handler(topic, payload);
      else this.#early?.push([topic, payload]);
    });
    // MQTT.js sends PUBACK when this calls back. A message withheld is never acknowledged, so the
    // broker keeps it in the session and delivers it again when the charge point returns.
    const handleMessage = client.handleMessage.bind(client);
    client.handleMessage = (packet, callback) => {
      if (!this.#withheld.has(packet)) handleMessage(packet, callback);
    };
    client.on('disconnect', (packet) => {
      if (packet.reasonCode === SESSION_TAKEN_OVER) this.#takenOver = true;
    });
    client.on('close', () => {
      if (!this.#connected) return;
      this.#connected = false;
      // A link never reconnects, so what the broker has not acknowledged is never sent again. With a
      // clean session MQTT.js fails those publishes at end(true); with a persistent one it keeps them
      // for a resend that never comes and their promises would never settle. Fail them here (after
      // this handler: the bridge may carry them on the shared connection).
      for (const id of Object.keys(client.outgoing)) {
        const messageId = Number(id);
        if (client.outgoing[messageId]?.cmd === 'publish') client.removeOutgoingMessage(messageId);
      }
      if (this.#closing !== undefined) return;
      this.#loss = this.#takenOver ? 'taken_over' : 'lost';
      for (const l of this.#lostListeners) l(this.#loss);
      this.#lostListeners = [];
      client.end(true);
    });
  }

  static async open(o: ClientLinkOptions): Promise<ClientLink> {
    const properties = o.endpoint.protocolVersion === 5 && o.persistent ? { properties: { sessionExpiryInterval: o.sessionExpirySeconds } } : {};
    const client = mqtt.connect(o.endpoint.url, {
      ...endpointOptions(o.endpoint),
      clientId: o.clientId,
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      clean: !o.persistent,
      reconnectPeriod: 0,
      connectTimeout: o.timeoutMs,
      will: { topic: o.will.topic, payload: Buffer.from(o.will.payload), qos: o.endpoint.qos, retain: true },
      ...properties,
    });
    client.on('error', () => undefined); // reported below or through 'close'
    const link = new ClientLink(client, o);
    const timer = setTimeout(() => client.emit('error', Object.assign(new Error('timeout'), { timedOut: true })), o.timeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('error', (err: Error & { code?: number | string; timedOut?: boolean }) => {
          if (err.timedOut === true) reject(new LinkRefused('unavailable', `the broker did not answer the CONNECT of ${o.clientId} within ${o.timeoutMs} ms`));
          else if (typeof err.code === 'number') {
            const unauthorized = UNAUTHORIZED_CODES[o.endpoint.protocolVersion].has(err.code);
            const what = o.endpoint.protocolVersion === 4 ? V311_REFUSALS[err.code] ?? `code ${err.code}` : err.message.replace(/^Connection refused: /, '');
            reject(new LinkRefused(unauthorized ? 'unauthorized' : 'unavailable', `the broker refused the connection of ${o.clientId}: ${what}`));
          } else reject(new LinkRefused('unavailable', `the broker is not reachable: ${err.message}`));
        });
        client.once('close', () => reject(new LinkRefused('unavailable', 'the broker closed the connection before CONNACK')));
      });
      const granted = await Promise.race([
        client.subscribeAsync(o.subscribe, { qos: 1 }),
        new Promise<never>((_, reject) => client.once('error', () => reject(new LinkRefused('unavailable', `the broker did not acknowledge the subscription of ${o.clientId} within ${o.timeoutMs} ms`)))),
      ]);
      if (granted.some((g) => g.qos >= 0x80)) {
        await link.close();
        throw new LinkRefused('unauthorized', `the broker refused the subscription of ${o.clientId} to ${o.subscribe}`);
      }
      return link;
    } catch (err) {
      client.end(true);
      throw err instanceof LinkRefused ? err : new LinkRefused('unavailable', `the broker connection failed: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A newer link with this client id is being opened by this gateway: if the broker now drops this
   * one, that is a takeover, also over MQTT 3.1.1 where the broker gives no reason.
   */
  markSuperseded(superseded: boolean): void {
    this.#takenOver = superseded;
  }

  get superseded(): boolean {
    return this.#takenOver;
  }

  async publish(topic: string, payload: string, options?: PublishOptions): Promise<void> {
    if (!this.#connected || this.#closing !== undefined) throw new Error(`the broker link of ${this.#client.options.clientId ?? ''} is closed`);
    try {
      await publishVia(this.#client, this.#refusals, this.#qos, this.#v5, topic, payload, options);
    } catch (err) {
      // Unacknowledged when the broker dropped this link (not a takeover): it may be what the broker
      // dropped it for. The shared connection may still carry it, but refuses it at its first drop.
      if (this.#loss === 'lost' && !(err instanceof PublishRefused)) throw new LinkDropped(`the broker dropped the link of ${this.#client.options.clientId ?? ''} with this publish unacknowledged`);
      throw err;
    }
  }

  onPublishRefused(listener: (refused: PublishRefused) => void): void {
    this.#refusals.onRefused(listener);
  }

  /** The link subscribes once, in open(); the charge point's filter is its only subscription. */
  subscribe(): Promise<void> {
    return Promise.resolve();
  }

  unsubscribe(): Promise<void> {
    return Promise.resolve();
  }

  setMessageHandler(handler: BrokerMessageHandler): void {
    this.#handler = handler;
    const early = this.#early ?? [];
    this.#early = undefined;
    for (const [topic, payload] of early) handler(topic, payload);
  }

  isConnected(): boolean {
    return this.#connected;
  }

  onConnectionChange(listener: (connected: boolean) => void): void {
    this.onLost(() => listener(false));
  }

  /** Called once if the broker ends the link (not after close()); at once if it already has. */
  onLost(listener: (loss: LinkLoss) => void): void {
    if (this.#loss !== undefined) listener(this.#loss);
    else if (this.#closing === undefined) this.#lostListeners.push(listener);
  }

  /**
   * The messages that arrived and were acknowledged but never reached a connection (the upgrade
   * failed after the link was made); the caller reports them.
   */
  takeUndelivered(): Array<[string, Buffer]> {
    const early = this.#early ?? [];
    this.#early = undefined;
    return early;
  }

  /**
   * The charge point is gone. With a persistent session, messages still arriving before the broker
   * processes our DISCONNECT stay with the broker (unacknowledged) for the next connection; with a
   * clean session they are handled as before (the bridge reports them as not_connected).
   */
  detach(): void {
    this.#detached = true;
  }

  /** DISCONNECT after the publishes made so far (so the broker does not send the will), bounded. */
  close(graceMs = 2000): Promise<void> {
    this.#closing ??= endBounded(this.#client, this.#connected, graceMs);
    return this.#closing;
  }
}
