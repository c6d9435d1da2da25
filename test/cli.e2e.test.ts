// The gateway as an operator runs it: the `npm start` command line, its logs, signals and errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chargePoint, Service, within } from './support/harness.js';
import { EPHEMERAL_FLAGS, run, START_MS, startProcess } from './support/process.js';

// A guard against hangs, not a timing assertion: several gateway and CLI processes start per test.
const T = { timeout: 120_000 };


test('[SPEC §2] npm start: embedded broker, a CP boots through MQTT, SIGTERM closes CPs with 1001 and exits 0', T, async (t) => {
  const gw = await startProcess(t);
  assert.ok(gw.ports.ocpp > 0 && gw.ports.mqtt > 0 && gw.ports.mqttWs > 0 && gw.ports.api > 0);
  const svc = await Service.connect(t, `mqtt://127.0.0.1:${gw.ports.mqtt}`, ['ocpp/+/up/#', 'ocpp/+/status']);
  svc.client.on('message', (topic) => {
    const m = /^ocpp\/CP1\/up\/request\/BootNotification\/(.+)$/.exec(topic);
    if (m) void svc.publish(`ocpp/CP1/dn/response/BootNotification/${m[1]}`, { status: 'Accepted', currentTime: '2026-11-23T10:00:00.000Z', interval: 60 });
  });
  // Services may also use MQTT over WebSocket on the embedded broker.
  const wsSvc = await Service.connect(t, `ws://127.0.0.1:${gw.ports.mqttWs}/mqtt`, ['ocpp/+/up/request/#']);
  const cp = await chargePoint(t, `ws://127.0.0.1:${gw.ports.ocpp}/ocpp`, 'CP1');
  const res = await cp.call('BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'M1' });
  assert.equal((res as { status: string }).status, 'Accepted');
  await wsSvc.waitFor((m) => m.topic.startsWith('ocpp/CP1/up/request/BootNotification/'));
  const health = await fetch(`http://127.0.0.1:${gw.ports.api}/readyz`);
  assert.equal(health.status, 200);

  const closed = new Promise<{ code: number; reason: string }>((resolve) => cp.once('close', (e: { code: number; reason: Buffer | string }) => resolve({ code: e.code, reason: String(e.reason) })));
  gw.child.kill('SIGTERM');
  assert.deepEqual(await within(closed, 'the CP to be closed'), { code: 1001, reason: 'shutdown' });
  const offline = await svc.waitFor((m) => m.topic === 'ocpp/CP1/status' && (m.json as { online: boolean }).online === false);
  assert.ok(offline);
  assert.equal(await within(gw.exit, 'the gw process to exit', START_MS), 0);
});

test('[SPEC §2] a port in use is a one-line error naming the port and the flag', T, async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const port = (blocker.address() as { port: number }).port;
  const r = run([...EPHEMERAL_FLAGS, '--mqtt-port', String(port)]);
  assert.equal(await within(r.exit, 'the r process to exit', START_MS), 1);
  const lines = r.stderr().trim().split('\n');
  assert.equal(lines.length, 1);
  assert.match(lines[0] ?? '', new RegExp(`port ${port} .*in use.*--mqtt-port.*--mqtt-url mqtt://127\\.0\\.0\\.1:${port}`));

  const r2 = run([...EPHEMERAL_FLAGS, '--ocpp-port', String(port)]);
  assert.equal(await within(r2.exit, 'the r2 process to exit', START_MS), 1);
  assert.match(r2.stderr(), new RegExp(`port ${port} .*in use.*--ocpp-port`));
});

test('[SPEC §2] check-config lists every error with its key and exits 1; a valid file exits 0; env beats file, flags beat env', T, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ocpp-gw-cfg-'));
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'ocpp:\n  port: 99999\n  unknown_thing: 1\nupstream:\n  awaiting_timeout: soon\n');
  const r = run(['check-config', '--config', bad]);
  assert.equal(await within(r.exit, 'the r process to exit', START_MS), 1);
  const errs = r.stderr().trim().split('\n');
  assert.deepEqual(errs.map((l) => l.split(':')[1]?.trim()), ['ocpp.port', 'ocpp.unknown_thing', 'upstream.awaiting_timeout']);

  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify({ ocpp: { port: 1234 }, upstream: { awaiting_timeout: '10s' } }));
  const ok = run(['check-config', '--config', good]);
  assert.equal(await within(ok.exit, 'the ok process to exit', START_MS), 0);

  // env overrides the file's valid value with an invalid one -> the error names the key
  const envWins = run(['check-config', '--config', good], { OCPP_GW_OCPP__PORT: 'x' });
  assert.equal(await within(envWins.exit, 'the envWins process to exit', START_MS), 1);
  assert.match(envWins.stderr(), /ocpp\.port/);
  // and a flag overrides the environment again
  const flagWins = run(['check-config', '--config', good, '--ocpp-port', '2000'], { OCPP_GW_OCPP__PORT: 'x' });
  assert.equal(await within(flagWins.exit, 'the flagWins process to exit', START_MS), 0);
});

test('[SPEC §9] ocpp-gateway clients list|show|call|kick talk to the HTTP API', T, async (t) => {
  const { startTestGateway } = await import('./support/harness.js');
  const { ocppUrl, apiUrl } = await startTestGateway(t, { 'api.key': 'k1' });
  const cp = await chargePoint(t, ocppUrl, 'CP-CLI');
  cp.handle('Reset', async ({ params }) => ({ status: params?.['type'] === 'Hard' ? 'Rejected' : 'Accepted' }));
  const cli = async (...args: string[]) => {
    const r = run(['clients', ...args, '--api-url', apiUrl], { OCPP_GW_API__KEY: 'k1' });
    let out = '';
    r.child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const code = await within(r.exit, 'the r process to exit', START_MS);
    return { code, out, err: r.stderr() };
  };
  const list = await cli('list');
  assert.equal(list.code, 0, list.err);
  assert.match(list.out, /^CPID\s+PROTOCOL/m);
  assert.match(list.out, /^CP-CLI\s+ocpp1\.6\s+127\.0\.0\.1/m);
  assert.match(list.out, /1 connected/);
  const show = await cli('show', 'CP-CLI');
  assert.equal((JSON.parse(show.out) as { cpId: string }).cpId, 'CP-CLI');
  const call = await cli('call', 'CP-CLI', 'Reset', '{"type":"Soft"}');
  assert.deepEqual(JSON.parse(call.out), { status: 'Accepted' });
  const invalid = await cli('call', 'CP-CLI', 'Reset', '{"type":"Warm"}');
  assert.equal(invalid.code, 1);
  assert.match(invalid.err, /HTTP 400 PropertyConstraintViolation/);
  const missing = await cli('show', 'NOPE');
  assert.equal(missing.code, 1);
  assert.match(missing.err, /HTTP 404 not_connected/);
  const kick = await cli('kick', 'CP-CLI');
  assert.equal(kick.code, 0);
  assert.match(kick.out, /kicked CP-CLI/);
  const noKey = run(['clients', 'list', '--api-url', apiUrl], { OCPP_GW_API__KEY: '' });
  assert.equal(await within(noKey.exit, 'the noKey process to exit', START_MS), 1);
  assert.match(noKey.stderr(), /HTTP 401 unauthorized/);
});

test('[SPEC §8] clients list/show print control and bidi characters of client strings as visible escapes', T, async (t) => {
  const { startTestGateway, rawSocket, basic } = await import('./support/harness.js');
  const { ocppUrl, apiUrl } = await startTestGateway(t, { 'auth.username_must_match': false });
  // The cpId door admits bidi controls (not C0/C1); a user name may hold any byte.
  const cpId = 'CP\u202eLIVE-1';
  const username = 'op\u001b]0;pwned\u0007\u009b2J';
  await rawSocket(t, `${ocppUrl}/${encodeURIComponent(cpId)}`, ['ocpp1.6'], { headers: { authorization: basic(username, 'pw') } });
  const cli = async (...args: string[]) => {
    const r = run(['clients', ...args, '--api-url', apiUrl]);
    let out = '';
    r.child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const code = await within(r.exit, 'the r process to exit', START_MS);
    return { code, out, err: r.stderr() };
  };
  const raw = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/;
  const list = await cli('list');
  assert.equal(list.code, 0, list.err);
  assert.match(list.out, /^CP\\u202eLIVE-1\s+ocpp1\.6/m);
  assert.doesNotMatch(list.out, raw);
  for (const args of [['show', cpId], ['list', '--json']]) {
    const r = await cli(...args);
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.out, raw, args.join(' '));
    const shown = JSON.parse(r.out) as { cpId?: string; username?: string; data?: Array<{ cpId: string; username: string }> };
    assert.deepEqual([shown.cpId ?? shown.data?.[0]?.cpId, shown.username ?? shown.data?.[0]?.username], [cpId, username], 'the JSON is still exact');
  }
  const missing = await cli('show', 'GONE\u202e');
  assert.equal(missing.code, 1);
  assert.match(missing.err, /GONE\\u202e is not connected/);
  assert.doesNotMatch(missing.err, raw);
});
