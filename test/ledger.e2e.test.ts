// "Never lose or fake a message": 100 charge points keep one CALL outstanding each while the external
// broker is killed mid-traffic and restarted. Afterwards every CALL is accounted for. [SPEC §5, §7]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { startTestGateway } from './support/harness.js';
import { startMosquitto } from './support/brokers.js';
import { defer } from './support/cleanup.js';

test('broker killed and restarted under load: the ledger of CALLs adds up, no answer is invented', { timeout: 60_000 }, async (t) => {
  const mosq = await startMosquitto(t);
  const { gw, ocppUrl } = await startTestGateway(t, { 'mqtt.url': mosq.url, 'mqtt.reconnect_period': '100ms', 'mqtt.reconnect_max': '300ms', 'upstream.awaiting_timeout': '2s', 'ocpp.max_connections_per_address': 1000 });

  // The service: answers every CALL with a payload derived from the CALL, and remembers what it saw.
  const serviceSaw = new Map<string, string>(); // `${cpId}/${id}` -> the data it answered with
  const svc = mqtt.connect(mosq.url, { reconnectPeriod: 100, clean: true });
  defer(t, () => svc.endAsync(true));
  await new Promise<void>((resolve) => svc.once('connect', () => resolve()));
  svc.on('message', (topic, payload) => {
    const [, cpId, , , action, id] = topic.split('/') as string[];
    const data = (JSON.parse(payload.toString()) as { data: string }).data;
    serviceSaw.set(`${cpId}/${id}`, data);
    svc.publish(`ocpp/${cpId}/dn/response/${action}/${id}`, JSON.stringify({ status: 'Accepted', data: `echo:${data}` }), { qos: 1 });
  });
  await svc.subscribeAsync('ocpp/+/up/request/#', { qos: 1 });

  // 100 charge points, each with one DataTransfer outstanding at a time.
  const ledger = { sent: 0, results: 0, errors: 0, wrong: [] as string[], afterRestart: 0 };
  const answered = new Set<string>();
  let restarted = false;
  let running = true;
  const outstanding = new Map<string, string>(); // `${cpId}/${id}` -> data
  const settled: Array<() => void> = [];
  const cps = await Promise.all(Array.from({ length: 100 }, (_, i) => new Promise<WebSocket>((resolve, reject) => {
    const cpId = `L${i}`;
    const ws = new WebSocket(`${ocppUrl}/${cpId}`, ['ocpp1.6']);
    defer(t, () => ws.terminate());
    let seq = 0;
    const send = () => {
      const id = `${++seq}`;
      const data = `${cpId}-${seq}`;
      outstanding.set(`${cpId}/${id}`, data);
      ledger.sent++;
      ws.send(JSON.stringify([2, id, 'DataTransfer', { vendorId: 'ledger', data }]));
    };
    ws.on('message', (raw) => {
      const [type, id, third] = JSON.parse(String(raw)) as [number, string, unknown];
      const key = `${cpId}/${id}`;
      const data = outstanding.get(key);
      if (data === undefined || answered.has(key)) ledger.wrong.push(`unexpected answer ${key}`);
      answered.add(key);
      outstanding.delete(key);
      if (type === 3) {
        ledger.results++;
        if (restarted) ledger.afterRestart++;
        // The answer must be the one the service produced for this very CALL.
        if ((third as { data?: string }).data !== `echo:${data}` || serviceSaw.get(key) !== data) ledger.wrong.push(`invented or crossed result for ${key}`);
      } else if (type === 4) ledger.errors++;
      else ledger.wrong.push(`frame type ${type}`);
      if (running) send();
      else if (outstanding.size === 0) for (const s of settled.splice(0)) s();
    });
    ws.once('open', () => { send(); resolve(ws); });
    ws.once('error', reject);
  })));
  assert.equal(cps.length, 100);

  const resultsAt = (n: number) => new Promise<void>((resolve) => {
    const check = () => (ledger.results >= n ? resolve() : setImmediate(check));
    check();
  });
  await resultsAt(500);
  mosq.stop(); // mid-traffic
  await gw.brokerState(false);
  const errorsBefore = ledger.errors;
  await new Promise<void>((resolve) => { const check = () => (ledger.errors >= errorsBefore + 100 ? resolve() : setImmediate(check)); check(); });
  await startMosquitto(t, '', mosq.port);
  await gw.brokerState(true);
  restarted = true;
  await resultsAt(ledger.results + 500);
  assert.ok(ledger.afterRestart >= 500, 'traffic flows again after the restart');

  // Quiesce: no new CALLs; every outstanding one gets its answer or its time-out (awaiting_timeout 2 s).
  running = false;
  if (outstanding.size > 0) await new Promise<void>((resolve) => settled.push(resolve));

  assert.deepEqual(ledger.wrong, []);
  assert.equal(ledger.sent, ledger.results + ledger.errors, `sent ${ledger.sent} = results ${ledger.results} + errors ${ledger.errors}`);
  assert.ok(ledger.errors >= 100, 'CALLs during the outage were refused, not left hanging');
  // Every result a charge point got is one the service produced; the service may have seen more
  // CALLs than got results (its answer was lost with the broker: the charge point got a time-out).
  assert.ok(serviceSaw.size >= ledger.results);
  t.diagnostic(`sent ${ledger.sent}, results ${ledger.results} (after restart ${ledger.afterRestart}), errors ${ledger.errors}, service saw ${serviceSaw.size}`);
});
