// The gateway started while its external broker is down: it starts anyway, not ready, and keeps
// reconnecting with backoff, logging each attempt, until a real Mosquitto comes up on that port; or,
// with mqtt.connect_timeout_exit, it waits that long and exits 1 as before. [SPEC §2, §7]
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createInterface } from 'node:readline';
import { chargePoint, Service, until, upgradeStatus, within } from './support/harness.js';
import { EPHEMERAL_FLAGS, run } from './support/process.js';
import { freePort, startMosquitto } from './support/brokers.js';

const T = { timeout: 90_000 };
const FAST_RETRY = ['--set', 'mqtt.reconnect_period=100ms', '--set', 'mqtt.reconnect_max=400ms'];
/** Payload checks are not the point here; without them the process starts in a fraction of the time. */
const LEAN = ['--set', 'message_format_checking=disable'];
/** A process start on a loaded machine (tsx compiles the sources) takes longer than other waits. */
const START_MS = 45_000;

interface LogEntry { msg?: string; [field: string]: unknown }

/** The gateway as a process, its JSON log lines collected; waitLog resolves with the first line that matches. */
function gatewayProcess(t: TestContext, args: string[]) {
  const r = run([...EPHEMERAL_FLAGS, ...LEAN, ...args]);
  t.after(() => { if (r.child.exitCode === null) r.child.kill('SIGKILL'); });
  const logs: LogEntry[] = [];
  const waiters: Array<{ match: (e: LogEntry) => boolean; resolve: (e: LogEntry) => void }> = [];
  createInterface({ input: r.child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    let entry: LogEntry;
    try {
      entry = JSON.parse(line) as LogEntry;
    } catch {
      return;
    }
    logs.push(entry);
    for (const w of [...waiters]) if (w.match(entry)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(entry); }
  });
  const waitLog = (what: string, match: (e: LogEntry) => boolean, ms?: number): Promise<LogEntry> => {
    const seen = logs.find(match);
    return within(seen !== undefined ? Promise.resolve(seen) : new Promise<LogEntry>((resolve) => waiters.push({ match, resolve })), what, ms);
  };
  return { ...r, logs, waitLog };
}

test('[SPEC §7] broker down at start: the gateway starts not ready (/readyz 503, upgrades 503 not_ready), logs each attempt with its next delay, and connects once Mosquitto comes up on that port', T, async (t) => {
  const port = await freePort();
  const gw = gatewayProcess(t, ['--mqtt-url', `mqtt://csms:Pw-S3cret@127.0.0.1:${port}`, ...FAST_RETRY]);
  const started = await gw.waitLog('gateway.started', (e) => e.msg === 'gateway.started', START_MS);
  assert.equal((started['mqtt'] as { connected: boolean }).connected, false);
  const api = `http://127.0.0.1:${(started['api'] as { port: number }).port}`;
  const ocpp = `ws://127.0.0.1:${(started['ocpp'] as { port: number }).port}/ocpp`;

  // A line per failed attempt (at most two a second: those in between are counted in notLogged): its
  // number, the reason, the delay before the next one; no password.
  const second = await gw.waitLog('a later failed attempt', (e) => e.msg === 'mqtt.connect_failed' && (e['attempt'] as number) >= 2);
  assert.equal(second['attempt'], 2 + (second['notLogged'] as number), JSON.stringify(second));
  assert.match(String(second['error']), /ECONNREFUSED/);
  assert.ok(typeof second['retryInMs'] === 'number' && second['retryInMs'] >= 100 && second['retryInMs'] <= 400, JSON.stringify(second));
  assert.equal(second['url'], `mqtt://csms:***@127.0.0.1:${port}`);
  assert.equal(second['level'] === 40 || second['level'] === 'warn', true, JSON.stringify(second));

  const readyz = await fetch(`${api}/readyz`);
  assert.equal(readyz.status, 503);
  assert.deepEqual(await readyz.json(), { status: 'not_ready', checks: { ocpp_listener: true, broker: false } });
  assert.equal((await fetch(`${api}/healthz`)).status, 200, 'alive meanwhile');
  assert.deepEqual(await upgradeStatus(`${ocpp}/CP1`, ['ocpp1.6']), { status: 503, reason: 'not_ready' });

  // The broker comes up on that port: the next attempt connects.
  const mosq = await startMosquitto(t, '', port);
  await gw.waitLog('mqtt.connected', (e) => e.msg === 'mqtt.connected');
  await until(async () => (await fetch(`${api}/readyz`)).status === 200, '/readyz 200');
  const svc = await Service.connect(t, mosq.url, ['ocpp/+/up/#']);
  svc.client.on('message', (topic) => {
    const m = /^ocpp\/CP1\/up\/request\/BootNotification\/(.+)$/.exec(topic);
    if (m) void svc.publish(`ocpp/CP1/dn/response/BootNotification/${m[1]}`, { status: 'Accepted', currentTime: '2026-11-23T10:00:00.000Z', interval: 60 });
  });
  const cp = await chargePoint(t, ocpp, 'CP1');
  assert.equal(((await cp.call('BootNotification', { chargePointVendor: 'A', chargePointModel: 'B' })) as { status: string }).status, 'Accepted');
  // The cluster subscription was made on the late connection too: another instance's takeover of CP1
  // closes it here.
  const closed = new Promise<{ code: number; reason: string }>((resolve) => cp.once('close', (e: { code: number; reason: Buffer | string }) => resolve({ code: e.code, reason: String(e.reason) })));
  await svc.publish('ocpp/CP1/event/takeover', { cpId: 'CP1', instanceId: 'another-instance', connectedAt: Date.now() + 60_000 });
  assert.equal((await within(closed, 'CP1 to be closed by the takeover')).reason, 'replaced');

  for (const e of gw.logs) assert.ok(!JSON.stringify(e).includes('Pw-S3cret'), `a log line shows the password: ${JSON.stringify(e)}`);
  gw.child.kill('SIGTERM');
  assert.equal(await within(gw.exit, 'the gateway to exit'), 0);
});

test('[SPEC §2, §7] mqtt.connect_timeout_exit: no connection within it -> exit 1 naming the key, with attempt lines meanwhile and no listener opened', T, async (t) => {
  const port = await freePort();
  const gw = gatewayProcess(t, ['--mqtt-url', `mqtt://127.0.0.1:${port}`, '--set', 'mqtt.connect_timeout_exit=1500ms', ...FAST_RETRY]);
  assert.equal(await within(gw.exit, 'the gateway to give up', START_MS), 1);
  // One line (warnings about the embedded broker's ignored flags aside).
  const errors = gw.stderr().split('\n').filter((l) => l !== '' && !l.startsWith('ocpp-gateway: warning: '));
  assert.equal(errors.length, 1, gw.stderr());
  assert.match(errors[0] ?? '', new RegExp(`^ocpp-gateway: external MQTT broker mqtt://127\\.0\\.0\\.1:${port} \\(mqtt\\.url\\): no connection within 1500 ms \\(mqtt\\.connect_timeout_exit\\) \\(last error: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\)$`));
  assert.ok(gw.logs.some((e) => e.msg === 'mqtt.connect_failed'), 'attempts are logged while it waits');
  assert.ok(!gw.logs.some((e) => e.msg === 'gateway.started'));
});

test('[SPEC §7] mqtt.connect_timeout_exit: a broker that comes up in time -> the start completes, connected', T, async (t) => {
  const port = await freePort();
  const gw = gatewayProcess(t, ['--mqtt-url', `mqtt://127.0.0.1:${port}`, '--set', 'mqtt.connect_timeout_exit=30s', ...FAST_RETRY]);
  await gw.waitLog('a failed attempt', (e) => e.msg === 'mqtt.connect_failed', START_MS);
  assert.ok(!gw.logs.some((e) => e.msg === 'gateway.started'), 'no listener opens before the broker is there');
  await startMosquitto(t, '', port);
  const started = await gw.waitLog('gateway.started', (e) => e.msg === 'gateway.started');
  assert.equal((started['mqtt'] as { connected: boolean }).connected, true);
  const api = `http://127.0.0.1:${(started['api'] as { port: number }).port}`;
  assert.equal((await fetch(`${api}/readyz`)).status, 200);
  gw.child.kill('SIGTERM');
  assert.equal(await within(gw.exit, 'the gateway to exit'), 0);
});
