// Shared test harness: a gateway on ephemeral loopback ports, real MQTT.js services and real
// ocpp-rpc charge points, all closed at the end of the test (LIFO). Waiting is on events, never on sleeps.
import type { TestContext } from 'node:test';
import { pino } from 'pino';
import mqtt, { type MqttClient } from 'mqtt';
import { RPCClient } from 'ocpp-rpc';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config/load.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { defer } from './cleanup.js';

/** Default deadline of every wait in the harness: a broken test fails with a message instead of hanging. */
export const WAIT_MS = 15_000;

/**
 * `promise`, or a rejection naming `what` after `ms`. The timer is cleared either way. Every wait in a
 * test goes through this (or `until`), so the suite fails fast instead of hanging CI.
 */
export function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Polls `predicate` once per event-loop turn (setImmediate, so timers and I/O run in between; never a
 * microtask loop) until it holds, or rejects naming `what` after `ms`.
 */
export async function until(predicate: () => boolean | Promise<boolean>, what: string, ms = WAIT_MS): Promise<void> {
  const end = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

export const EPHEMERAL: Array<[string, unknown]> = [
  ['ocpp.host', '127.0.0.1'],
  ['ocpp.port', 0],
  ['mqtt.embedded.host', '127.0.0.1'],
  ['mqtt.embedded.port', 0],
  ['mqtt.embedded.ws_port', 0],
  ['api.host', '127.0.0.1'],
  ['api.port', 0],
  ['log.level', 'silent'],
];

export interface TestGateway {
  gw: Gateway;
  ocppUrl: string;
  wssUrl: string;
  mqttUrl: string;
  apiUrl: string;
}

export async function startTestGateway(t: TestContext, settings: Record<string, unknown> = {}): Promise<TestGateway> {
  const loaded = loadConfig({ overrides: [...EPHEMERAL, ...Object.entries(settings)] });
  if (!loaded.ok) throw new Error(loaded.errors.join('; '));
  // TEST_LOG=debug shows the gateway's log on stderr while a test is investigated.
  const gw = await startGateway({ config: loaded.config, log: pino({ level: process.env['TEST_LOG'] ?? 'silent' }, pino.destination(2)) });
  defer(t, () => gw.close());
  return {
    gw,
    ocppUrl: `ws://127.0.0.1:${gw.addresses.ocpp?.port ?? 0}${loaded.config.ocpp.path}`,
    wssUrl: `wss://localhost:${gw.addresses.ocppTls?.port ?? 0}${loaded.config.ocpp.path}`,
    mqttUrl: `mqtt://127.0.0.1:${gw.addresses.mqtt?.port ?? 0}`,
    apiUrl: `http://127.0.0.1:${gw.addresses.api?.port ?? 0}`,
  };
}

export interface Received {
  topic: string;
  text: string;
  json: unknown;
  retain: boolean;
}

/** An MQTT.js service that records what it receives and lets a test wait for a message. */
export class Service {
  readonly client: MqttClient;
  readonly received: Received[] = [];
  #waiters: Array<{ match: (m: Received) => boolean; resolve: (m: Received) => void; from: number }> = [];

  private constructor(client: MqttClient) {
    this.client = client;
    client.on('message', (topic, payload, packet) => {
      const text = payload.toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      const m = { topic, text, json, retain: packet.retain };
      this.received.push(m);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.match(m)) return true;
        w.resolve(m);
        return false;
      });
    });
  }

  static async connect(t: TestContext, url: string, subscriptions: string[] = ['ocpp/#'], options: mqtt.IClientOptions = {}): Promise<Service> {
    const client = await within(mqtt.connectAsync(url, { reconnectPeriod: 0, ...options }), `the MQTT service to connect to ${url}`);
    defer(t, () => client.endAsync(true));
    const service = new Service(client);
    if (subscriptions.length > 0) await within(client.subscribeAsync(subscriptions, { qos: 1 }), `the MQTT service to subscribe ${subscriptions.join(' ')}`);
    return service;
  }

  /** The first message (already received or future) whose topic equals/matches; rejects after `ms`. */
  waitFor(match: string | ((m: Received) => boolean), from = 0, ms = WAIT_MS): Promise<Received> {
    const fn = typeof match === 'string' ? (m: Received) => m.topic === match : match;
    const seen = this.received.slice(from).find(fn);
    if (seen) return Promise.resolve(seen);
    const waiter = { match: fn, resolve: (_m: Received) => undefined as void, from };
    const arrived = new Promise<Received>((resolve) => {
      waiter.resolve = resolve;
      this.#waiters.push(waiter);
    });
    return within(arrived, `an MQTT message ${typeof match === 'string' ? `on ${match}` : 'matching the predicate'}`, ms).finally(() => {
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
    });
  }

  topics(prefix: string): string[] {
    return this.received.filter((m) => m.topic.startsWith(prefix)).map((m) => m.topic);
  }

  /**
   * Publishes at QoS 1. Callers that do not wait (answers sent from a message handler) must not turn
   * the test's own end, which cuts publishes still awaiting PUBACK, into an unhandled rejection.
   */
  publish(topic: string, payload: unknown): Promise<void> {
    const sent = this.client.publishAsync(topic, typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1 }).then(() => undefined);
    sent.catch(() => undefined);
    return sent;
  }
}

/** An ocpp-rpc charge point, connected; `before` runs first (e.g. to register handlers for CALLs waiting at the gateway). */
export async function chargePoint(t: TestContext, endpoint: string, identity: string, options: Record<string, unknown> = {}, before?: (cp: RPCClient) => void): Promise<RPCClient> {
  // ocpp-rpc's typings require every option; its constructor fills defaults.
  const cp = new RPCClient({ endpoint, identity, protocols: ['ocpp1.6'], strictMode: true, reconnect: false, ...options } as unknown as ConstructorParameters<typeof RPCClient>[0]);
  defer(t, () => cp.close({ force: true }).catch(() => undefined));
  before?.(cp);
  await within(cp.connect(), `charge point ${identity} to connect`);
  return cp;
}

/** A bare ws client, for frames no OCPP library would send. */
export async function rawSocket(t: TestContext, url: string, protocols: string[] = ['ocpp1.6'], options: WebSocket.ClientOptions = {}): Promise<RawSocket> {
  const ws = new WebSocket(url, protocols, options);
  defer(t, () => ws.terminate());
  const raw = new RawSocket(ws);
  await within(new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  }), `the upgrade of ${url}`);
  return raw;
}

export class RawSocket {
  readonly frames: unknown[] = [];
  #waiters: Array<(f: unknown) => void> = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const f: unknown = JSON.parse(String(data));
      const w = this.#waiters.shift();
      if (w) w(f);
      else this.frames.push(f);
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  /** The next frame from the gateway; rejects after `ms`. */
  next(ms = WAIT_MS): Promise<unknown> {
    if (this.frames.length > 0) return Promise.resolve(this.frames.shift());
    let waiter: (f: unknown) => void = () => undefined;
    const arrived = new Promise<unknown>((resolve) => {
      waiter = resolve;
      this.#waiters.push(waiter);
    });
    return within(arrived, 'a frame from the gateway', ms).finally(() => {
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
    });
  }

  /** The close code and reason; rejects after `ms`. */
  closedWithin(ms = WAIT_MS): Promise<{ code: number; reason: string }> {
    return within(this.closed, 'the gateway to close the socket', ms);
  }

  send(text: string | Buffer, binary = false): void {
    this.ws.send(text, { binary });
  }
}

/** The HTTP status of a refused upgrade (or 101). */
export function upgradeStatus(url: string, protocols: string[] | undefined, headers: Record<string, string> = {}, options: WebSocket.ClientOptions = {}): Promise<{ status: number; reason: string | undefined }> {
  return within(new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols ?? [], { ...options, headers });
    ws.once('open', () => {
      resolve({ status: 101, reason: undefined });
      ws.terminate();
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, reason: res.headers['x-ocpp-gateway-reason'] as string | undefined });
      res.resume();
      ws.terminate();
    });
    ws.once('error', (err) => {
      if (!/Unexpected server response/.test(String(err))) reject(err);
    });
  }), `the upgrade of ${url}`);
}

export function basic(user: string, password: string | Buffer): string {
  return `Basic ${Buffer.concat([Buffer.from(`${user}:`), Buffer.isBuffer(password) ? password : Buffer.from(password)]).toString('base64')}`;
}
