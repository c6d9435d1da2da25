// An external broker reached with MQTT.js: the shared connection for all charge points (client_mode
// shared), or the gateway's control connection beside the per-charge-point links (per_client). [SPEC §7]
// MQTT.js re-subscribes after a reconnect (clean session) and keeps QoS>0 publishes made while
// offline in its outgoing store, sending them once connected; a publish the broker refuses is
// dropped rather than resent forever (RefusedPublishes).
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import type { BrokerMessageHandler, BrokerPort, PublishOptions, PublishRefused } from './broker.js';
import { RefusedPublishes } from './refused-publishes.js';
import { endBounded, endpointOptions, publishVia, type BrokerEndpoint } from './client-link.js';
import { StartupError } from '../errors.js';
import { Backoff } from './backoff.js';
import { batchWrites } from './batch-writes.js';

/** One connection attempt that did not reach an accepted CONNACK. */
export interface AttemptFailure {
  /** Failed attempts since the last connection (1 = the first). */
  readonly attempt: number;
  /** Why: the socket error, "connack timeout" or the broker's refusal. */
  readonly error: string;
  /** Delay before the next attempt (backoff with jitter). */
  readonly retryInMs: number;
}

export interface ExternalBrokerOptions extends BrokerEndpoint {
  readonly clientId: string;
  readonly username: string;
  readonly password: string;
  readonly reconnectPeriodMs: number;
  readonly reconnectMaxMs: number;
  readonly reconnectJitter: number;
  /** How long one attempt waits for the CONNACK. */
  readonly connectTimeoutMs: number;
  /**
   * mqtt.connect_timeout_exit. 0: start() returns after the first attempt's answer and MQTT.js keeps
   * trying in the background. More than 0: start() waits this long for a connection, then fails.
   */
  readonly exitAfterMs?: number;
  /** Every failed attempt, for the log; also those made while start() waits. */
  readonly onAttemptFailed?: (failure: AttemptFailure) => void;
}

/**
 * With mqtt.connect_timeout_exit 0, how long start() waits for the first attempt's answer. A broker
 * that is up answers within it; the answer matters because a refused CONNECT stops the start. A
 * broker that stays silent longer (a dropped SYN) is waited for in the background instead.
 */
const FIRST_ANSWER_MS = 3000;

/** CONNACK codes that a later attempt may not get: server unavailable or busy, quota, rate. [MQTT 3.1.1 §3.2.2.3, MQTT 5 §3.2.2.2] */
const PASSING_REFUSALS = new Set([3, 0x88, 0x89, 0x97, 0x9f]);

export class ExternalBroker implements BrokerPort {
  readonly kind = 'external' as const;
  readonly #client: MqttClient;
  readonly #qos: 0 | 1 | 2;
  readonly #listeners: Array<(connected: boolean) => void> = [];
  readonly #v5: boolean;
  readonly #refusals: RefusedPublishes;
  #connected = false;
  #failedAttempts = 0;
  /** The error of the attempt in progress, and the last error since the last connection (for messages). */
  #attemptError = '';
  #lastError = '';

  private constructor(client: MqttClient, o: ExternalBrokerOptions) {
    this.#client = client;
    this.#refusals = new RefusedPublishes(client, 'the shared broker connection');
    this.#qos = o.qos;
    this.#v5 = o.protocolVersion === 5;
    const backoff = new Backoff(o.reconnectPeriodMs, o.reconnectMaxMs, o.reconnectJitter);
    // The delay of the next attempt, chosen once per failed attempt or loss: MQTT.js schedules the next
    // attempt with options.reconnectPeriod right after emitting a refused CONNACK's error, and else on
    // 'close' (our listener runs first, see below).
    let nextDelay: number | undefined;
    const chooseDelay = (): number => {
      nextDelay ??= backoff.next();
      client.options.reconnectPeriod = nextDelay;
      return nextDelay;
    };
    client.on('connect', () => {
      const stream = client.stream as Partial<Socket>;
      stream.setNoDelay?.(true);
      if (typeof stream.cork === 'function' && typeof stream.setNoDelay === 'function') batchWrites(stream as Socket);
      backoff.reset();
      nextDelay = undefined;
      this.#failedAttempts = 0;
      this.#attemptError = '';
      this.#lastError = '';
      client.options.reconnectPeriod = o.reconnectPeriodMs;
      this.#setConnected(true);
    });
    client.prependListener('close', () => {
      const delay = chooseDelay();
      nextDelay = undefined;
      // An attempt that never connected (a loss is reported as the connection state instead); none
      // after end().
      if (!this.#connected && !client.disconnecting) {
        this.#failedAttempts++;
        o.onAttemptFailed?.({ attempt: this.#failedAttempts, error: this.#attemptError === '' ? 'connection closed' : this.#attemptError, retryInMs: delay });
      }
      this.#attemptError = '';
    });
    for (const event of ['close', 'offline', 'disconnect'] as const) client.on(event, () => this.#setConnected(false));
    // Reported through the connection state and onAttemptFailed; MQTT.js reconnects.
    client.on('error', (err: Error & { code?: number | string }) => {
      this.#attemptError = err.message;
      this.#lastError = err.message;
      if (typeof err.code === 'number') chooseDelay();
    });
  }

  #setConnected(connected: boolean): void {
    if (connected === this.#connected) return;
    this.#connected = connected;
    for (const l of this.#listeners) l(connected);
  }

  /**
   * Starts connecting. Resolves once connected, or (exitAfterMs 0) once the first attempt failed in a
   * way a later one may not, or FIRST_ANSWER_MS passed; the broker keeps reconnecting with backoff.
   * Rejects with a one-line StartupError when the broker refuses the CONNECT (credentials, protocol
   * version, client id) or its certificate does not verify, and (exitAfterMs > 0) when no connection
   * was made in that time.
   */
  static async start(o: ExternalBrokerOptions): Promise<ExternalBroker> {
    const client = mqtt.connect(o.url, {
      ...endpointOptions(o),
      clientId: o.clientId === '' ? `ocpp-gateway-${randomBytes(4).toString('hex')}` : o.clientId,
      ...(o.username !== '' ? { username: o.username } : {}),
      ...(o.password !== '' ? { password: o.password } : {}),
      reconnectPeriod: o.reconnectPeriodMs,
      connectTimeout: o.connectTimeoutMs,
      // A refused CONNACK is retried as well ("server unavailable" while a broker starts); the refusals
      // that retrying cannot cure stop the start below, before the first connection.
      reconnectOnConnackError: true,
      clean: true,
    });
    const broker = new ExternalBroker(client, o);
    const exitAfterMs = o.exitAfterMs ?? 0;
    const settle: { onError?: (err: Error & { code?: number | string }) => void; onClose?: () => void } = {};
    try {
      await new Promise<void>((resolve, reject) => {
        const stop = (message: string) => {
          clearTimeout(timer);
          client.end(true);
          reject(new StartupError(message));
        };
        const timer = exitAfterMs > 0
          ? setTimeout(() => stop(`external MQTT broker ${o.url} (mqtt.url): no connection within ${exitAfterMs} ms (mqtt.connect_timeout_exit)${broker.#lastError === '' ? '' : ` (last error: ${broker.#lastError})`}`), exitAfterMs)
          : setTimeout(resolve, FIRST_ANSWER_MS);
        client.once('connect', () => {
          clearTimeout(timer);
          resolve();
        });
        settle.onError = (err) => {
          // A broker certificate that does not verify, or a CONNECT refused for good.
          const tls = typeof err.code === 'string' && /CERT|SIGNATURE|ALTNAME|SELF_SIGNED|ISSUER/.test(err.code);
          if (tls) stop(`external MQTT broker ${o.url} (mqtt.url): its TLS certificate does not verify: ${err.message} (mqtt.tls.ca_file, mqtt.tls.servername)`);
          else if (typeof err.code === 'number' && !PASSING_REFUSALS.has(err.code)) stop(`external MQTT broker ${o.url} (mqtt.url) refused the connection: ${err.message}`);
        };
        // Down (refused, unreachable, no CONNACK in time): with exitAfterMs 0 the gateway starts without it.
        settle.onClose = () => {
          if (exitAfterMs > 0 || client.disconnecting) return;
          clearTimeout(timer);
          resolve();
        };
        client.on('error', settle.onError);
        client.on('close', settle.onClose);
      });
    } finally {
      if (settle.onError) client.off('error', settle.onError);
      if (settle.onClose) client.off('close', settle.onClose);
    }
    return broker;
  }

  publish(topic: string, payload: string, options?: PublishOptions): Promise<void> {
    return publishVia(this.#client, this.#refusals, this.#qos, this.#v5, topic, payload, options);
  }

  onPublishRefused(listener: (refused: PublishRefused) => void): void {
    this.#refusals.onRefused(listener);
  }

  async subscribe(filter: string): Promise<void> {
    await this.#client.subscribeAsync(filter, { qos: 1 });
  }

  async unsubscribe(filter: string): Promise<void> {
    await this.#client.unsubscribeAsync(filter);
  }

  setMessageHandler(handler: BrokerMessageHandler): void {
    this.#client.removeAllListeners('message');
    this.#client.on('message', (topic, payload) => handler(topic, payload));
  }

  isConnected(): boolean {
    return this.#connected;
  }

  onConnectionChange(listener: (connected: boolean) => void): void {
    this.#listeners.push(listener);
  }

  /** Graceful DISCONNECT when connected (bounded), else a forced end. */
  close(graceMs = 2000): Promise<void> {
    return endBounded(this.#client, this.#connected, graceMs);
  }
}
