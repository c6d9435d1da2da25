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
import { StartupError } from '../transport/listen.js';
import { Backoff } from './backoff.js';
import { batchWrites } from './batch-writes.js';

export interface ExternalBrokerOptions extends BrokerEndpoint {
  readonly clientId: string;
  readonly username: string;
  readonly password: string;
  readonly reconnectPeriodMs: number;
  readonly reconnectMaxMs: number;
  readonly reconnectJitter: number;
  /** How long start() waits for the first CONNACK. */
  readonly connectTimeoutMs: number;
}

export class ExternalBroker implements BrokerPort {
  readonly kind = 'external' as const;
  readonly #client: MqttClient;
  readonly #qos: 0 | 1 | 2;
  readonly #listeners: Array<(connected: boolean) => void> = [];
  readonly #v5: boolean;
  readonly #refusals: RefusedPublishes;
  #connected = false;

  private constructor(client: MqttClient, o: ExternalBrokerOptions) {
    this.#client = client;
    this.#refusals = new RefusedPublishes(client, 'the shared broker connection');
    this.#qos = o.qos;
    this.#v5 = o.protocolVersion === 5;
    const backoff = new Backoff(o.reconnectPeriodMs, o.reconnectMaxMs, o.reconnectJitter);
    client.on('connect', () => {
      const stream = client.stream as Partial<Socket>;
      stream.setNoDelay?.(true);
      if (typeof stream.cork === 'function' && typeof stream.setNoDelay === 'function') batchWrites(stream as Socket);
      backoff.reset();
      client.options.reconnectPeriod = o.reconnectPeriodMs;
      this.#setConnected(true);
    });
    // MQTT.js reads reconnectPeriod when it schedules the next attempt, after 'close': each loss or
    // failed attempt sets the delay of the attempt after it.
    client.on('close', () => {
      client.options.reconnectPeriod = backoff.next();
    });
    for (const event of ['close', 'offline', 'disconnect'] as const) client.on(event, () => this.#setConnected(false));
    client.on('error', () => undefined); // reported through the connection state; MQTT.js reconnects
  }

  #setConnected(connected: boolean): void {
    if (connected === this.#connected) return;
    this.#connected = connected;
    for (const l of this.#listeners) l(connected);
  }

  static async start(o: ExternalBrokerOptions): Promise<ExternalBroker> {
    const client = mqtt.connect(o.url, {
      ...endpointOptions(o),
      clientId: o.clientId === '' ? `ocpp-gateway-${randomBytes(4).toString('hex')}` : o.clientId,
      ...(o.username !== '' ? { username: o.username } : {}),
      ...(o.password !== '' ? { password: o.password } : {}),
      reconnectPeriod: o.reconnectPeriodMs,
      connectTimeout: o.connectTimeoutMs,
      clean: true,
    });
    const broker = new ExternalBroker(client, o);
    let lastError = '';
    let onStartError: (err: Error & { code?: number | string }) => void = () => undefined;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.end(true);
        reject(new StartupError(`external MQTT broker ${o.url} (mqtt.url): no connection within ${o.connectTimeoutMs} ms${lastError === '' ? '' : ` (last error: ${lastError})`}`));
      }, o.connectTimeoutMs);
      client.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      onStartError = (err) => {
        // A refused CONNECT (bad credentials, unsupported protocol version) or a broker certificate
        // that does not verify will not get better by retrying.
        const tls = typeof err.code === 'string' && /CERT|SIGNATURE|ALTNAME|SELF_SIGNED|ISSUER/.test(err.code);
        if (typeof err.code !== 'number' && !tls) {
          lastError = err.message;
          return;
        }
        clearTimeout(timer);
        client.end(true);
        reject(new StartupError(tls
          ? `external MQTT broker ${o.url} (mqtt.url): its TLS certificate does not verify: ${err.message} (mqtt.tls.ca_file, mqtt.tls.servername)`
          : `external MQTT broker ${o.url} (mqtt.url) refused the connection: ${err.message}`));
      };
      client.on('error', onStartError);
    }).finally(() => client.off('error', onStartError));
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
