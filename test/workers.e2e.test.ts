// ocpp.workers: the CLI as a process with --workers 2: charge points spread over both workers, round
// trips through the embedded broker (hosted by the primary) and through Mosquitto, a reconnect that
// lands on the other worker takes over, a worker killed with SIGKILL is restarted, /metrics sums the
// workers, the API reaches every worker, SIGTERM drains and exits 0. [SPEC §7, §9]
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { RPCClient } from 'ocpp-rpc';
import { chargePoint, Service, within } from './support/harness.js';
import { EPHEMERAL_FLAGS, START_MS, runToEnd } from './support/process.js';
import { createServer } from 'node:net';
import { findBinary, startMosquitto } from './support/brokers.js';
import { CLI, lineAfter, startWorkers, type Workers } from './support/workers-process.js';
import { TestPki } from './support/certs.js';
import { hashPassword } from '../src/auth/password-hash.js';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// A guard against hangs, not a timing assertion: a gateway of three processes starts per test.
const T = { timeout: 180_000 };

async function getJson<T>(url: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await within(fetch(url, init), `${init?.method ?? 'GET'} ${url}`);
  const text = await res.text();
  return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
}

async function workerOf(api: string, cpId: string): Promise<number> {
  const r = await getJson<{ worker: number }>(`${api}/api/v1/clients/${cpId}`);
  assert.equal(r.status, 200, `${cpId} is connected`);
  return r.body.worker;
}

function closedOnce(cp: RPCClient): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => cp.once('close', (e: { code: number; reason: Buffer | string }) => resolve({ code: e.code, reason: String(e.reason) })));
}

/** A service that answers every BootNotification and Heartbeat and records what reaches it. */
async function bootService(t: TestContext, url: string): Promise<Service> {
  const svc = await Service.connect(t, url, ['ocpp/+/up/#', 'ocpp/+/status', 'ocpp/+/event/#']);
  svc.client.on('message', (topic) => {
    const m = /^ocpp\/([^/]+)\/up\/request\/BootNotification\/(.+)$/.exec(topic);
    if (m) void svc.publish(`ocpp/${m[1]}/dn/response/BootNotification/${m[2]}`, { status: 'Accepted', currentTime: '2026-12-02T10:00:00.000Z', interval: 60 });
    const h = /^ocpp\/([^/]+)\/up\/request\/Heartbeat\/(.+)$/.exec(topic);
    if (h) void svc.publish(`ocpp/${h[1]}/dn/response/Heartbeat/${h[2]}`, { currentTime: '2026-12-02T10:00:00.000Z' });
  });
  return svc;
}

/** Up (BootNotification answered by the service) and down (a service Reset answered by the CP) for one CP. */
async function roundTrips(svc: Service, cp: RPCClient, cpId: string): Promise<void> {
  const res = await within(cp.call('BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'W2' }), `${cpId}'s BootNotification answer`);
  assert.equal((res as { status: string }).status, 'Accepted');
  await svc.publish(`ocpp/${cpId}/dn/request/Reset/r-${cpId}`, { type: 'Soft' });
  const up = await svc.waitFor(`ocpp/${cpId}/up/response/Reset/r-${cpId}`);
  assert.deepEqual(up.json, { status: 'Accepted' });
}

/** Connects `cpId` again until the new connection is served by another worker than `notOn` (round-robin: a few tries). */
async function reconnectElsewhere(t: TestContext, w: Workers, cpId: string, notOn: number, handle: (cp: RPCClient) => void): Promise<{ cp: RPCClient; worker: number; tries: number }> {
  for (let tries = 1; tries <= 6; tries++) {
    const cp = await chargePoint(t, w.ocppUrl, cpId, {}, handle);
    const worker = await workerOf(w.api, cpId);
    if (worker !== notOn) return { cp, worker, tries };
  }
  throw new Error(`${cpId} never landed on another worker than ${notOn}`);
}

test('[SPEC §7] ocpp.workers: a bad value is one config error naming the key', T, async () => {
  for (const value of ['0', '1.5', 'many']) {
    const r = await runToEnd(process.execPath, [...CLI, 'check-config', '--workers', value]);
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0] ?? '', /^ocpp-gateway: ocpp\.workers: must be a whole number from 1 to 1024 or "auto", got "[^"]+" \(from flag --workers\)$/);
  }
  const auto = await runToEnd(process.execPath, [...CLI, 'check-config', '--workers', 'auto']);
  assert.equal(auto.code, 0, auto.stderr);
});

test('[SPEC §2, §7] --workers 2 with the OCPP port in use: the workers\' startup error is one line on stderr, exit 1, no process left', T, async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const port = (blocker.address() as { port: number }).port;
  const r = await runToEnd(process.execPath, [...CLI, ...EPHEMERAL_FLAGS, '--workers', '2', '--ocpp-port', String(port), '--log-level', 'silent'], { ms: START_MS });
  assert.equal(r.code, 1);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0] ?? '', new RegExp(`port ${port} .*in use.*--ocpp-port`));
});

test('[SPEC §7] --workers 2, embedded broker: CPs on both workers, round trips, API on every worker, takeover across workers, kill -9 and restart, /metrics sums, SIGTERM drains', T, async (t) => {
  const w = await startWorkers(t);
  assert.equal(w.pids.length, 2);
  assert.ok(w.mqttUrl !== undefined, 'the primary hosts the embedded broker');
  // [docs/operations.md "Node flags"] the primary keeps the shipped young generation; each worker runs
  // with V8's default (src/cluster/worker-flags.ts).
  const semiSpace = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a.startsWith('--max-semi-space-size'));
  assert.deepEqual(semiSpace(w.p.child.pid as number), ['--max-semi-space-size=64']);
  for (const pid of w.pids) assert.deepEqual(semiSpace(pid), ['--max-semi-space-size=16'], `worker ${pid}`);
  const svc = await bootService(t, w.mqttUrl);

  // 20 CPs; round-robin spreads them over both workers.
  const cps = new Map<string, RPCClient>();
  const handled: Record<string, number> = {};
  const handler = (id: string) => (cp: RPCClient) => {
    cp.handle('Reset', async () => {
      handled[id] = (handled[id] ?? 0) + 1;
      return { status: 'Accepted' };
    });
  };
  for (let i = 1; i <= 20; i++) {
    const id = `W${String(i).padStart(2, '0')}`;
    cps.set(id, await chargePoint(t, w.ocppUrl, id, {}, handler(id)));
  }
  const list = await getJson<{ data: Array<{ cpId: string; worker: number }>; meta: { count: number } }>(`${w.api}/api/v1/clients?limit=100`);
  assert.equal(list.body.meta.count, 20);
  assert.deepEqual(list.body.data.map((c) => c.cpId), [...cps.keys()], 'one list, sorted, over both workers');
  const byWorker = new Map<number, string[]>();
  for (const c of list.body.data) byWorker.set(c.worker, [...(byWorker.get(c.worker) ?? []), c.cpId]);
  assert.deepEqual([...byWorker.keys()].sort(), [...w.pids].sort(), 'both workers serve CPs');
  const paged = await getJson<{ data: Array<{ cpId: string }>; meta: { count: number } }>(`${w.api}/api/v1/clients?limit=3&page=2`);
  assert.deepEqual(paged.body.data.map((c) => c.cpId), ['W04', 'W05', 'W06']);
  assert.equal(paged.body.meta.count, 20);

  // A round trip up and down through the primary's broker for a CP of each worker.
  const [pidA, pidB] = w.pids as [number, number];
  const onA = (byWorker.get(pidA) ?? [])[0] as string;
  const onB = (byWorker.get(pidB) ?? [])[0] as string;
  for (const id of [onA, onB]) await roundTrips(svc, cps.get(id) as RPCClient, id);

  // The API acts on a CP of either worker: a CALL, and a kick.
  const call = await getJson<{ result: unknown }>(`${w.api}/api/v1/clients/${onB}/calls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ action: 'Reset', payload: { type: 'Hard' }, timeout_ms: 10_000 }) });
  assert.equal(call.status, 200);
  assert.deepEqual(call.body.result, { status: 'Accepted' });
  // A live trace of a CP on either worker (the frames travel from the worker over IPC).
  for (const id of [onA, onB]) {
    const abort = new AbortController();
    const res = await within(fetch(`${w.api}/api/v1/clients/${id}/trace`, { signal: abort.signal }), `the trace of ${id}`);
    assert.equal(res.status, 200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const read = async (re: RegExp) => {
      while (!re.test(text)) {
        const chunk = await reader.read();
        if (chunk.done) throw new Error(`the trace ended before ${re}: ${text}`);
        text += Buffer.from(chunk.value).toString('utf8');
      }
    };
    await within(read(/event: hello/), `the trace of ${id} to start`);
    await within((cps.get(id) as RPCClient).call('Heartbeat', {}), `${id}'s Heartbeat answer`);
    await within(read(/event: frame\ndata: .*Heartbeat/), `${id}'s Heartbeat in its trace`);
    abort.abort();
    await reader.cancel().catch(() => undefined);
  }

  const kickedId = (byWorker.get(pidA) ?? [])[1] as string;
  const kicked = closedOnce(cps.get(kickedId) as RPCClient);
  assert.equal((await getJson(`${w.api}/api/v1/clients/${kickedId}`, { method: 'DELETE' })).status, 204);
  assert.deepEqual(await within(kicked, `${kickedId} to be kicked`), { code: 1000, reason: 'kicked' });
  assert.equal((await getJson(`${w.api}/api/v1/clients/${kickedId}`)).status, 404);
  assert.equal((await getJson(`${w.api}/api/v1/clients/NOPE/calls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ action: 'Reset', payload: { type: 'Hard' } }) })).status, 404);
  cps.delete(kickedId);
  const left = await getJson<{ data: Array<{ cpId: string; reason: string }> }>(`${w.api}/api/v1/disconnected`);
  assert.deepEqual(left.body.data.map((d) => [d.cpId, d.reason]), [[kickedId, 'kicked']]);
  assert.equal((await getJson<{ reason: string }>(`${w.api}/api/v1/disconnected/${kickedId}`)).body.reason, 'kicked');

  // /metrics: the sum of both workers.
  const metrics = await within(fetch(`${w.api}/metrics`).then((r) => r.text()), '/metrics');
  assert.match(metrics, /^ocpp_gateway_connections 19$/m);
  assert.match(metrics, /^ocpp_gateway_connects_total 20$/m);
  assert.match(metrics, /^ocpp_gateway_ready 1$/m);
  assert.match(metrics, /^ocpp_gateway_build_info\{[^}]*\} 1$/m);
  assert.match(metrics, /^ocpp_gateway_round_trip_seconds_count\{direction="dnstream",action="Reset"\} 3$/m);

  // A CP reconnecting lands on another worker and takes over: the old socket is closed, one entry
  // in the API, and a service CALL reaches the new connection only, once.
  const moved = onA;
  const old = cps.get(moved) as RPCClient;
  const oldClosed = closedOnce(old);
  const before = handled[moved] ?? 0;
  const again = await reconnectElsewhere(t, w, moved, pidA, handler(moved));
  assert.equal(again.worker, pidB);
  const closedBy = await within(oldClosed, 'the old connection to be closed');
  assert.equal(closedBy.reason, 'replaced');
  cps.set(moved, again.cp);
  const one = await getJson<{ data: Array<{ cpId: string; worker: number }> }>(`${w.api}/api/v1/clients?like=${moved}`);
  assert.deepEqual(one.body.data.map((c) => [c.cpId, c.worker]), [[moved, pidB]]);
  // Replaced on worker A, connected on worker B: not in the list of disconnected CPs, but its last disconnect is known.
  const gone2 = await getJson<{ data: Array<{ cpId: string }> }>(`${w.api}/api/v1/disconnected`);
  assert.deepEqual(gone2.body.data.map((d) => d.cpId), [kickedId]);
  assert.equal((await getJson<{ reason: string }>(`${w.api}/api/v1/disconnected/${moved}`)).body.reason, 'replaced');
  const mark = svc.received.length;
  await svc.publish(`ocpp/${moved}/dn/request/Reset/after-move`, { type: 'Soft' });
  await svc.waitFor(`ocpp/${moved}/up/response/Reset/after-move`, mark);
  assert.equal((handled[moved] ?? 0) - before, 1, 'delivered once');
  assert.equal(svc.topics(`ocpp/${moved}/up/response/Reset/after-move`).length, 1, 'one answer upstream');

  // kill -9 of worker B: it is restarted, and its CPs can reconnect.
  const victims = [...cps.entries()].filter(([id]) => id === moved || (byWorker.get(pidB) ?? []).includes(id));
  const gone = victims.map(([, cp]) => closedOnce(cp));
  const mark2 = w.p.lines.length;
  process.kill(pidB, 'SIGKILL');
  await within(Promise.all(gone), "worker B's CPs to see their socket end");
  const exited = JSON.parse(await lineAfter(w.p, /"msg":"cluster\.worker_exited"/, 'cluster.worker_exited', mark2)) as { pid: number; signal: string; restartInMs: number };
  assert.equal(exited.pid, pidB);
  assert.equal(exited.signal, 'SIGKILL');
  const restarted = JSON.parse(await lineAfter(w.p, /"msg":"cluster\.worker_restarted"/, 'cluster.worker_restarted', mark2)) as { pid: number };
  assert.notEqual(restarted.pid, pidB);
  for (const [id] of victims) cps.set(id, await chargePoint(t, w.ocppUrl, id, {}, handler(id)));
  const back = await getJson<{ data: Array<{ worker: number }>; meta: { count: number } }>(`${w.api}/api/v1/clients?limit=100`);
  assert.equal(back.body.meta.count, 19);
  assert.ok(back.body.data.every((c) => c.worker === pidA || c.worker === restarted.pid));
  for (const id of [victims[0]?.[0] as string]) {
    const mark3 = svc.received.length;
    await svc.publish(`ocpp/${id}/dn/request/Reset/after-restart`, { type: 'Soft' });
    await svc.waitFor(`ocpp/${id}/up/response/Reset/after-restart`, mark3);
  }

  // SIGTERM to the primary: every worker closes its CPs (shutdown) and publishes presence; exit 0.
  const closing = [...cps.values()].map((cp) => closedOnce(cp));
  const anyId = [...cps.keys()][0] as string;
  const mark4 = svc.received.length;
  w.p.child.kill('SIGTERM');
  const closes = await within(Promise.all(closing), 'every CP to be closed');
  assert.ok(closes.every((c) => c.code === 1001 && c.reason === 'shutdown'), JSON.stringify(closes));
  await svc.waitFor((m) => m.topic === `ocpp/${anyId}/status` && (m.json as { online: boolean }).online === false, mark4);
  assert.equal(await within(w.p.exit, 'the primary to exit', START_MS), 0);
});

test('[SPEC §7] --workers 2 on Mosquitto: each worker its own client; round trips on both workers; takeover across workers; SIGTERM exits 0', { ...T, skip: findBinary('mosquitto') === undefined ? 'mosquitto is not installed' : false }, async (t) => {
  const broker = await startMosquitto(t);
  const w = await startWorkers(t, ['--mqtt-url', broker.url, '--set', 'mqtt.client_id=gw-test']);
  assert.equal(w.mqttUrl, undefined);
  const svc = await bootService(t, broker.url);
  const handled: Record<string, number> = {};
  const handler = (id: string) => (cp: RPCClient) => {
    cp.handle('Reset', async () => {
      handled[id] = (handled[id] ?? 0) + 1;
      return { status: 'Accepted' };
    });
  };
  const cps = new Map<string, RPCClient>();
  for (let i = 1; i <= 6; i++) cps.set(`M${i}`, await chargePoint(t, w.ocppUrl, `M${i}`, {}, handler(`M${i}`)));
  const list = await getJson<{ data: Array<{ cpId: string; worker: number }> }>(`${w.api}/api/v1/clients`);
  const pids = new Set(list.body.data.map((c) => c.worker));
  assert.deepEqual([...pids].sort(), [...w.pids].sort(), 'both workers serve CPs');
  for (const pid of pids) {
    const id = list.body.data.find((c) => c.worker === pid)?.cpId as string;
    await roundTrips(svc, cps.get(id) as RPCClient, id);
  }
  const metrics = await within(fetch(`${w.api}/metrics`).then((r) => r.text()), '/metrics');
  assert.match(metrics, /^ocpp_gateway_connections 6$/m);
  assert.match(metrics, /^ocpp_gateway_broker_connected 1$/m);

  const moved = 'M1';
  const from = await workerOf(w.api, moved);
  const oldClosed = closedOnce(cps.get(moved) as RPCClient);
  const before = handled[moved] ?? 0;
  const again = await reconnectElsewhere(t, w, moved, from, handler(moved));
  assert.equal((await within(oldClosed, 'the old connection to be closed')).reason, 'replaced');
  cps.set(moved, again.cp);
  const mark = svc.received.length;
  await svc.publish(`ocpp/${moved}/dn/request/Reset/after-move`, { type: 'Soft' });
  await svc.waitFor(`ocpp/${moved}/up/response/Reset/after-move`, mark);
  assert.equal((handled[moved] ?? 0) - before, 1, 'delivered once');

  const closing = [...cps.values()].map((cp) => closedOnce(cp));
  w.p.child.kill('SIGTERM');
  const closes = await within(Promise.all(closing), 'every CP to be closed');
  assert.ok(closes.every((c) => c.code === 1001 && c.reason === 'shutdown'), JSON.stringify(closes));
  assert.equal(await within(w.p.exit, 'the primary to exit', START_MS), 0);
});

test('[SPEC §7, §8] --workers 2 with a wss:// listener (profile 2, auth.file): both listeners shared by both workers; credentials checked in each', T, async (t) => {
  const pki = new TestPki();
  const ca = pki.ca('workers-ca');
  const server = pki.server('workers-server', ca, 'ec');
  const caPem = readFileSync(ca.cert);
  const dir = mkdtempSync(join(tmpdir(), 'ocpp-gw-workers-'));
  const creds = join(dir, 'creds.yaml');
  const ids = ['S1', 'S2', 'S3', 'S4', 'S5', 'S6'];
  writeFileSync(creds, (await Promise.all(ids.map(async (id) => `${id}: "${await hashPassword(Buffer.from(`pw-${id}`))}"\n`))).join(''));
  const w = await startWorkers(t, [
    '--set', 'ocpp.tls.port=0', '--set', 'ocpp.tls.host=127.0.0.1', '--set', `ocpp.tls.cert_file=${server.cert}`, '--set', `ocpp.tls.key_file=${server.key}`,
    '--set', 'ocpp.tls.security_profile=2', '--set', 'auth.provider=file', '--set', `auth.file=${creds}`, '--set', 'ocpp.protocols=ocpp1.6',
  ]);
  assert.ok(w.wssUrl !== undefined);
  for (const id of ids.slice(0, 4)) await chargePoint(t, w.wssUrl, id, { password: `pw-${id}`, wsOpts: { ca: caPem } });
  for (const id of ids.slice(4)) await chargePoint(t, w.ocppUrl, id, { password: `pw-${id}` });
  const list = await getJson<{ data: Array<{ cpId: string; worker: number }> }>(`${w.api}/api/v1/clients`);
  assert.deepEqual(list.body.data.map((c) => c.cpId), ids);
  const wssWorkers = new Set(list.body.data.filter((c) => ids.slice(0, 4).includes(c.cpId)).map((c) => c.worker));
  assert.deepEqual([...wssWorkers].sort(), [...w.pids].sort(), 'both workers serve wss://');
  await assert.rejects(chargePoint(t, w.wssUrl, 'S1', { password: 'wrong', wsOpts: { ca: caPem } }));
  await assert.rejects(chargePoint(t, w.wssUrl, 'S1', { password: 'wrong', wsOpts: { ca: caPem } }));
  assert.equal((await getJson(`${w.api}/api/v1/clients/S1`)).status, 200, 'refused attempts replace nothing');

  // SIGHUP to the primary (systemd's ExecReload signals the main pid only) reaches every worker.
  const mark = w.p.lines.length;
  w.p.child.kill('SIGHUP');
  for (const slot of [1, 2]) await lineAfter(w.p, new RegExp(`"worker":${slot},.*"signal":"SIGHUP".*"msg":"gateway\\.signal"`), `worker ${slot} to log SIGHUP`, mark);
});
