// The charge point connection: upgrade refusals, authentication, malformed input, limits, keepalive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword } from '../src/auth/password-hash.js';
import { basic, chargePoint, rawSocket, Service, startTestGateway, upgradeStatus } from './support/harness.js';

const T = { timeout: 15_000 };

test('[SPEC §3] refusals at the upgrade: bad ids 400, outside the prefix 404 (no subprotocol in common is a 101 then a close: subprotocol.e2e)', T, async (t) => {
  const { ocppUrl, mqttUrl } = await startTestGateway(t);
  const svc = await Service.connect(t, mqttUrl, ['ocpp/+/event/rejected']);
  const base = ocppUrl.replace(/\/ocpp$/, '');
  const cases: Array<[string, string[] | undefined, number, string]> = [
    [`${ocppUrl}/`, ['ocpp1.6'], 400, 'bad_cp_id'],
    [`${ocppUrl}/${'x'.repeat(49)}`, ['ocpp1.6'], 400, 'bad_cp_id'],
    [`${ocppUrl}/a%2Fb`, ['ocpp1.6'], 400, 'bad_cp_id'],
    [`${ocppUrl}/a%01b`, ['ocpp1.6'], 400, 'bad_cp_id'],
    [`${ocppUrl}/a%23b`, ['ocpp1.6'], 400, 'bad_cp_id'],
    [`${ocppUrl}/a%00b`, ['ocpp1.6'], 400, 'bad_cp_id'],
    [`${ocppUrl}/%E0%A4%A`, ['ocpp1.6'], 400, 'bad_cp_id'],
    [`${base}/other/CP1`, ['ocpp1.6'], 404, 'path_not_found'],
  ];
  for (const [url, protocols, status, reason] of cases) {
    assert.deepEqual(await upgradeStatus(url, protocols), { status, reason }, url);
  }
  // A refusal with a known cpId is also an event for the service.
  assert.deepEqual(await upgradeStatus(`${ocppUrl}/CP1`, ['ocpp1.6'], { origin: 'https://elsewhere.example' }), { status: 403, reason: 'origin_not_allowed' });
  const ev = await svc.waitFor('ocpp/CP1/event/rejected');
  assert.equal((ev.json as { reason: string }).reason, 'origin_not_allowed');
  // 48 characters is the default maximum, and percent-decoded ids are fine.
  assert.equal((await upgradeStatus(`${ocppUrl}/${'y'.repeat(48)}`, ['ocpp1.6'])).status, 101);
  assert.equal((await upgradeStatus(`${ocppUrl}/site%201`, ['ocpp1.6'])).status, 101);
});

test('[SPEC §3] the gateway picks the first protocol in its own preference order and echoes it', T, async (t) => {
  const { ocppUrl } = await startTestGateway(t, { 'ocpp.protocols': 'ocpp2.0.1,ocpp1.6' });
  const raw = await rawSocket(t, `${ocppUrl}/CP1`, ['ocpp1.6', 'ocpp2.0.1']);
  assert.equal(raw.ws.protocol, 'ocpp2.0.1');
});

test('[SPEC §3] ocpp.default_protocol admits a client that offers no subprotocol', T, async (t) => {
  const { ocppUrl, mqttUrl } = await startTestGateway(t, { 'ocpp.default_protocol': 'ocpp1.6' });
  const svc = await Service.connect(t, mqttUrl);
  const raw = await rawSocket(t, `${ocppUrl}/CP1`, []);
  assert.equal(raw.ws.protocol, '');
  const ev = await svc.waitFor('ocpp/CP1/event/connected');
  assert.equal((ev.json as { protocol: string }).protocol, 'ocpp1.6');
});

test('[SPEC §8] auth.provider file: right password admitted, wrong or missing 401, username must be the cpId, binary passwords', T, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ocpp-gw-auth-'));
  const file = join(dir, 'credentials.yaml');
  const binary = Buffer.from([0x3a, 0x00, 0xff, 0x10, 0x3a]); // colons and non-UTF-8 bytes
  writeFileSync(file, `CP1: "${await hashPassword(Buffer.from('s3cret:with:colons'))}"\nCP2: "${await hashPassword(binary)}"\n`);
  const { ocppUrl } = await startTestGateway(t, { 'auth.provider': 'file', 'auth.file': file });
  const url = `${ocppUrl}/CP1`;
  assert.deepEqual(await upgradeStatus(url, ['ocpp1.6'], { authorization: basic('CP1', 's3cret:with:colons') }), { status: 101, reason: undefined });
  assert.deepEqual(await upgradeStatus(url, ['ocpp1.6'], { authorization: basic('CP1', 'wrong') }), { status: 401, reason: 'unauthorized' });
  assert.deepEqual(await upgradeStatus(url, ['ocpp1.6']), { status: 401, reason: 'unauthorized' });
  assert.deepEqual(await upgradeStatus(url, ['ocpp1.6'], { authorization: basic('CP2', 's3cret:with:colons') }), { status: 401, reason: 'unauthorized' });
  assert.deepEqual(await upgradeStatus(url, ['ocpp1.6'], { authorization: 'Basic not-base64!' }), { status: 401, reason: 'unauthorized' });
  assert.deepEqual(await upgradeStatus(`${ocppUrl}/CP2`, ['ocpp1.6'], { authorization: basic('CP2', binary) }), { status: 101, reason: undefined });
  assert.deepEqual(await upgradeStatus(`${ocppUrl}/CP3`, ['ocpp1.6'], { authorization: basic('CP3', 'x') }), { status: 401, reason: 'unauthorized' });
  // ocpp-rpc sends Basic with username = identity.
  const cp = await chargePoint(t, ocppUrl, 'CP1', { password: 's3cret:with:colons' });
  assert.equal(cp.protocol, 'ocpp1.6');
});

test('[SPEC §6] malformed frames get the documented CALLERROR and the connection stays up', T, async (t) => {
  const { ocppUrl, mqttUrl } = await startTestGateway(t);
  const svc = await Service.connect(t, mqttUrl);
  const raw = await rawSocket(t, `${ocppUrl}/CP1`);
  const cases: Array<[string, string]> = [
    ['{not json', '-1'],
    ['{"a":1}', '-1'],
    ['[2,"m1","Heartbeat"]', 'm1'],
    ['[2,42,"Heartbeat",{}]', '-1'],
    ['[2,"m3","Heartbeat",[]]', 'm3'],
  ];
  for (const [text, id] of cases) {
    raw.send(text);
    const reply = (await raw.next()) as unknown[];
    assert.deepEqual([reply[0], reply[1], reply[2]], [4, id, 'FormationViolation'], text);
  }
  // A malformed CALLRESULT gets no CALLERROR back, nor (on 1.6) an unknown MessageTypeId [OCPP-J 1.6
  // §4.1.3]: the next frame the CP sees answers its Heartbeat.
  raw.send('[9,"m2","Heartbeat",{}]');
  raw.send('[3,"x",1]');
  raw.send('[2,"hb","Heartbeat",{}]');
  await svc.waitFor('ocpp/CP1/up/request/Heartbeat/hb');
  await svc.publish('ocpp/CP1/dn/response/Heartbeat/hb', { currentTime: '2026-11-23T00:00:00Z' });
  assert.deepEqual(await raw.next(), [3, 'hb', { currentTime: '2026-11-23T00:00:00Z' }]);
  // Nothing malformed was published as a request; each was reported.
  assert.deepEqual(svc.topics('ocpp/CP1/up/'), ['ocpp/CP1/up/request/Heartbeat/hb']);
  const rejected = svc.received.filter((m) => m.topic === 'ocpp/CP1/event/rejected').map((m) => (m.json as { reason: string }).reason);
  assert.deepEqual(rejected, Array(7).fill('malformed_frame'));
  assert.equal(raw.ws.readyState, raw.ws.OPEN);
});

test('[SPEC §6] too many bad messages close the connection with 1008', T, async (t) => {
  const { ocppUrl, mqttUrl } = await startTestGateway(t, { 'ocpp.max_bad_messages': 3 });
  const svc = await Service.connect(t, mqttUrl);
  const raw = await rawSocket(t, `${ocppUrl}/CP1`);
  for (let i = 0; i < 3; i++) raw.send('nope');
  assert.deepEqual(await raw.closed, { code: 1008, reason: 'too_many_bad_messages' });
  const ev = await svc.waitFor('ocpp/CP1/event/disconnected');
  assert.equal((ev.json as { reason: string }).reason, 'too_many_bad_messages');
});

test('[SPEC §6] a binary frame closes with 1003', T, async (t) => {
  const { ocppUrl } = await startTestGateway(t);
  const raw = await rawSocket(t, `${ocppUrl}/CP1`);
  raw.send(Buffer.from('[2,"a","Heartbeat",{}]'), true);
  assert.deepEqual(await raw.closed, { code: 1003, reason: 'binary_frame' });
});

test('[SPEC §3] a frame over ocpp.max_frame_size closes with 1009, and event/disconnected says 1009', T, async (t) => {
  const { ocppUrl, mqttUrl } = await startTestGateway(t, { 'ocpp.max_frame_size': '1KiB' });
  const svc = await Service.connect(t, mqttUrl);
  const raw = await rawSocket(t, `${ocppUrl}/CP1`);
  raw.send(JSON.stringify([2, 'big', 'DataTransfer', { vendorId: 'x', data: 'y'.repeat(2000) }]));
  const closed = await raw.closedWithin();
  assert.equal(closed.code, 1009);
  const ev = await svc.waitFor('ocpp/CP1/event/disconnected');
  // The code the CP got, not the 1006 ws reports for a socket whose close answer it no longer reads.
  assert.deepEqual(pick(ev.json, 'reason', 'code'), { reason: 'frame_too_large', code: 1009 });
  assert.deepEqual(svc.topics('ocpp/CP1/up/'), []);
});

test('[SPEC §3] [RFC 6455 §8.1] a text frame that is not UTF-8 closes with 1007, and event/disconnected says 1007', T, async (t) => {
  const { ocppUrl, mqttUrl } = await startTestGateway(t);
  const svc = await Service.connect(t, mqttUrl);
  const raw = await rawSocket(t, `${ocppUrl}/CP1`);
  raw.send(Buffer.from([0x5b, 0x32, 0x2c, 0x22, 0xff, 0xfe, 0x22, 0x5d]), false); // [2,"<0xff 0xfe>"] as a text frame
  assert.equal((await raw.closedWithin()).code, 1007);
  const ev = await svc.waitFor('ocpp/CP1/event/disconnected');
  assert.deepEqual(pick(ev.json, 'reason', 'code'), { reason: 'invalid_utf8', code: 1007 });
  assert.deepEqual(svc.topics('ocpp/CP1/up/'), []);
});

function pick(json: unknown, ...keys: string[]): Record<string, unknown> {
  const o = json as Record<string, unknown>;
  return Object.fromEntries(keys.map((k) => [k, o[k]]));
}

test('[SPEC §3] a silent charge point is closed after the keepalive timeout; pongs keep it alive', T, async (t) => {
  const { ocppUrl, mqttUrl } = await startTestGateway(t, { 'ocpp.ws_ping_interval': '50ms', 'ocpp.keepalive_timeout': '300ms' });
  const svc = await Service.connect(t, mqttUrl);
  const silent = await rawSocket(t, `${ocppUrl}/SILENT`, ['ocpp1.6'], { autoPong: false });
  const alive = await rawSocket(t, `${ocppUrl}/ALIVE`);
  assert.deepEqual(await silent.closed, { code: 1000, reason: 'keepalive_timeout' });
  const ev = await svc.waitFor('ocpp/SILENT/event/disconnected');
  assert.equal((ev.json as { reason: string }).reason, 'keepalive_timeout');
  // ALIVE answered every ping: it is still connected after SILENT's timeout.
  assert.equal(alive.ws.readyState, alive.ws.OPEN);
  assert.deepEqual(svc.topics('ocpp/ALIVE/event/disconnected'), []);
});

test('[SPEC §3] ocpp.max_connections refuses with 503 beyond the limit', T, async (t) => {
  const { ocppUrl } = await startTestGateway(t, { 'ocpp.max_connections': 1 });
  await rawSocket(t, `${ocppUrl}/CP1`);
  assert.deepEqual(await upgradeStatus(`${ocppUrl}/CP2`, ['ocpp1.6']), { status: 503, reason: 'too_many_connections' });
  // The same cpId may still reconnect (it replaces itself).
  assert.equal((await upgradeStatus(`${ocppUrl}/CP1`, ['ocpp1.6'])).status, 101);
});
