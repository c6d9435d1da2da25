// "Never lose or fake a message": 100 charge points keep one CALL outstanding each while the external
// broker is killed mid-traffic and restarted, in both client modes. Afterwards every CALL is accounted
// for. [SPEC §5, §7]
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

test('per_client: broker killed and restarted under load: every CP is closed and comes back; the ledger adds up, no answer is invented', { timeout: 60_000 }, async (t) => {
  const mosq = await startMosquitto(t);
  const { gw, ocppUrl } = await startTestGateway(t, { 'mqtt.url': mosq.url, 'mqtt.client_mode': 'per_client', 'mqtt.reconnect_period': '100ms', 'mqtt.reconnect_max': '300ms', 'upstream.awaiting_timeout': '2s', 'ocpp.max_connections_per_address': 1000 });

  const serviceSaw = new Map<string, string>();
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

  // Each CP keeps one DataTransfer outstanding; when its socket closes, what was outstanding is
  // counted as cut off (the CP sees no answer, as with a time-out) and it reconnects once the gateway
  // is ready again. Message ids keep counting across connections, so a late answer cannot pass as new.
  const ledger = { sent: 0, results: 0, errors: 0, cutOff: 0, closes: [] as string[], wrong: [] as string[], afterRestart: 0 };
  const outstanding = new Map<string, string>();
  const sentKeys = new Set<string>();
  const answered = new Set<string>();
  let restarted = false;
  let running = true;
  const quiet: Array<() => void> = [];
  const settle = () => { if (outstanding.size === 0) for (const q of quiet.splice(0)) q(); };
  const sockets = new Set<WebSocket>();
  const startCp = (cpId: string): Promise<void> => new Promise<void>((resolve, reject) => {
    let seq = 0;
    const connect = (first: boolean): void => {
      const ws = new WebSocket(`${ocppUrl}/${cpId}`, ['ocpp1.6']);
      sockets.add(ws);
      const send = () => {
        const id = `${++seq}`;
        const data = `${cpId}-${seq}`;
        outstanding.set(`${cpId}/${id}`, data);
        sentKeys.add(`${cpId}/${id}`);
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
          if ((third as { data?: string }).data !== `echo:${data}` || serviceSaw.get(key) !== data) ledger.wrong.push(`invented or crossed result for ${key}`);
        } else if (type === 4) ledger.errors++;
        else ledger.wrong.push(`frame type ${type}`);
        if (running) send();
        else settle();
      });
      ws.once('open', () => { send(); if (first) resolve(); });
      ws.once('unexpected-response', () => {
        // Refused while the broker is away (503 not_ready): try again once the gateway is ready.
        sockets.delete(ws);
        ws.terminate();
        if (running) void gw.brokerState(true).then(() => connect(false));
      });
      ws.once('close', (code, reason) => {
        if (!sockets.delete(ws)) return;
        ledger.closes.push(`${code} ${reason.toString()}`);
        for (const key of [...outstanding.keys()]) {
          if (key.startsWith(`${cpId}/`)) {
            outstanding.delete(key);
            ledger.cutOff++;
          }
        }
        settle();
        if (running) void gw.brokerState(true).then(() => connect(false));
      });
      ws.once('error', (err) => { if (first) reject(err); });
    };
    connect(true);
  });
  defer(t, () => { running = false; for (const ws of sockets) ws.terminate(); });
  await Promise.all(Array.from({ length: 100 }, (_, i) => startCp(`L${i}`)));

  const resultsAt = (n: number) => new Promise<void>((resolve) => {
    const check = () => (ledger.results >= n ? resolve() : setImmediate(check));
    check();
  });
  await resultsAt(500);
  mosq.stop(); // mid-traffic: every charge point's own link drops
  await gw.brokerState(false);
  await new Promise<void>((resolve) => { const check = () => (ledger.closes.length >= 100 ? resolve() : setImmediate(check)); check(); });
  await startMosquitto(t, '', mosq.port);
  await gw.brokerState(true);
  restarted = true;
  await resultsAt(ledger.results + 500);
  assert.ok(ledger.afterRestart >= 500, 'the charge points came back and traffic flows again');

  running = false;
  if (outstanding.size > 0) await new Promise<void>((resolve) => quiet.push(resolve));

  assert.deepEqual(ledger.wrong, []);
  assert.equal(ledger.sent, ledger.results + ledger.errors + ledger.cutOff, `sent ${ledger.sent} = results ${ledger.results} + errors ${ledger.errors} + cut off by the close ${ledger.cutOff}`);
  assert.ok(ledger.closes.slice(0, 100).every((c) => c === '1013 broker_disconnected'), `closes: ${[...new Set(ledger.closes)].join(', ')}`);
  assert.ok(serviceSaw.size >= ledger.results);
  // Nothing invented towards the service either: every CALL it saw is one a charge point sent.
  assert.deepEqual([...serviceSaw.keys()].filter((k) => !sentKeys.has(k)), []);
  t.diagnostic(`sent ${ledger.sent}, results ${ledger.results} (after restart ${ledger.afterRestart}), errors ${ledger.errors}, cut off ${ledger.cutOff}, closes ${ledger.closes.length}, service saw ${serviceSaw.size}`);
});
