// `npm run bench -- scale` (issue 16): N idle charge points with heartbeats held against one gateway host.
// The gateway runs as operators run it (bench/lib/gateway-process.ts, the shipped Node flags) with the
// bench's limits relaxed, `ocpp.max_connections` raised to fit N, and `--workers` when asked. Several
// load-generator processes (bench/lib/scale-loadgen.ts) each hold their share of the CPs, bound to
// several loopback source addresses: one process may hold ~20,000 sockets here (the open-file limit) and
// one source address ~28,000 connections to one port (the ephemeral ports). One MQTT.js service answers
// every BootNotification and Heartbeat (bench/lib/load.ts startService, QoS 1).
//
// Phases: the storm (every CP connects at once, `--concurrency` handshakes in flight per generator,
// then boots), the hold (`--hold` seconds: disconnects and heartbeat round trips counted), gateway RSS
// of all its processes, then with `--kill-worker` (workers ≥ 2) a `kill -9` of one worker and the
// time until all its CPs are back (the generators reconnect each closed CP at once, with a jitter).
// Flags: --cps=N --workers=N|auto --hold=S --heartbeat=S --loadgens=N --addresses=N --concurrency=N
// --jitter=MS --connect-timeout=S --kill-worker (or --kill-worker=1).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startGatewayProcess, type GatewayProcess } from './lib/gateway-process.js';
import { processTree } from './lib/proc-tree.js';
import { startService } from './lib/load.js';
import { histogramPercentile, mergeHistograms, type Histogram, type LoadgenConfig, type LoadgenReport, type PhaseCounters } from './lib/scale-loadgen.js';
import { cpuMs, rssBytes, table } from './lib/stats.js';
import { BENCH_GATEWAY_SETTINGS } from './lib/targets.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LOADGEN = fileURLToPath(new URL('./lib/scale-loadgen.ts', import.meta.url));
/** Sockets one generator may hold (the open-file limit is 20,000 per process here). */
const MAX_PER_LOADGEN = 18_000;
/** Connections from one source address to the gateway's one port (~28k ephemeral ports). */
const MAX_PER_ADDRESS = 25_000;
/** Source addresses 127.77.0.1, 127.77.0.2, …: away from the 127.0.0.x the other scenarios use. */
const sourceAddress = (k: number) => `127.77.${Math.floor(k / 250)}.${1 + (k % 250)}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const treeRss = (pid: number) => processTree(pid).reduce((a, p) => {
  try {
    return a + rssBytes(p);
  } catch {
    return a;
  }
}, 0);

/** CPU time (user + system) of a process and its descendants, ms. */
const treeCpuMs = (pid: number) => processTree(pid).reduce((a, p) => {
  try {
    return a + cpuMs(p);
  } catch {
    return a;
  }
}, 0);
const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

interface Loadgen {
  child: ChildProcess;
  cps: number;
  last?: LoadgenReport;
  send(cmd: string): void;
}

/** The generators' phase counters summed, with the connect progress of the whole fleet. */
interface Totals extends Omit<PhaseCounters, 'otherCalls'> {
  open: number;
  booted: number;
  allOpenAt?: number | undefined;
  allBootedAt?: number | undefined;
  lastOpenAt?: number | undefined;
  lastBootAt?: number | undefined;
}

function mergeCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/** CPU ms of each process of a tree, by pid. */
function cpuByPid(pid: number): Record<number, number> {
  const out: Record<number, number> = {};
  for (const p of processTree(pid)) {
    try {
      out[p] = cpuMs(p);
    } catch { /* gone */ }
  }
  return out;
}

function totals(gens: Loadgen[]): Totals {
  const t: Totals = { open: 0, booted: 0, connectErrors: 0, connectErrorKinds: {}, disconnects: 0, closeCodes: {}, heartbeatsSent: 0, heartbeatsAnswered: 0, heartbeatErrors: 0, heartbeatsLate: 0, histogram: {}, maxLatencyMs: 0 };
  const maxOf = (a: number | undefined, b: number | undefined) => (a === undefined ? b : b === undefined ? a : Math.max(a, b));
  let allOpen = true;
  let allBooted = true;
  for (const g of gens) {
    const r = g.last;
    if (!r) {
      allOpen = allBooted = false;
      continue;
    }
    t.open += r.open;
    t.booted += r.booted;
    if (r.allOpenAt === undefined) allOpen = false;
    if (r.allBootedAt === undefined) allBooted = false;
    t.allOpenAt = maxOf(t.allOpenAt, r.allOpenAt);
    t.allBootedAt = maxOf(t.allBootedAt, r.allBootedAt);
    t.lastOpenAt = maxOf(t.lastOpenAt, r.lastOpenAt);
    t.lastBootAt = maxOf(t.lastBootAt, r.lastBootAt);
    const p = r.phase;
    t.connectErrors += p.connectErrors;
    mergeCounts(t.connectErrorKinds, p.connectErrorKinds);
    t.disconnects += p.disconnects;
    mergeCounts(t.closeCodes, p.closeCodes);
    t.heartbeatsSent += p.heartbeatsSent;
    t.heartbeatsAnswered += p.heartbeatsAnswered;
    t.heartbeatErrors += p.heartbeatErrors;
    t.heartbeatsLate += p.heartbeatsLate;
    mergeHistograms(t.histogram, p.histogram);
    t.maxLatencyMs = Math.max(t.maxLatencyMs, p.maxLatencyMs);
  }
  if (!allOpen) t.allOpenAt = undefined;
  if (!allBooted) t.allBootedAt = undefined;
  return t;
}

/** Starts one generator and waits (bounded) for its `ready` line. */
async function startLoadgen(cfg: LoadgenConfig): Promise<Loadgen> {
  const child = spawn(process.execPath, ['--import', 'tsx', LOADGEN], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, SCALE_LOADGEN: JSON.stringify(cfg) } });
  const g: Loadgen = { child, cps: cfg.to - cfg.from, send: (cmd) => child.stdin?.write(`${JSON.stringify({ cmd })}\n`) };
  child.stdin?.on('error', () => undefined);
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    try {
      g.last = JSON.parse(line) as LoadgenReport;
    } catch {
      return;
    }
    if (g.last.type === 'ready') onReady();
  });
  await Promise.race([
    ready,
    new Promise((_, reject) => child.once('exit', (code) => reject(new Error(`a load generator exited (${code}) before it was ready`)))),
    sleep(60_000).then(() => { throw new Error('a load generator was not ready within 60 s'); }),
  ]);
  return g;
}

/** Polls until `done` or `ms` pass; true when done. */
async function waitFor(done: () => boolean, ms: number, every = 200): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (done()) return true;
    await sleep(every);
  }
  return done();
}

const kib = (bytes: number) => bytes / 1024;
const fmtMs = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '–' : v < 10 ? v.toFixed(2) : v.toFixed(0));
const fmtCodes = (o: Record<string, number>) => (Object.keys(o).length === 0 ? 'none' : Object.entries(o).map(([k, v]) => `${k}: ${v}`).join(', '));

export async function run(opts: { quick: boolean; flags: Record<string, string> }) {
  const f = opts.flags;
  const n = Number(f['cps'] ?? (opts.quick ? 2000 : 15_000));
  const workersFlag = f['workers'];
  const workers = workersFlag === undefined ? 1 : workersFlag === 'auto' ? os.cpus().length : Number(workersFlag);
  const holdS = Number(f['hold'] ?? (opts.quick ? 10 : 60));
  const heartbeatS = Number(f['heartbeat'] ?? (opts.quick ? 10 : 60));
  const loadgens = Number(f['loadgens'] ?? Math.max(1, Math.ceil(n / 12_000)));
  const addresses = Number(f['addresses'] ?? Math.max(2, Math.ceil(n / 10_000)));
  const concurrency = Number(f['concurrency'] ?? Math.max(50, Math.floor(1000 / loadgens)));
  const jitterMs = Number(f['jitter'] ?? 500);
  const connectTimeoutS = Number(f['connect-timeout'] ?? Math.max(120, Math.ceil(n / 500)));
  const killWorker = f['kill-worker'] === '1' || f['kill-worker'] === 'true' || process.argv.includes('--kill-worker');
  for (const [k, v] of Object.entries({ cps: n, workers, hold: holdS, heartbeat: heartbeatS, loadgens, addresses, concurrency })) {
    if (!Number.isInteger(v) || v < (k === 'hold' ? 0 : 1)) throw new Error(`scale: --${k} must be a positive integer (got ${v})`);
  }
  if (Math.ceil(n / loadgens) > MAX_PER_LOADGEN) throw new Error(`scale: ${Math.ceil(n / loadgens)} CPs per load generator is more than one process may hold here (${MAX_PER_LOADGEN}); raise --loadgens`);
  if (Math.ceil(n / addresses) > MAX_PER_ADDRESS) throw new Error(`scale: ${Math.ceil(n / addresses)} connections per source address is more than its ephemeral ports allow (${MAX_PER_ADDRESS}); raise --addresses`);
  if (killWorker && workers < 2) process.stderr.write('scale: --kill-worker needs --workers 2 or more; skipped\n');
  const log = (s: string) => process.stderr.write(`scale: ${s}\n`);

  const children: ChildProcess[] = [];
  let gw: GatewayProcess | undefined;
  // Whatever happens (an error, Ctrl-C), no child outlives the bench.
  const killAll = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    // The gateway not yet reaped: its pid and its live children are still ours.
    if (gw && gw.child.exitCode === null && gw.child.signalCode === null) {
      for (const p of processTree(gw.pid).reverse()) {
        try {
          process.kill(p, 'SIGKILL');
        } catch { /* gone */ }
      }
    }
  };
  const onSignal = () => {
    killAll();
    process.exit(130);
  };
  process.once('exit', killAll);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const sets = [...BENCH_GATEWAY_SETTINGS, `ocpp.max_connections=${Math.max(100_000, 2 * n)}`];
  // --workers N: the CLI flag's key (ocpp.workers), passed only when asked so workers 1 runs exactly today's process.
  if (workersFlag !== undefined) sets.push(`ocpp.workers=${workersFlag}`);
  const gens: Loadgen[] = [];
  stopping = false;
  let svc: Awaited<ReturnType<typeof startService>> | undefined;
  try {
    gw = await startGatewayProcess(sets);
    log(`gateway pid ${gw.pid} (${processTree(gw.pid).length} processes) on port ${gw.ocppPort}, broker ${gw.mqttPort}`);
    if (gw.mqttPort === 0) throw new Error('scale: the gateway reported no embedded broker port');
    svc = await startService(gw.mqttPort);
    const rssIdle = treeRss(gw.pid);
    const epochMs = Date.now();
    const addressList = Array.from({ length: addresses }, (_, k) => sourceAddress(k));
    for (let l = 0; l < loadgens; l++) {
      const from = Math.floor((l * n) / loadgens);
      const to = Math.floor(((l + 1) * n) / loadgens);
      gens.push(await startLoadgen({ url: `ws://127.0.0.1:${gw.ocppPort}/ocpp/`, from, to, total: n, prefix: 'CP', addresses: addressList, concurrency, heartbeatMs: heartbeatS * 1000, epochMs, jitterMs, reportMs: 500 }));
      children.push(gens[l]!.child);
    }
    for (const g of gens) g.child.once('exit', (code, signal) => { if (!stopping) log(`a load generator exited early (${code ?? signal})`); });

    // ---- the storm ----
    log(`${n} CPs from ${loadgens} load generator(s), ${addresses} source address(es), ${concurrency} handshakes in flight each; workers ${workers}`);
    const gensCpu = () => gens.reduce((a, g) => {
      try {
        return a + cpuMs(g.child.pid as number);
      } catch {
        return a;
      }
    }, 0);
    const cpu0 = { gateway: treeCpuMs(gw.pid), loadgens: gensCpu(), self: selfCpuMs() };
    const cpuByPid0 = cpuByPid(gw.pid);
    const stormAt = Date.now();
    for (const g of gens) g.send('connect');
    let lastLog = 0;
    const allBooted = await waitFor(() => {
      const t = totals(gens);
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        log(`storm +${((Date.now() - stormAt) / 1000).toFixed(0)} s: ${t.open} open, ${t.booted} booted, ${t.connectErrors} connect errors`);
      }
      return t.allBootedAt !== undefined;
    }, connectTimeoutS * 1000);
    const storm = totals(gens);
    const allConnectedS = storm.allOpenAt === undefined ? undefined : (storm.allOpenAt - stormAt) / 1000;
    const allBootedS = storm.allBootedAt === undefined ? undefined : (storm.allBootedAt - stormAt) / 1000;
    log(allBooted ? `all connected after ${allConnectedS?.toFixed(1)} s, all booted after ${allBootedS?.toFixed(1)} s` : `not all booted within ${connectTimeoutS} s (${storm.open} open, ${storm.booted} booted)`);
    const rssConnected = treeRss(gw.pid);
    const cpu1 = { gateway: treeCpuMs(gw.pid), loadgens: gensCpu(), self: selfCpuMs() };
    const cpuByPid1 = cpuByPid(gw.pid);
    const gatewayCpuSecondsByPid = Object.fromEntries(Object.entries(cpuByPid1).map(([p, ms]) => [p === String(gw!.pid) ? `primary ${p}` : `child ${p}`, (ms - (cpuByPid0[Number(p)] ?? 0)) / 1000]));
    const stormCpu = { gatewayByProcessSeconds: gatewayCpuSecondsByPid, gatewaySeconds: (cpu1.gateway - cpu0.gateway) / 1000, loadgensSeconds: (cpu1.loadgens - cpu0.loadgens) / 1000, serviceSeconds: (cpu1.self - cpu0.self) / 1000, wallSeconds: (Date.now() - stormAt) / 1000 };

    // ---- the hold ----
    for (const g of gens) g.send('reset');
    await sleep(600); // every generator's report of the new phase
    const holdAt = Date.now();
    const holdCpu0 = treeCpuMs(gw.pid);
    while (Date.now() - holdAt < holdS * 1000) {
      await sleep(Math.min(10_000, holdS * 1000 - (Date.now() - holdAt)));
      const t = totals(gens);
      log(`hold +${((Date.now() - holdAt) / 1000).toFixed(0)} s: ${t.open} open, ${t.disconnects} disconnects, ${t.heartbeatsAnswered} heartbeats answered, p99 ${fmtMs(histogramPercentile(t.histogram, 99))} ms`);
    }
    await sleep(600); // the last reports
    const hold = totals(gens);
    const holdSeconds = (Date.now() - holdAt - 600) / 1000;
    const holdGatewayCpuPercent = ((treeCpuMs(gw.pid) - holdCpu0) / 1000 / ((Date.now() - holdAt) / 1000)) * 100;
    const pids = processTree(gw.pid);
    const rssEnd = treeRss(gw.pid);
    const rssByProcess = Object.fromEntries(pids.map((p) => {
      try {
        return [p, rssBytes(p)];
      } catch {
        return [p, 0];
      }
    }));

    // ---- kill -9 one worker ----
    let kill: Record<string, unknown> | undefined;
    if (killWorker && workers >= 2) {
      const workerPids = pids.filter((p) => p !== gw!.pid);
      const victim = workerPids[0];
      if (victim === undefined) {
        log('no worker process found under the gateway; --kill-worker skipped');
      } else {
        for (const g of gens) g.send('reset');
        await sleep(600);
        const before = totals(gens);
        const killAt = Date.now();
        process.kill(victim, 'SIGKILL');
        log(`kill -9 worker ${victim}`);
        const dropped = await waitFor(() => totals(gens).disconnects > 0, 10_000);
        // Also when 99 % of the dropped CPs are booted again: a connection that node:cluster had handed to
        // the worker as it died is neither accepted nor closed by anyone, and its CP waits for its own
        // handshake timeout (30 s here) before it retries (docs/scaling.md); this shows the rest apart.
        let mostBackAt: number | undefined;
        const back = dropped && await waitFor(() => {
          const t = totals(gens);
          if (mostBackAt === undefined && t.booted >= n - Math.floor(0.01 * t.disconnects)) mostBackAt = Date.now();
          return t.open === n && t.booted === n;
        }, connectTimeoutS * 1000);
        await sleep(600);
        const t = totals(gens);
        kill = {
          victimPid: victim,
          openBefore: before.open,
          disconnected: t.disconnects,
          closeCodes: t.closeCodes,
          connectErrors: t.connectErrors,
          connectErrorKinds: t.connectErrorKinds,
          allBack: back,
          reconnectedSeconds: back && t.lastOpenAt !== undefined ? (t.lastOpenAt - killAt) / 1000 : undefined,
          rebootedSeconds: back && t.lastBootAt !== undefined ? (t.lastBootAt - killAt) / 1000 : undefined,
          mostRebootedSeconds: mostBackAt !== undefined ? (mostBackAt - killAt) / 1000 : undefined,
          processesAfter: processTree(gw.pid).length,
        };
        log(`kill: ${t.disconnects} CPs dropped, ${back ? `all back after ${String(kill['reconnectedSeconds'])} s` : 'not all back'}`);
      }
    }

    // ---- report ----
    const p50 = histogramPercentile(hold.histogram, 50);
    const p99 = histogramPercentile(hold.histogram, 99);
    const json = {
      n, workers, loadgens, addresses, concurrency, heartbeatSeconds: heartbeatS, holdSeconds, jitterMs,
      storm: { allConnected: allBooted, allConnectedSeconds: allConnectedS, connectsPerSecond: allConnectedS ? n / allConnectedS : undefined, allBootedSeconds: allBootedS, connectErrors: storm.connectErrors, connectErrorKinds: storm.connectErrorKinds, disconnects: storm.disconnects, closeCodes: storm.closeCodes, cpu: stormCpu },
      hold: { open: hold.open, disconnects: hold.disconnects, closeCodes: hold.closeCodes, connectErrors: hold.connectErrors, heartbeatsSent: hold.heartbeatsSent, heartbeatsAnswered: hold.heartbeatsAnswered, heartbeatErrors: hold.heartbeatErrors, heartbeatsLate: hold.heartbeatsLate, p50Ms: p50, p99Ms: p99, maxMs: hold.maxLatencyMs, gatewayCpuPercent: holdGatewayCpuPercent, histogram: hold.histogram },
      gateway: { processes: pids.length, rssIdleBytes: rssIdle, rssConnectedBytes: rssConnected, rssEndBytes: rssEnd, rssByProcess, kibPerCp: kib(rssEnd) / n, kibPerCpOverIdle: kib(rssEnd - rssIdle) / n },
      kill,
    };
    const rows: Array<Array<string | number>> = [
      ['CPs', n.toLocaleString('en-US')],
      ['gateway workers (processes)', `${workers} (${pids.length})`],
      ['load generators × source addresses', `${loadgens} × ${addresses} (${concurrency} handshakes in flight per generator)`],
      ['all connected after (from the start of the storm)', allConnectedS === undefined ? `not within ${connectTimeoutS} s` : `${allConnectedS.toFixed(1)} s`],
      ['connect rate', allConnectedS ? `${Math.round(n / allConnectedS).toLocaleString('en-US')} /s` : '–'],
      ['all booted after', allBootedS === undefined ? '–' : `${allBootedS.toFixed(1)} s`],
      ['CPU during the storm: gateway (all processes) / load generators / service (this process)', `${stormCpu.gatewaySeconds.toFixed(1)} / ${stormCpu.loadgensSeconds.toFixed(1)} / ${stormCpu.serviceSeconds.toFixed(1)} s over ${stormCpu.wallSeconds.toFixed(1)} s`],
      ['connect errors during the storm', `${storm.connectErrors} (${fmtCodes(storm.connectErrorKinds)})`],
      ['hold', `${holdSeconds.toFixed(0)} s, a Heartbeat per CP every ${heartbeatS} s`],
      ['disconnects during the hold', `${hold.disconnects} (close codes: ${fmtCodes(hold.closeCodes)})`],
      ['heartbeats sent / answered during the hold', `${hold.heartbeatsSent} / ${hold.heartbeatsAnswered} (${hold.heartbeatErrors} CALLERROR, ${hold.heartbeatsLate} skipped as still unanswered)`],
      ['gateway CPU during the hold (all processes)', `${holdGatewayCpuPercent.toFixed(1)} % of a core`],
      ['heartbeat round trip p50 / p99 / max', `${fmtMs(p50)} / ${fmtMs(p99)} / ${fmtMs(hold.maxLatencyMs)} ms`],
      ['gateway RSS, all processes: idle → connected → end of hold', `${(rssIdle / 2 ** 20).toFixed(0)} → ${(rssConnected / 2 ** 20).toFixed(0)} → ${(rssEnd / 2 ** 20).toFixed(0)} MiB`],
      ['gateway KiB per CP (end RSS / N; growth over idle / N)', `${(kib(rssEnd) / n).toFixed(1)}; ${(kib(rssEnd - rssIdle) / n).toFixed(1)}`],
    ];
    if (kill) {
      rows.push(['kill -9 of one worker: CPs dropped', `${String(kill['disconnected'])} (close codes: ${fmtCodes(kill['closeCodes'] as Record<string, number>)}; ${String(kill['connectErrors'])} connect errors while reconnecting)`]);
      rows.push(['… 99 % of them booted again after (to within the generators\' 0.5 s reports)', kill['mostRebootedSeconds'] !== undefined ? `${(kill['mostRebootedSeconds'] as number).toFixed(1)} s` : 'not in time']);
      rows.push(['… all reconnected / booted again after', kill['allBack'] ? `${(kill['reconnectedSeconds'] as number).toFixed(1)} s / ${(kill['rebootedSeconds'] as number).toFixed(1)} s` : 'not all back in time']);
    }
    const flagsUsed = `--cps=${n}${workersFlag !== undefined ? ` --workers=${workersFlag}` : ''} --hold=${holdS} --heartbeat=${heartbeatS} --loadgens=${loadgens} --addresses=${addresses}${killWorker ? ' --kill-worker' : ''}`;
    const markdown = [
      `### Scale: ${n.toLocaleString('en-US')} idle CPs (ocpp1.6, BootNotification, a Heartbeat every ${heartbeatS} s spread evenly, answered by one MQTT.js service at QoS 1) against one gateway host, workers ${workers}; \`npm run bench -- scale ${flagsUsed}\``,
      '',
      table(['measure', 'value'], rows),
      '',
      `Goals (issue 16, at 100,000 CPs): all connected within 60 s, no disconnect in a 10-minute hold, heartbeat p99 < 1 s, gateway RSS (all processes) < 2 GiB (≈ 21 KiB per CP), a killed worker's CPs back within 30 s.`,
    ].join('\n');
    return { markdown, json };
  } finally {
    stopping = true;
    for (const g of gens) g.send('stop');
    await Promise.all(gens.map((g) => waitForExit(g.child, 10_000)));
    await svc?.endAsync(true).catch(() => undefined);
    if (gw && gw.child.exitCode === null && gw.child.signalCode === null) {
      const tree = processTree(gw.pid).map((p) => ({ p, started: startTime(p) }));
      const exited = waitForExit(gw.child, 20_000);
      gw.child.kill('SIGTERM');
      await exited;
      // A worker left behind: killed only if that pid is still the same process (same start time).
      for (const { p, started } of tree.reverse()) {
        if (started !== undefined && startTime(p) === started) {
          try {
            process.kill(p, 'SIGKILL');
          } catch { /* gone */ }
        }
      }
    }
    killAll();
    process.removeListener('exit', killAll);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

let stopping = false;

/** A process's start time (clock ticks since boot, /proc/PID/stat field 22); undefined when it is gone. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Waits for a child to exit, at most `ms`; then kills it. */
async function waitForExit(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  await exited;
  clearTimeout(timer);
}
