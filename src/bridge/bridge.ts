// The MQTT side of every connection: topics out, subscriptions in, events and presence. One
// subscription per connected cpId, counted, so a replaced connection's teardown cannot remove the
// subscription its successor relies on. [SPEC §3, §4]
import type { GatewayErrorReason, RejectedReason } from '../errors.js';
import type { MessageKind } from '../session/channel.js';
import type { Registry } from '../session/registry.js';
import type { DownstreamSink } from '../session/sink.js';
import type { Logger } from '../obs/log.js';
import type { Metrics } from '../obs/metrics.js';
import { performance } from 'node:perf_hooks';
import { PublishRefused, type BrokerPort, type PublishOptions } from './broker.js';
import type { TopicLayout } from './topics.js';
import type { MessageFormat } from './message-format.js';
import { ClientLink, LinkDropped, type BrokerEndpoint, type LinkLoss } from './client-link.js';

/** Embedded broker, shared mode: a connection holds nothing of its own on the MQTT side (one object for all). */
const NOTHING_HELD: Attachment = Object.freeze({ bind: () => undefined, release: () => undefined });

const RETAINED: PublishOptions = Object.freeze({ retain: true });
const NOT_RETAINED: PublishOptions = Object.freeze({ retain: false });

/** Longest topic MQTT can carry, in bytes of UTF-8. [MQTT-1.5.3] */
const MAX_TOPIC_BYTES = 65_535;

/** mqtt.client_mode = per_client: how each charge point's own broker link is made. */
export interface PerClientLinks {
  readonly endpoint: BrokerEndpoint;
  readonly persistent: boolean;
  readonly sessionExpirySeconds: number;
  readonly timeoutMs: number;
}

/** What the charge point presented at the upgrade, passed to the broker in per_client mode. */
export interface CpCredentials {
  readonly username?: string | undefined;
  readonly password?: Buffer | undefined;
}

/**
 * A charge point's hold on the MQTT side from the upgrade to the teardown: its downstream
 * subscription (shared mode) or its own broker link (per_client mode).
 */
export interface Attachment {
  /** The accepted connection: downstream messages now go to it; onLost when the broker ends its link. */
  bind(conn: DownstreamSink, onLost: (loss: LinkLoss) => void): void;
  /** Ends the hold, after every publish made so far (call it after the teardown's publishes). */
  release(): void;
}

export class Bridge {
  readonly #broker: BrokerPort;
  readonly #topics: TopicLayout;
  readonly #format: MessageFormat;
  readonly #registry: Registry<DownstreamSink>;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #subscriptions = new Map<string, number>();
  /**
   * Embedded broker, shared mode: one wildcard subscription carries every charge point's downstream
   * messages (made once; no per-CP subscription, no per-CP trie node in aedes). A message for a cpId with
   * no connection here gets not_connected at once. [SPEC §4] External brokers keep one subscription per
   * connected cpId, so that several instances on one broker each receive only their own.
   */
  readonly #wildcard: Promise<void> | undefined;
  readonly #perClient: PerClientLinks | undefined;
  /** per_client: the bound link of each connection, and the newest link of each cpId. */
  readonly #links = new Map<object, ClientLink>();
  readonly #newestLink = new Map<string, ClientLink>();
  #openLinks = 0;
  #pending = 0;
  #drained: Array<() => void> = [];

  readonly #offlineCalls: 'reject' | 'queue';
  /** Several instances on one broker: who we are, and cpIds another instance took over recently. */
  #instanceId: string | undefined;
  readonly #takenOver = new Map<string, number>();
  #onTakeover: (cpId: string, connectedAt: number, instanceId: string) => void = () => undefined;

  constructor(broker: BrokerPort, topics: TopicLayout, format: MessageFormat, registry: Registry<DownstreamSink>, log: Logger, metrics: Metrics, offlineCalls: 'reject' | 'queue' = 'reject', perClient?: PerClientLinks) {
    this.#format = format;
    this.#perClient = perClient;
    this.#offlineCalls = offlineCalls;
    this.#broker = broker;
    this.#topics = topics;
    this.#registry = registry;
    this.#log = log;
    this.#metrics = metrics;
    broker.setMessageHandler((topic, payload) => this.#onMessage(topic, payload));
    broker.onPublishRefused?.((refused) => this.#publishRefused(refused));
    if (broker.kind === 'embedded' && perClient === undefined) {
      this.#wildcard = broker.subscribe(format.dnWildcard());
      this.#wildcard.catch(() => undefined); // attach() reports it
    }
  }

  /** per_client: links open now, from CONNACK until their DISCONNECT is done. */
  get openLinks(): number {
    return this.#openLinks;
  }

  /**
   * Takes the MQTT side for a charge point being admitted. Shared mode: its downstream subscription
   * (SUBACK received). per_client: its own link, whose CONNACK and SUBACK decide; throws LinkRefused.
   */
  async attach(cpId: string, protocol: string, credentials: CpCredentials): Promise<Attachment> {
    const per = this.#perClient;
    if (per === undefined && this.#wildcard !== undefined) {
      await this.#wildcard;
      return NOTHING_HELD;
    }
    if (per === undefined) {
      await this.#acquire(cpId);
      let released = false;
      return { bind: () => undefined, release: () => { if (!released) { released = true; this.#release(cpId); } } };
    }
    const previous = this.#newestLink.get(cpId);
    previous?.markSuperseded(true);
    let link: ClientLink;
    try {
      link = await ClientLink.open({
        endpoint: per.endpoint, clientId: cpId, username: credentials.username, password: credentials.password,
        persistent: per.persistent, sessionExpirySeconds: per.sessionExpirySeconds, timeoutMs: per.timeoutMs,
        will: { topic: this.#topics.status(cpId, protocol), payload: JSON.stringify({ online: false, protocol, since: null }) },
        subscribe: this.#format.dnFilter(cpId),
      });
    } catch (err) {
      previous?.markSuperseded(false);
      throw err;
    }
    this.#newestLink.set(cpId, link);
    this.#openLinks++;
    let bound: DownstreamSink | undefined;
    let released = false;
    return {
      bind: (conn, onLost) => {
        bound = conn;
        this.#links.set(conn, link);
        link.setMessageHandler((topic, payload) => this.#dispatch(topic, payload, link, () => (conn.closed ? undefined : conn), conn.cpId));
        link.onLost(onLost);
        link.onPublishRefused((refused) => this.#publishRefused(refused));
      },
      release: () => {
        if (released) return;
        released = true;
        if (bound !== undefined) this.#links.delete(bound);
        // A persistent session's backlog that arrived while the upgrade was still under way, and the
        // upgrade then failed: answered as not_connected rather than dropped.
        else for (const [topic, payload] of link.takeUndelivered()) this.#dispatch(topic, payload, this.#broker, () => undefined, cpId);
        if (this.#newestLink.get(cpId) === link) this.#newestLink.delete(cpId);
        link.detach();
        this.#track(link.close().finally(() => this.#openLinks--)).catch((err: unknown) => this.#log.warn({ cpId, err: String(err) }, 'mqtt.link_close_failed'));
      },
    };
  }

  /** The connection to publish about conn through: its own link while that is up, else the shared one. */
  #portFor(conn: object | undefined): BrokerPort {
    if (this.#perClient === undefined || conn === undefined) return this.#broker;
    const link = this.#links.get(conn);
    return link !== undefined && link.isConnected() && !link.superseded ? link : this.#broker;
  }

  /** Ensures the downstream subscription for cpId is in place (SUBACK received). */
  async #acquire(cpId: string): Promise<void> {
    const count = this.#subscriptions.get(cpId) ?? 0;
    this.#subscriptions.set(cpId, count + 1);
    if (count === 0) {
      try {
        await this.#broker.subscribe(this.#format.dnFilter(cpId));
      } catch (err) {
        this.#release(cpId);
        throw err;
      }
    }
  }

  #release(cpId: string): void {
    const count = (this.#subscriptions.get(cpId) ?? 0) - 1;
    if (count > 0) {
      this.#subscriptions.set(cpId, count);
      return;
    }
    this.#subscriptions.delete(cpId);
    this.#broker.unsubscribe(this.#format.dnFilter(cpId)).catch((err: unknown) => this.#log.warn({ cpId, err: String(err) }, 'mqtt.unsubscribe_failed'));
  }

  publishUp(conn: DownstreamSink, type: MessageKind, action: string, messageId: string, payloadText: string, gatewayReason?: GatewayErrorReason): Promise<void> {
    if (gatewayReason !== undefined) this.#metrics.gatewayError(gatewayReason);
    // [SPEC §5] a CP CALL is never reported as delivered when the broker cannot take it.
    const port = this.#portFor(conn);
    if (type === 'request' && this.#offlineCalls === 'reject' && !port.isConnected()) {
      return Promise.reject(new Error('the MQTT broker is not connected'));
    }
    const out = this.#format.up(conn.cpId, type, action, messageId, conn.protocol, payloadText);
    // MQTT 5 user properties travel on an external broker's connection; in-process they would be dropped.
    return this.#publish(out.topic, out.payload, false, port.kind === 'embedded' ? undefined : { cpId: conn.cpId, action, protocol: conn.protocol }, port);
  }

  /** An event about cpId; `via` = the connection it is about, whose own link carries it in per_client mode. */
  publishEvent(cpId: string, event: 'connected' | 'disconnected' | 'rejected' | 'takeover', body: object, protocol = '', via?: object): Promise<void> {
    return this.#publish(this.#topics.event(cpId, event, protocol), JSON.stringify(body), false, { cpId, protocol }, this.#portFor(via));
  }

  /**
   * event/rejected about a connection's message. The connection counts, logs and rate-limits it and
   * holds the returned publish in its in-flight budget. [SPEC §8]
   */
  publishRejected(conn: { cpId: string; protocol: string }, reason: RejectedReason, detail: string, messageId?: string, action?: string, extra?: Record<string, unknown>): Promise<void> {
    const body = { cpId: conn.cpId, reason, detail, ...(messageId !== undefined ? { messageId } : {}), ...(action !== undefined ? { action } : {}), ...extra };
    return this.publishEvent(conn.cpId, 'rejected', body, conn.protocol, conn);
  }

  /** The retained presence topic. [SPEC §4] */
  publishPresence(cpId: string, online: boolean, protocol: string, since: number, via?: DownstreamSink): Promise<void> {
    return this.#publish(this.#topics.status(cpId, protocol), JSON.stringify({ online, protocol, since: new Date(since).toISOString() }), true, undefined, this.#portFor(via));
  }

  /**
   * Cluster mode (external broker): listen for other instances taking over charge points, and
   * announce our own connections. [SPEC §7] The topic is the event topic with event "takeover".
   */
  async enableTakeover(instanceId: string, onTakeover: (cpId: string, connectedAt: number, instanceId: string) => void): Promise<void> {
    this.#instanceId = instanceId;
    this.#onTakeover = onTakeover;
    await this.#broker.subscribe(this.#topics.eventFilter('takeover'));
  }

  announceTakeover(conn: DownstreamSink): void {
    if (this.#instanceId === undefined) return;
    const body = { cpId: conn.cpId, instanceId: this.#instanceId, connectedAt: conn.connectedAt };
    this.#publish(this.#topics.event(conn.cpId, 'takeover', conn.protocol), JSON.stringify(body), false).catch(() => undefined);
  }

  /** A charge point now served by another instance: its downstream messages are that instance's. */
  markTakenOver(cpId: string, now: number): void {
    this.#takenOver.set(cpId, now + 60_000);
    if (this.#takenOver.size > 10_000) for (const [id, until] of this.#takenOver) if (until < now) this.#takenOver.delete(id);
  }

  /** Resolves when every publish started so far has finished. */
  drained(): Promise<void> {
    return this.#pending === 0 ? Promise.resolve() : new Promise((resolve) => this.#drained.push(resolve));
  }

  #publish(topic: string, payload: string, retain: boolean, userProperties?: Record<string, string>, port: BrokerPort = this.#broker): Promise<void> {
    // [MQTT-1.5.3] a topic is at most 65,535 bytes of UTF-8; MQTT.js throws on a longer one and its
    // connection never recovers, so such a publish is refused here, for every port. (A UTF-16 unit is
    // at most 3 bytes: only a long topic needs counting.)
    if (topic.length > MAX_TOPIC_BYTES / 3 && Buffer.byteLength(topic) > MAX_TOPIC_BYTES) {
      const refused = new PublishRefused('topic_too_long', topic.slice(0, 256), `the topic is ${Buffer.byteLength(topic)} bytes; MQTT allows ${MAX_TOPIC_BYTES}`);
      this.#publishRefused(refused);
      this.#metrics.publishResult(false, 0);
      return Promise.reject(refused);
    }
    const started = performance.now();
    const options = userProperties ? { retain, userProperties } : retain ? RETAINED : NOT_RETAINED;
    // A charge point's own link can die under a publish (the broker took the client id over, or is
    // going away): the shared connection carries it instead (QoS 1: at least once).
    let sent = port.publish(topic, payload, options);
    // Not one the broker refused (that is the broker's decision, e.g. its ACL in per_client mode).
    if (port !== this.#broker) sent = sent.catch((err: unknown) => (err instanceof PublishRefused ? Promise.reject(err) : this.#broker.publish(topic, payload, err instanceof LinkDropped ? { ...options, outstandingAtDrop: true } : options)));
    // One promise per publish on the hot path (no async wrappers): settled, counted, and drained() told.
    this.#pending++;
    return sent.then(
      () => {
        this.#metrics.publishResult(true, (performance.now() - started) / 1000);
        this.#settled();
      },
      (err: unknown) => {
        this.#metrics.publishResult(false, 0);
        this.#settled();
        throw err;
      },
    );
  }

  /** A publish the broker refused: dropped by the port, counted and logged here, once per publish. [SPEC §4] */
  #publishRefused(refused: PublishRefused): void {
    this.#metrics.publishRefused(refused.reason);
    this.#log.warn({ topic: refused.topic, reason: refused.reason, detail: refused.message }, 'mqtt.publish_refused');
  }

  /** Counts work that drained() waits for beyond publishes: links closing. */
  #track(work: Promise<void>): Promise<void> {
    this.#pending++;
    return work.finally(() => this.#settled());
  }

  #settled(): void {
    if (--this.#pending === 0) {
      const waiters = this.#drained;
      this.#drained = [];
      for (const w of waiters) w();
    }
  }

  #onMessage(topic: string, payload: Buffer): void {
    if (this.#instanceId !== undefined) {
      const takeover = this.#topics.parseEvent(topic, 'takeover');
      if (takeover !== undefined) {
        try {
          const b = JSON.parse(payload.toString('utf8')) as { instanceId?: unknown; connectedAt?: unknown };
          if (typeof b.instanceId === 'string' && b.instanceId !== this.#instanceId && typeof b.connectedAt === 'number') this.#onTakeover(takeover, b.connectedAt, b.instanceId);
        } catch {
          this.#log.warn({ topic }, 'cluster.bad_takeover');
        }
        return;
      }
    }
    this.#dispatch(topic, payload, this.#broker, (cpId) => this.#registry.get(cpId));
  }

  /**
   * A downstream message to its connection. `only`: per_client, the one cpId this link may carry
   * (a broker ACL could let more through; those are not ours to deliver).
   */
  #dispatch(topic: string, payload: Buffer, port: BrokerPort, target: (cpId: string) => DownstreamSink | undefined, only?: string): void {
    try {
      this.#route(topic, payload, port, target, only);
    } catch (err) {
      // [SPEC §8] one MQTT message never takes the process down (the connection guards its own part).
      const e = err instanceof Error ? err : new Error(String(err));
      this.#metrics.internalError('dispatch');
      this.#log.error({ topic: topic.slice(0, 512), err: e.message, stack: e.stack }, 'mqtt.dispatch_failed');
    }
  }

  #route(topic: string, payload: Buffer, port: BrokerPort, target: (cpId: string) => DownstreamSink | undefined, only?: string): void {
    const dn = this.#format.parseDn(topic, payload);
    if (dn === undefined || (only !== undefined && dn.cpId !== only)) {
      this.#log.debug({ topic }, 'mqtt.unroutable');
      return;
    }
    if ('invalid' in dn) {
      this.#log.info({ cpId: dn.cpId, topic, detail: dn.invalid }, 'mqtt.invalid_envelope');
      if (dn.messageId !== undefined) this.#gatewayError(dn.cpId, dn.action ?? 'unknown', dn.messageId, 'invalid_payload', dn.invalid, 'FormationViolation', port);
      else this.#metrics.gatewayError('invalid_payload');
      return;
    }
    const message = dn.message;
    const conn = target(dn.cpId);
    if (conn !== undefined) {
      conn.fromService(message);
      return;
    }
    // Another instance serves this charge point now and received the same message: not ours to answer.
    const takenOverUntil = this.#takenOver.get(dn.cpId);
    if (takenOverUntil !== undefined && takenOverUntil > Date.now()) {
      this.#log.debug({ cpId: dn.cpId, topic }, 'cluster.message_for_other_instance');
      return;
    }
    // Subscribed but the connection is already gone (a race with its teardown). Every kind gets its
    // error, 2.1 SEND and CALLRESULTERROR included: nothing is dropped silently. [SPEC §5]
    this.#gatewayError(dn.cpId, message.action, message.messageId, 'not_connected', 'the charge point is not connected', 'GenericError');
  }

  #gatewayError(cpId: string, action: string, messageId: string, reason: GatewayErrorReason, description: string, errorCode: string, port: BrokerPort = this.#broker): void {
    this.#metrics.gatewayError(reason);
    const out = this.#format.up(cpId, 'error', action, messageId, '', JSON.stringify({ errorCode, errorDescription: description, errorDetails: { gateway: { reason } } }));
    this.#publish(out.topic, out.payload, false, undefined, port.isConnected() ? port : this.#broker).catch(() => undefined);
  }
}
