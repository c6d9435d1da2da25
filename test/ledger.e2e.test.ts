// "Never lose or fake a message": 100 charge points keep one CALL outstanding each while the external
// broker is killed mid-traffic and restarted, in both client modes. Afterwards every CALL is accounted
// for. [SPEC §5, §7]
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { startTestGateway } from './support/harness.js';
import { startMosquitto } from './support/brokers.js';
import { defer } from './support/cleanup.js';

/** Gateway settings for both ledger tests: quick reconnects, a short upstream timeout, no per-address cap. */
const settings = (url: string, mode: 'shared' | 'per_client') => ({
  'mqtt.url': url, 'mqtt.client_mode': mode, 'mqtt.reconnect_period': '100ms', 'mqtt.reconnect_max': '300ms',
  'upstream.awaiting_timeout': '2s', 'ocpp.max_connections_per_address': 1000,
});

/** The service: answers every CALL with a payload derived from it; returns `${cpId}/${id}` -> the data it answered. */
async function echoService(t: TestContext, url: string): Promise<Map<string, string>> {
  const serviceSaw = new Map<string, string>();
  const svc = mqtt.connect(url, { reconnectPeriod: 100, clean: true });
  defer(t, () => svc.endAsync(true));
  await new Promise<void>((resolve) => svc.once('connect', () => resolve()));
  svc.on('message', (topic, payload) => {
    const [, cpId, , , action, id] = topic.split('/') as string[];
    const data = (JSON.parse(payload.toString()) as { data: string }).data;
    serviceSaw.set(`${cpId}/${id}`, data);
    svc.publish(`ocpp/${cpId}/dn/response/${action}/${id}`, JSON.stringify({ status: 'Accepted', data: `echo:${data}` }), { qos: 1 });
  });
  await svc.subscribeAsync('ocpp/+/up/request/#', { qos: 1 });
  return serviceSaw;
}

/** Every DataTransfer the charge points sent, and what became of it. Keys are `${cpId}/${messageId}`. */
class Ledger {
  sent = 0;
  results = 0;
  errors = 0;
  /** Outstanding when the charge point's socket closed: the CP saw no answer, as with a time-out. */
  cutOff = 0;
  afterRestart = 0;
  restarted = false;
  readonly wrong: string[] = [];
  readonly outstanding = new Map<string, string>();
  readonly sentKeys = new Set<string>();
  readonly #answered = new Set<string>();
  readonly #quiet: Array<() => void> = [];

  constructor(readonly serviceSaw: Map<string, string>) {}

  /** The frame of charge point cpId's CALL number seq, booked as sent. */
  call(cpId: string, seq: number): string {
    const data = `${cpId}-${seq}`;
    this.outstanding.set(`${cpId}/${seq}`, data);
    this.sentKeys.add(`${cpId}/${seq}`);
    this.sent++;
    return JSON.stringify([2, String(seq), 'DataTransfer', { vendorId: 'ledger', data }]);
  }

  /** A frame charge point cpId received: it must answer a CALL still outstanding, once, with what the service produced. */
  answer(cpId: string, raw: string): void {
    const [type, id, third] = JSON.parse(raw) as [number, string, unknown];
    const key = `${cpId}/${id}`;
    const data = this.outstanding.get(key);
    if (data === undefined || this.#answered.has(key)) this.wrong.push(`unexpected answer ${key}`);
    this.#answered.add(key);
    this.outstanding.delete(key);
    if (type === 3) {
      this.results++;
      if (this.restarted) this.afterRestart++;
      if ((third as { data?: string }).data !== `echo:${data}` || this.serviceSaw.get(key) !== data) this.wrong.push(`invented or crossed result for ${key}`);
    } else if (type === 4) this.errors++;
    else this.wrong.push(`frame type ${type}`);
    this.#settle();
  }

  /** cpId's socket closed: what it had outstanding is cut off. */
  cut(cpId: string): void {
    for (const key of [...this.outstanding.keys()]) {
      if (key.startsWith(`${cpId}/`)) {
        this.outstanding.delete(key);
        this.cutOff++;
      }
    }
    this.#settle();
  }

  /** Resolves when `count()` reaches n (checked on every turn of the event loop, no timers). */
  reached(count: () => number, n: number): Promise<void> {
    return new Promise((resolve) => {
      const check = () => (count() >= n ? resolve() : setImmediate(check));
      check();
    });
  }

  /** Resolves once nothing is outstanding (stop sending first). */
  quiet(): Promise<void> {
    return this.outstanding.size === 0 ? Promise.resolve() : new Promise((resolve) => this.#quiet.push(resolve));
  }

  #settle(): void {
    if (this.outstanding.size === 0) for (const q of this.#quiet.splice(0)) q();
  }

  /** Nothing invented, towards the CPs or the service, and the counts add up. */
  check(t: TestContext, extra = ''): void {
    assert.deepEqual(this.wrong, []);
    assert.equal(this.sent, this.results + this.errors + this.cutOff, `sent ${this.sent} = results ${this.results} + errors ${this.errors} + cut off by a close ${this.cutOff}`);
    // The service may have seen more CALLs than got results (its answer was lost with the broker or
    // the socket: the charge point got a time-out), but every CALL it saw is one a charge point sent.
    assert.ok(this.serviceSaw.size >= this.results);
    assert.deepEqual([...this.serviceSaw.keys()].filter((k) => !this.sentKeys.has(k)), []);
    t.diagnostic(`sent ${this.sent}, results ${this.results} (after restart ${this.afterRestart}), errors ${this.errors}, cut off ${this.cutOff}, service saw ${this.serviceSaw.size}${extra}`);
  }
}

test('broker killed and restarted under load: the ledger of CALLs adds up, no answer is invented', { timeout: 60_000 }, async (t) => {
  const mosq = await startMosquitto(t);
  const { gw, ocppUrl } = await startTestGateway(t, settings(mosq.url, 'shared'));
  const ledger = new Ledger(await echoService(t, mosq.url));

  // 100 charge points, each with one DataTransfer outstanding at a time.
  let running = true;
  await Promise.all(Array.from({ length: 100 }, (_, i) => new Promise<void>((resolve, reject) => {
    const cpId = `L${i}`;
    const ws = new WebSocket(`${ocppUrl}/${cpId}`, ['ocpp1.6']);
    defer(t, () => ws.terminate());
    let seq = 0;
    ws.on('message', (raw) => {
      ledger.answer(cpId, String(raw));
      if (running) ws.send(ledger.call(cpId, ++seq));
    });
    ws.once('open', () => { ws.send(ledger.call(cpId, ++seq)); resolve(); });
    ws.once('error', reject);
  })));

  await ledger.reached(() => ledger.results, 500);
  mosq.stop(); // mid-traffic
  await gw.brokerState(false);
  await ledger.reached(() => ledger.errors, ledger.errors + 100);
  await startMosquitto(t, '', mosq.port);
  await gw.brokerState(true);
  ledger.restarted = true;
  await ledger.reached(() => ledger.results, ledger.results + 500);
  assert.ok(ledger.afterRestart >= 500, 'traffic flows again after the restart');

  // Quiesce: no new CALLs; every outstanding one gets its answer or its time-out (awaiting_timeout 2 s).
  running = false;
  await ledger.quiet();
  ledger.check(t);
  assert.equal(ledger.cutOff, 0, 'no socket closed: the charge points stayed connected through the outage');
  assert.ok(ledger.errors >= 100, 'CALLs during the outage were refused, not left hanging');
});

test('per_client: broker killed and restarted under load: every CP is closed and comes back; the ledger adds up, no answer is invented', { timeout: 60_000 }, async (t) => {
  const mosq = await startMosquitto(t);
  const { gw, ocppUrl } = await startTestGateway(t, settings(mosq.url, 'per_client'));
  const ledger = new Ledger(await echoService(t, mosq.url));

  // Each CP keeps one DataTransfer outstanding; when its socket closes, what was outstanding is cut off
  // and it reconnects once the gateway is ready again. Message ids keep counting across connections,
  // so a late answer cannot pass as a new one.
  const closes: string[] = [];
  let running = true;
  const sockets = new Set<WebSocket>();
  defer(t, () => { running = false; for (const ws of sockets) ws.terminate(); });
  const startCp = (cpId: string): Promise<void> => new Promise<void>((resolve, reject) => {
    let seq = 0;
    const connect = (first: boolean): void => {
      const ws = new WebSocket(`${ocppUrl}/${cpId}`, ['ocpp1.6']);
      sockets.add(ws);
      const again = () => { if (running) void gw.brokerState(true).then(() => connect(false)); };
      ws.on('message', (raw) => {
        ledger.answer(cpId, String(raw));
        if (running) ws.send(ledger.call(cpId, ++seq));
      });
      ws.once('open', () => { ws.send(ledger.call(cpId, ++seq)); if (first) resolve(); });
      ws.once('unexpected-response', () => {
        // Refused while the broker is away (503 not_ready): try again once the gateway is ready.
        sockets.delete(ws);
        ws.terminate();
        again();
      });
      ws.once('close', (code, reason) => {
        if (!sockets.delete(ws)) return;
        closes.push(`${code} ${reason.toString()}`);
        ledger.cut(cpId);
        again();
      });
      ws.once('error', (err) => { if (first) reject(err); });
    };
    connect(true);
  });
  await Promise.all(Array.from({ length: 100 }, (_, i) => startCp(`L${i}`)));

  await ledger.reached(() => ledger.results, 500);
  mosq.stop(); // mid-traffic: every charge point's own link drops
  await gw.brokerState(false);
  await ledger.reached(() => closes.length, 100);
  await startMosquitto(t, '', mosq.port);
  await gw.brokerState(true);
  ledger.restarted = true;
  await ledger.reached(() => ledger.results, ledger.results + 500);
  assert.ok(ledger.afterRestart >= 500, 'the charge points came back and traffic flows again');

  running = false;
  await ledger.quiet();
  ledger.check(t, `, closes ${closes.length}`);
  assert.ok(closes.slice(0, 100).every((c) => c === '1013 broker_disconnected'), `closes: ${[...new Set(closes)].join(', ')}`);
});
