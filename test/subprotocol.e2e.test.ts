// Subprotocol negotiation end to end: the gateway's order of preference, ocpp.default_protocol, and a
// client with no subprotocol in common, which OCPP-J wants answered with a completed handshake without
// Sec-WebSocket-Protocol and an immediate close, not an HTTP refusal. [SPEC §3]
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import WebSocket from 'ws';
import { hashPassword } from '../src/auth/password-hash.js';
import { loadConfig } from '../src/config/load.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { defer } from './support/cleanup.js';
import { basic, chargePoint, EPHEMERAL, rawSocket, Service, until, upgradeStatus, within } from './support/harness.js';

const T = { timeout: 30_000 };

interface LogLine {
  msg: string;
  cpId?: string;
  reason?: string;
  status?: number;
  code?: number;
  detail?: string;
}

/** A gateway on ephemeral ports whose info-level log lines the test can read. */
async function gatewayWithLog(t: TestContext, settings: Record<string, unknown> = {}): Promise<{ gw: Gateway; ocppUrl: string; mqttUrl: string; lines: LogLine[] }> {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as LogLine);
      cb();
    },
  });
  const loaded = loadConfig({ overrides: [...EPHEMERAL, ...Object.entries(settings)] });
  if (!loaded.ok) throw new Error(loaded.errors.join('; '));
  const gw = await startGateway({ config: loaded.config, log: pino({ level: 'info' }, sink) });
  defer(t, () => gw.close());
  return { gw, ocppUrl: `ws://127.0.0.1:${gw.addresses.ocpp?.port ?? 0}/ocpp`, mqttUrl: `mqtt://127.0.0.1:${gw.addresses.mqtt?.port ?? 0}`, lines };
}

interface Unagreed {
  status: number;
  /** Sec-WebSocket-Protocol of the 101, if any. */
  echoed: string | string[] | undefined;
  code: number;
  reason: string;
}

/**
 * A raw ws client offering `offer` (undefined: no Sec-WebSocket-Protocol at all), through to the close.
 * The offer goes in as a plain header: ws's own client would abort a 101 without a subprotocol itself,
 * before the gateway's close frame could be seen.
 */
function connectUnagreed(t: TestContext, url: string, offer: string | undefined, headers: Record<string, string> = {}): Promise<Unagreed> {
  return within(new Promise<Unagreed>((resolve, reject) => {
    const ws = new WebSocket(url, [], { headers: offer === undefined ? headers : { ...headers, 'Sec-WebSocket-Protocol': offer } });
    defer(t, () => ws.terminate());
    let upgrade: IncomingMessage | undefined;
    ws.once('upgrade', (res) => {
      upgrade = res;
    });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      reject(new Error(`HTTP ${res.statusCode} ${String(res.headers['x-ocpp-gateway-reason'])}`));
    });
    ws.once('error', reject);
    ws.once('close', (code, reason) => resolve({ status: upgrade?.statusCode ?? 0, echoed: upgrade?.headers['sec-websocket-protocol'], code, reason: reason.toString() }));
  }), `the upgrade and close of ${url}`);
}

const CLOSED_UNAGREED = { status: 101, echoed: undefined, code: 1002, reason: 'no_subprotocol' };

test('[OCPP-J 1.6 §3] [OCPP-J 2.0.1 §3.1] [OCPP-J 2.1 §3.1] [SPEC §3] no subprotocol in common: a 101 without Sec-WebSocket-Protocol, then close 1002 no_subprotocol; event/rejected, never connected', T, async (t) => {
  const { gw, ocppUrl, mqttUrl, lines } = await gatewayWithLog(t, { 'ocpp.max_connections_per_address': 1 });
  const svc = await Service.connect(t, mqttUrl, ['ocpp/#']);

  assert.deepEqual(await connectUnagreed(t, `${ocppUrl}/OFFERS9`, 'ocpp9'), CLOSED_UNAGREED);
  assert.deepEqual(await connectUnagreed(t, `${ocppUrl}/OFFERSNONE`, undefined), CLOSED_UNAGREED);

  const nine = (await svc.waitFor('ocpp/OFFERS9/event/rejected')).json as Record<string, unknown>;
  assert.deepEqual(nine, { cpId: 'OFFERS9', reason: 'no_subprotocol', status: 101, code: 1002, detail: 'none of the offered subprotocols ("ocpp9") is supported; supported: ocpp2.1, ocpp2.0.1, ocpp1.6' });
  const none = (await svc.waitFor('ocpp/OFFERSNONE/event/rejected')).json as Record<string, unknown>;
  assert.equal(none['detail'], 'no subprotocol was offered; supported: ocpp2.1, ocpp2.0.1, ocpp1.6');

  // Each held the address's one allowed connection only until it closed: a charge point from the same
  // address gets in (after the gateway has seen the close, which may trail the client's by a moment).
  await until(async () => (await upgradeStatus(`${ocppUrl}/PROBE`, ['ocpp1.6'])).status === 101, 'the address claims to be released');
  // A later charge point's event/connected: whatever the refused ones had published came before it.
  // (From another address: PROBE's claim may still be held.)
  await chargePoint(t, ocppUrl, 'GOOD', { localAddress: '127.0.0.4' });
  await svc.waitFor('ocpp/GOOD/event/connected');
  assert.deepEqual(svc.topics('ocpp/OFFERS9/'), ['ocpp/OFFERS9/event/rejected'], 'no event/connected, no status, no event/disconnected');
  assert.deepEqual(svc.topics('ocpp/OFFERSNONE/'), ['ocpp/OFFERSNONE/event/rejected']);
  assert.equal(gw.registry.get('OFFERS9'), undefined);
  assert.equal(gw.registry.get('OFFERSNONE'), undefined);

  const s = await gw.metrics.snapshot();
  assert.equal((s['upgrade_refusals_total'] as Record<string, number>)['no_subprotocol'], 2, JSON.stringify(s['upgrade_refusals_total']));
  const refused = lines.filter((l) => l.msg === 'cp.upgrade_refused' && l.reason === 'no_subprotocol');
  assert.deepEqual(refused.map((l) => [l.cpId, l.status, l.code]), [['OFFERS9', 101, 1002], ['OFFERSNONE', 101, 1002]]);
  assert.deepEqual(lines.filter((l) => (l.msg === 'cp.connected' || l.msg === 'cp.disconnected') && l.cpId?.startsWith('OFFERS') === true), []);
});

test('[SPEC §3] with ocpp.default_protocol an unacceptable offer is accepted as that version, not echoed', T, async (t) => {
  const { gw, ocppUrl, mqttUrl } = await gatewayWithLog(t, { 'ocpp.default_protocol': 'ocpp1.6' });
  const svc = await Service.connect(t, mqttUrl, ['ocpp/#']);
  const ws = new WebSocket(`${ocppUrl}/CP1`, [], { headers: { 'Sec-WebSocket-Protocol': 'ocpp9' } });
  defer(t, () => ws.terminate());
  const echoed = await within(new Promise<string | string[] | undefined>((resolve, reject) => {
    ws.once('upgrade', (res) => resolve(res.headers['sec-websocket-protocol']));
    ws.once('error', reject);
  }), 'the upgrade');
  assert.equal(echoed, undefined);
  const ev = (await svc.waitFor('ocpp/CP1/event/connected')).json as { protocol: string };
  assert.equal(ev.protocol, 'ocpp1.6');
  assert.equal(gw.registry.get('CP1')?.protocol, 'ocpp1.6');
  assert.deepEqual(svc.topics('ocpp/CP1/event/rejected'), []);
});

test('[SPEC §3] the gateway\'s order of preference decides, not the client\'s', T, async (t) => {
  const byDefault = await gatewayWithLog(t);
  assert.equal((await rawSocket(t, `${byDefault.ocppUrl}/ALL`, ['ocpp1.6', 'ocpp2.0.1', 'ocpp2.1'])).ws.protocol, 'ocpp2.1');
  assert.equal((await rawSocket(t, `${byDefault.ocppUrl}/OLD`, ['ocpp1.6'])).ws.protocol, 'ocpp1.6');
  assert.equal(byDefault.gw.registry.get('ALL')?.protocol, 'ocpp2.1');

  const older = await gatewayWithLog(t, { 'ocpp.protocols': 'ocpp1.6,ocpp2.0.1' });
  assert.equal((await rawSocket(t, `${older.ocppUrl}/CP1`, ['ocpp2.0.1', 'ocpp1.6'])).ws.protocol, 'ocpp1.6');
  assert.equal(older.gw.registry.get('CP1')?.protocol, 'ocpp1.6');
  // ocpp2.1 is not among this gateway's protocols: no subprotocol in common.
  assert.deepEqual(await connectUnagreed(t, `${older.ocppUrl}/NEW`, 'ocpp2.1'), CLOSED_UNAGREED);
});

test('[SPEC §3, §8] authentication comes first: a bad subprotocol never earns an unauthenticated client a 101; the other refusals keep their order', T, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ocpp-gw-subprotocol-'));
  const file = join(dir, 'credentials.yaml');
  writeFileSync(file, `CP1: "${await hashPassword(Buffer.from('s3cret'))}"\n`);
  const { ocppUrl, mqttUrl } = await gatewayWithLog(t, { 'auth.provider': 'file', 'auth.file': file });
  const svc = await Service.connect(t, mqttUrl, ['ocpp/+/event/rejected']);
  const url = `${ocppUrl}/CP1`;
  // upgradeStatus offers through ws's client, which would fail on a 101 without a subprotocol.
  assert.deepEqual(await upgradeStatus(url, ['ocpp9']), { status: 401, reason: 'unauthorized' });
  assert.deepEqual(await upgradeStatus(url, ['ocpp9'], { authorization: basic('CP1', 'wrong') }), { status: 401, reason: 'unauthorized' });
  assert.deepEqual(await upgradeStatus(url, ['ocpp9'], { authorization: basic('CP1', 's3cret'), origin: 'https://elsewhere.example' }), { status: 403, reason: 'origin_not_allowed' });
  assert.deepEqual(await upgradeStatus(`${ocppUrl}/`, ['ocpp9']), { status: 400, reason: 'bad_cp_id' });
  // Authenticated: the handshake completes, then the close.
  assert.deepEqual(await connectUnagreed(t, url, 'ocpp9', { authorization: basic('CP1', 's3cret') }), CLOSED_UNAGREED);
  await svc.waitFor((m) => m.topic === 'ocpp/CP1/event/rejected' && (m.json as { reason: string }).reason === 'no_subprotocol');
  assert.deepEqual(svc.received.map((m) => (m.json as { reason: string }).reason), ['unauthorized', 'unauthorized', 'origin_not_allowed', 'no_subprotocol']);
});

test('[SPEC §8] no_subprotocol reports share the per-address budget of refused upgrades; the offers quoted are bounded', T, async (t) => {
  const { gw, ocppUrl, mqttUrl, lines } = await gatewayWithLog(t, { 'ocpp.max_rejected_events': 2 });
  const svc = await Service.connect(t, mqttUrl, ['ocpp/#']);
  // 20 offers of 100 characters each (tchar only: ws refuses anything else in the header).
  const offer = Array.from({ length: 20 }, (_, i) => `${'x'.repeat(100)}${i}`).join(', ');
  for (let i = 0; i < 5; i++) assert.deepEqual(await connectUnagreed(t, `${ocppUrl}/SPRAY${i}`, offer), CLOSED_UNAGREED);
  await svc.waitFor('ocpp/SPRAY1/event/rejected');
  await chargePoint(t, ocppUrl, 'GOOD');
  await svc.waitFor('ocpp/GOOD/event/connected');
  const events = svc.received.filter((m) => m.topic.startsWith('ocpp/SPRAY'));
  assert.deepEqual(events.map((m) => m.topic), ['ocpp/SPRAY0/event/rejected', 'ocpp/SPRAY1/event/rejected']);
  const detail = (events[0]?.json as { detail: string }).detail;
  assert.ok(detail.length < 600, detail);
  assert.match(detail, /^none of the offered subprotocols \("x{40}…", .* and 12 more\) is supported; supported: /);
  assert.equal(lines.filter((l) => l.msg === 'cp.upgrade_refused').length, 2);
  const s = await gw.metrics.snapshot();
  assert.equal((s['upgrade_refusals_total'] as Record<string, number>)['no_subprotocol'], 5);
  assert.equal((s['rejected_events_suppressed_total'] as Record<string, number>)['no_subprotocol'], 3);
});
