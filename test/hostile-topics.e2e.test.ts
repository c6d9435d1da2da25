// Hostile topic material against real brokers: actions and messageIds with every character class a
// broker may drop a client for (C0/C1 controls, DEL, non-characters, lone surrogates) and `/ + # %`,
// hostile cpIds at the door, and publishes the broker refuses. The shared connection survives all of
// it, and a good charge point's heartbeats keep being answered. [SPEC §3, §4, §7]
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../src/config/load.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { decodeLevel } from '../src/bridge/topics.js';
import { ExternalBroker } from '../src/bridge/external-broker.js';
import { PublishRefused } from '../src/bridge/broker.js';
import { chargePoint, EPHEMERAL, rawSocket, Service, until, upgradeStatus, within } from './support/harness.js';
import { findBinary, startMosquitto, startNats, startRabbitMq } from './support/brokers.js';
import { defer } from './support/cleanup.js';

/** [raw, as the gateway must write it in a topic level]: every class the encoder must handle. */
const CLASSES: Array<[string, string]> = [
  ['\u0000', '%00'], ['\u0001', '%01'], ['\u001f', '%1F'], ['\u007f', '%7F'], ['\u0080', '%C2%80'], ['\u009f', '%C2%9F'],
  ['\ufdd0', '%EF%B7%90'], ['\ufdef', '%EF%B7%AF'], ['\ufffe', '%EF%BF%BE'], ['\uffff', '%EF%BF%BF'], ['\u{1fffe}', '%F0%9F%BF%BE'],
  ['\ud800', '%ED%A0%80'], ['x', 'x'], ['\udfff', '%ED%BF%BF'], ['/', '%2F'], ['+', '%2B'], ['#', '%23'], ['%', '%25'], ['é', 'é'],
];
const HOSTILE_ID = CLASSES.map(([raw]) => raw).join(''); // 20 UTF-16 units: within OCPP's 36
const HOSTILE_ID_LEVEL = CLASSES.map(([, enc]) => enc).join('');
const HOSTILE_ACTION = `Act${HOSTILE_ID}\u{10ffff}`;
const HOSTILE_ACTION_LEVEL = `Act${HOSTILE_ID_LEVEL}%F4%8F%BF%BF`;

/** cpIds the door must refuse (percent-encoded path segments). */
const HOSTILE_CP_IDS = ['%01', 'a%1Fb', '%7F', '%C2%85', '%EF%B7%90', '%EF%BF%BE', '%F0%9F%BF%BF', '%ED%A0%80', 'a%2Fb', '%23', '%00'];

interface LoggedGateway { gw: Gateway; ocppUrl: string; logs: Array<{ msg?: string; reason?: string; topic?: string }> }

/** A gateway on ephemeral ports whose log lines (info and up) the test reads. */
async function startLoggedGateway(t: TestContext, settings: Record<string, unknown>): Promise<LoggedGateway> {
  const loaded = loadConfig({ overrides: [...EPHEMERAL, ...Object.entries(settings)] });
  if (!loaded.ok) throw new Error(loaded.errors.join('; '));
  const logs: LoggedGateway['logs'] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => { logs.push(JSON.parse(line) as LoggedGateway['logs'][number]); } });
  const gw = await startGateway({ config: loaded.config, log });
  defer(t, () => gw.close());
  return { gw, ocppUrl: `ws://127.0.0.1:${gw.addresses.ocpp?.port ?? 0}${loaded.config.ocpp.path}`, logs };
}

/** The status of an upgrade to a raw path (no URL normalisation: "/ocpp/.." stays as it is). */
function rawUpgradeStatus(ocppUrl: string, path: string): Promise<number> {
  const u = new URL(ocppUrl);
  return within(new Promise<number>((resolve, reject) => {
    const req = request({
      host: u.hostname, port: u.port, path,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-protocol': 'ocpp1.6' },
    });
    req.on('upgrade', (_res, socket) => { socket.destroy(); resolve(101); });
    req.on('response', (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('error', reject);
    req.end();
  }), `the upgrade of ${path}`);
}

/**
 * A service answering every Heartbeat of `cpId`, and that charge point calling Heartbeat in a loop.
 * A failed call is counted and the loop goes on, paced by a short timer (a call failing at once must
 * not spin the loop). stop() ends the loop.
 */
async function heartbeats(t: TestContext, brokerUrl: string, ocppUrl: string, cpId: string, mqtt5 = false) {
  const svc = await Service.connect(t, brokerUrl, [`ocpp/${cpId}/up/request/Heartbeat/+`], mqtt5 ? { protocolVersion: 5 } : {});
  svc.client.on('message', (topic) => {
    const id = topic.slice(topic.lastIndexOf('/') + 1);
    void svc.publish(`ocpp/${cpId}/dn/response/Heartbeat/${id}`, { currentTime: new Date().toISOString() });
  });
  const cp = await chargePoint(t, ocppUrl, cpId, { callTimeoutMs: 2000 });
  const state = { ok: 0, failed: 0, running: true };
  const loop = (async () => {
    while (state.running) {
      try {
        await within(cp.call('Heartbeat', {}), 'a good Heartbeat round trip', 10_000);
        state.ok++;
        await new Promise((r) => setImmediate(r));
      } catch {
        state.failed++;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  })();
  const more = (n: number, what: string) => {
    const from = state.ok;
    return until(() => state.ok >= from + n, `${n} more good heartbeats answered ${what}`, 20_000);
  };
  const stop = async () => {
    state.running = false;
    await within(loop, 'the heartbeat loop to end');
  };
  defer(t, stop);
  await more(3, 'at the start');
  return { state, more, stop };
}

async function hostileRoundTrip(t: TestContext, brokerUrl: string, ocppUrl: string, mqtt5: boolean): Promise<void> {
  const svc = await Service.connect(t, brokerUrl, ['ocpp/EVIL-CP/up/#'], mqtt5 ? { protocolVersion: 5 } : {});
  const cp = await rawSocket(t, `${ocppUrl}/EVIL-CP`);
  cp.send(JSON.stringify([2, HOSTILE_ID, HOSTILE_ACTION, { data: HOSTILE_ID }]));
  const up = await svc.waitFor((m) => m.topic.startsWith('ocpp/EVIL-CP/up/request/'));
  assert.equal(up.topic, `ocpp/EVIL-CP/up/request/${HOSTILE_ACTION_LEVEL}/${HOSTILE_ID_LEVEL}`);
  const [action, id] = up.topic.split('/').slice(4).map((level) => decodeLevel(level));
  assert.equal(action, HOSTILE_ACTION);
  assert.equal(id, HOSTILE_ID);
  assert.deepEqual(up.json, { data: HOSTILE_ID });
  await svc.publish(`ocpp/EVIL-CP/dn/response/${HOSTILE_ACTION_LEVEL}/${HOSTILE_ID_LEVEL}`, { answer: HOSTILE_ID });
  assert.deepEqual(await cp.next(), [3, HOSTILE_ID, { answer: HOSTILE_ID }]);
  // And a service CALL whose action and messageId carry the same classes, answered by the charge point.
  await svc.publish(`ocpp/EVIL-CP/dn/request/${HOSTILE_ACTION_LEVEL}/${HOSTILE_ID_LEVEL}`, { q: 1 });
  assert.deepEqual(await cp.next(), [2, HOSTILE_ID, HOSTILE_ACTION, { q: 1 }]);
  cp.send(JSON.stringify([3, HOSTILE_ID, { a: 1 }]));
  const answer = await svc.waitFor(`ocpp/EVIL-CP/up/response/${HOSTILE_ACTION_LEVEL}/${HOSTILE_ID_LEVEL}`);
  assert.deepEqual(answer.json, { a: 1 });
}

async function hostileDoor(ocppUrl: string): Promise<void> {
  for (const segment of HOSTILE_CP_IDS) assert.deepEqual(await upgradeStatus(`${ocppUrl}/${segment}`, ['ocpp1.6']), { status: 400, reason: 'bad_cp_id' }, segment);
  // Dot-segments unnormalised, as a raw client sends them (a WHATWG URL would resolve them away).
  const path = new URL(ocppUrl).pathname;
  for (const segment of ['.', '..', '%2E', '%2e%2E', '.%2E']) assert.equal(await rawUpgradeStatus(ocppUrl, `${path}/${segment}`), 400, segment);
}

const brokers: Array<{ name: string; binary: string; start: (t: TestContext) => Promise<{ url: string }>; settings: Record<string, unknown> }> = [
  { name: 'mosquitto 3.1.1', binary: 'mosquitto', start: (t) => startMosquitto(t), settings: {} },
  { name: 'mosquitto 5', binary: 'mosquitto', start: (t) => startMosquitto(t), settings: { 'mqtt.protocol_version': '5' } },
  { name: 'nats', binary: 'nats-server', start: (t) => startNats(t), settings: {} },
  { name: 'rabbitmq', binary: 'rabbitmq-server', start: (t) => startRabbitMq(t), settings: {} },
];

for (const b of brokers) {
  test(`[SPEC §4] ${b.name}: hostile action/messageId round trips on encoded topics, hostile cpIds get 400, a good CP's heartbeats never stop`, { timeout: 60_000, skip: findBinary(b.binary) === undefined ? `${b.binary} is not installed` : false }, async (t) => {
    const broker = await b.start(t);
    const mqtt5 = b.settings['mqtt.protocol_version'] === '5';
    const { gw, ocppUrl } = await startLoggedGateway(t, { 'mqtt.url': broker.url, message_format_checking: 'disable', 'mqtt.reconnect_period': '100ms', 'mqtt.reconnect_max': '200ms', ...b.settings });
    let drops = 0;
    const good = await heartbeats(t, broker.url, ocppUrl, 'GOOD-1', mqtt5);
    gw.brokerState(false).then(() => drops++, () => undefined);
    await hostileRoundTrip(t, broker.url, ocppUrl, mqtt5);
    await good.more(3, 'after the hostile round trips');
    await hostileDoor(ocppUrl);
    await good.more(3, 'after the hostile upgrades');
    await good.stop();
    assert.equal(good.state.failed, 0, 'every good heartbeat was answered');
    assert.equal(drops, 0, 'the broker never dropped the gateway');
    assert.deepEqual((await gw.metrics.snapshot())['publishes_refused_total'] ?? {}, {});
  });
}

test('[SPEC §3, §4] a cpId with "+" works end to end with the embedded broker: dn filter, presence, events, API', { timeout: 30_000 }, async (t) => {
  const { gw, ocppUrl } = await startLoggedGateway(t, {});
  const mqttUrl = `mqtt://127.0.0.1:${gw.addresses.mqtt?.port ?? 0}`;
  const svc = await Service.connect(t, mqttUrl, ['ocpp/#']);
  svc.client.on('message', (topic) => {
    const m = /^ocpp\/CP%2B1\/up\/request\/Heartbeat\/(.+)$/.exec(topic);
    if (m) void svc.publish(`ocpp/CP%2B1/dn/response/Heartbeat/${m[1] as string}`, { currentTime: new Date().toISOString() });
  });
  const cp = await chargePoint(t, ocppUrl, 'CP+1');
  cp.handle('Reset', async () => ({ status: 'Accepted' }));
  assert.equal((await svc.waitFor('ocpp/CP%2B1/event/connected')).topic, 'ocpp/CP%2B1/event/connected');
  assert.equal(((await svc.waitFor('ocpp/CP%2B1/status')).json as { online: boolean }).online, true);
  assert.ok(((await within(cp.call('Heartbeat', {}), 'the Heartbeat of CP+1')) as { currentTime?: string }).currentTime);
  await svc.publish('ocpp/CP%2B1/dn/request/Reset/r1', { type: 'Soft' });
  assert.deepEqual((await svc.waitFor('ocpp/CP%2B1/up/response/Reset/r1')).json, { status: 'Accepted' });
  const api = gw.api;
  assert.ok(api);
  assert.equal((await api.inject('/api/v1/clients/CP%2B1')).statusCode, 200);
  const call = await api.inject({ method: 'POST', url: '/api/v1/clients/CP%2B1/calls', payload: { action: 'Reset', payload: { type: 'Soft' } } });
  assert.equal(call.statusCode, 200);
  assert.equal((await api.inject({ method: 'DELETE', url: '/api/v1/clients/CP%2B1' })).statusCode, 204);
  assert.equal(((await svc.waitFor('ocpp/CP%2B1/event/disconnected')).json as { reason: string }).reason, 'kicked');
});

/** Mosquitto configured so that one publish from the gateway is refused: too big, or (MQTT 5) denied by ACL. */
async function refusingMosquitto(t: TestContext, kind: 'too_big' | 'acl') {
  if (kind === 'too_big') return startMosquitto(t, 'max_packet_size 4096\n');
  const dir = mkdtempSync(join(tmpdir(), 'ocpp-gw-acl-'));
  const acl = join(dir, 'acl');
  writeFileSync(acl, 'topic readwrite #\ntopic deny ocpp/+/up/request/DataTransfer/#\n', { mode: 0o644 });
  chmodSync(dir, 0o755); // Mosquitto started as root reads the ACL file after dropping to its own user
  const mosq = await startMosquitto(t, `acl_file ${acl}\n`);
  defer(t, () => rmSync(dir, { recursive: true, force: true }));
  return mosq;
}

for (const [version, kind, mode] of [['3.1.1', 'too_big', 'shared'], ['5', 'too_big', 'shared'], ['3.1.1', 'too_big', 'per_client'], ['5', 'too_big', 'per_client persistent'], ['5', 'acl', 'shared'], ['5', 'acl', 'per_client']] as const) {
  const reason = kind === 'acl' ? 'puback_0x87' : 'connection_dropped';
  test(`[SPEC §4] mosquitto ${version} ${mode}: a publish the broker refuses (${kind === 'acl' ? 'PUBACK 0x87' : 'over max_packet_size'}) is dropped, counted, logged once; the good CP keeps its heartbeats`, { timeout: 60_000, skip: findBinary('mosquitto') === undefined }, async (t) => {
    const mosq = await refusingMosquitto(t, kind);
    const { gw, ocppUrl, logs } = await startLoggedGateway(t, {
      'mqtt.url': mosq.url, 'mqtt.protocol_version': version, 'mqtt.client_mode': mode === 'shared' ? 'shared' : 'per_client', 'mqtt.per_client.persistent_session': mode === 'per_client persistent', message_format_checking: 'disable',
      'mqtt.reconnect_period': '100ms', 'mqtt.reconnect_max': '200ms',
    });
    const good = await heartbeats(t, mosq.url, ocppUrl, 'GOOD-1', version === '5');
    const bad = await rawSocket(t, `${ocppUrl}/BAD-1`);
    bad.send(JSON.stringify([2, 'refused-1', 'DataTransfer', { vendorId: 'v', data: 'A'.repeat(kind === 'too_big' ? 8000 : 10) }]));
    // The charge point is not told its CALL was delivered: a CALLERROR (never a CALLRESULT); in
    // per_client mode the broker drops the charge point's own link, and the gateway closes it.
    const dropsLink = kind === 'too_big' && mode !== 'shared';
    const answer = dropsLink ? await bad.closedWithin(20_000) : ((await bad.next(20_000)) as unknown[]);
    if (Array.isArray(answer)) assert.deepEqual(answer.slice(0, 2), [4, 'refused-1']);
    await until(async () => ((await gw.metrics.snapshot())['publishes_refused_total'] as Record<string, number> | undefined)?.[reason] === 1, `the refusal counted as ${reason}`);
    await good.more(5, 'after the refusal');
    // Once: no further refusal, one log line.
    if (!dropsLink) bad.send(JSON.stringify([2, 'fine-1', 'Heartbeat', {}]));
    await good.more(3, 'after a good CALL from the same charge point');
    await good.stop();
    assert.deepEqual((await gw.metrics.snapshot())['publishes_refused_total'], { [reason]: 1 });
    const lines = logs.filter((l) => l.msg === 'mqtt.publish_refused');
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.equal(lines[0]?.reason, reason);
    assert.equal(lines[0]?.topic, 'ocpp/BAD-1/up/request/DataTransfer/refused-1');
    if (kind === 'acl') assert.equal(good.state.failed, 0, 'a PUBACK refusal does not touch the connection');
    assert.equal(gw.ready().ready, true);
  });
}

for (const version of [4, 5] as const) {
  test(`[SPEC §4] mosquitto ${version === 4 ? '3.1.1' : '5'}: the broker port drops a raw topic Mosquitto disconnects for (\\x01): PublishRefused once, then the connection carries the next publish`, { timeout: 30_000, skip: findBinary('mosquitto') === undefined }, async (t) => {
    const mosq = await startMosquitto(t);
    const port = await ExternalBroker.start({
      url: mosq.url, qos: 1, keepaliveMs: 30_000, protocolVersion: version, tls: { rejectUnauthorized: true }, clientId: '', username: '', password: '',
      reconnectPeriodMs: 50, reconnectMaxMs: 200, reconnectJitter: 0, connectTimeoutMs: 5000,
    });
    defer(t, () => port.close(100));
    const reported: PublishRefused[] = [];
    port.onPublishRefused((r) => reported.push(r));
    const svc = await Service.connect(t, mosq.url, ['ocpp/#']);
    // Not through the encoder: the port itself must survive what the broker refuses.
    const refused = await within(port.publish('ocpp/x\u0001y/event/rejected', '{}').then(() => undefined, (err: unknown) => err), 'the refused publish to fail');
    assert.ok(refused instanceof PublishRefused, String(refused));
    assert.equal(refused.reason, 'connection_dropped');
    await within(port.publish('ocpp/after/status', '{"ok":true}'), 'the next publish to be acknowledged');
    assert.deepEqual((await svc.waitFor('ocpp/after/status')).json, { ok: true });
    assert.equal(reported.length, 1);
    assert.equal(reported[0], refused);
    assert.equal(port.isConnected(), true);
  });
}

test('[SPEC §4, §6] mosquitto shared, validation off: a 70,000-character action is a malformed frame; a topic over 65,535 bytes is refused before MQTT.js (which threw and never recovered); the good CP keeps its heartbeats', { timeout: 60_000, skip: findBinary('mosquitto') === undefined }, async (t) => {
  const mosq = await startMosquitto(t);
  const { gw, ocppUrl } = await startLoggedGateway(t, { 'mqtt.url': mosq.url, message_format_checking: 'disable' });
  const good = await heartbeats(t, mosq.url, ocppUrl, 'GOOD-LONG');
  const bad = await rawSocket(t, `${ocppUrl}/BAD-LONG`);
  for (const action of ['A'.repeat(70_000), 'é'.repeat(33_000), 'A'.repeat(65)]) {
    bad.send(JSON.stringify([2, 'L1', action, {}]));
    assert.deepEqual(((await bad.next()) as unknown[]).slice(0, 3), [4, 'L1', 'FormationViolation']);
  }
  bad.send(JSON.stringify([2, 'L2', 'A'.repeat(64), {}]));
  await good.more(3, 'after the long actions');
  // Defence in depth: whatever renders a topic beyond MQTT's bound, the bridge refuses it itself.
  await assert.rejects(gw.bridge.publishEvent('X'.repeat(70_000), 'rejected', {}), (err: Error) => err.name === 'PublishRefused');
  assert.deepEqual((await gw.metrics.snapshot())['publishes_refused_total'], { topic_too_long: 1 });
  await good.more(5, 'after the refused topic');
  assert.equal(good.state.failed, 0);
});
