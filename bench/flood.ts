// One hostile charge point floods the gateway while well-behaved ones keep calling: how much of their
// service does it take away, and how much memory does it cost? [SPEC §8 isolation] [issue G]
// Phases on one gateway process: `quiet` (good CPs only), then one `flood` phase per attack, each
// compared with the quiet phase of the same run. The attacker reconnects whenever it is closed, as a
// real one would, and never waits for answers; it honours ws backpressure so the load generator itself
// does not balloon. The attacker runs in its own process, so its event loop is not the good CPs'.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { connectFleet, startService, upstreamRoundTrips, type RoundTripResult } from './lib/load.js';
import { startGatewayProcess } from './lib/gateway-process.js';
import { cpuMs, percentile, rssBytes, table } from './lib/stats.js';
import { BENCH_GATEWAY_SETTINGS } from './lib/targets.js';
import type { AttackKind, AttackerReport } from './lib/attacker.js';

const ATTACKS: Array<{ name: string; kind: AttackKind }> = [
  // 2,000,000 of these took every other CP's service away for 90 s before issue G.
  { name: 'CALLRESULT for no pending CALL', kind: 'ghost_result' },
  { name: 'CALL of an unknown action', kind: 'unknown_action' },
  { name: 'CALL failing its schema', kind: 'invalid_call' },
];

/** Starts the attacker process; the returned function stops it and reads its report. */
async function startAttacker(port: number, kind: AttackKind): Promise<{ pid: number; stop(): Promise<AttackerReport> }> {
  const child = fork(fileURLToPath(new URL('./lib/attacker.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`the attacker exited with ${code}`)));
    child.send({ start: { port, kind } });
  });
  return {
    pid: child.pid as number,
    stop: () => new Promise((resolve) => {
      child.once('message', (m: { report: AttackerReport }) => resolve(m.report));
      child.send({ stop: true });
    }),
  };
}

function summary(r: RoundTripResult) {
  return { rps: r.roundTrips / r.seconds, p50: percentile(r.latenciesMs, 50), p99: percentile(r.latenciesMs, 99) };
}

export async function run(opts: { quick: boolean }) {
  const goodCps = opts.quick ? 20 : 50;
  const seconds = opts.quick ? 4 : 10;
  const gw = await startGatewayProcess(BENCH_GATEWAY_SETTINGS);
  const svc = await startService(gw.mqttPort);
  const events = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.mqttPort}`, { reconnectPeriod: 0 });
  let rejectedEvents = 0;
  events.on('message', () => rejectedEvents++);
  await events.subscribeAsync('ocpp/ATTACKER/event/rejected', { qos: 0 });
  const fleet = await connectFleet(gw.ocppPort, goodCps, 'GOOD');
  const rows: Array<Array<string | number>> = [];
  const json: Record<string, unknown> = { goodCps, seconds };
  try {
    await upstreamRoundTrips(fleet, 1); // warm-up
    const rss0 = rssBytes(gw.pid);
    const cpuQuiet0 = cpuMs(gw.pid);
    const quiet = summary(await upstreamRoundTrips(fleet, seconds));
    const quietCpu = (cpuMs(gw.pid) - cpuQuiet0) / seconds / 10;
    rows.push(['none (quiet)', Math.round(quiet.rps), quiet.p50, quiet.p99, 1, quietCpu.toFixed(0), '-', '-', '-', '-', (rss0 / 2 ** 20).toFixed(0), '-']);
    json['quiet'] = { ...quiet, gatewayCpuPercent: quietCpu, rssMiB: rss0 / 2 ** 20 };
    for (const attack of ATTACKS) {
      rejectedEvents = 0;
      let peak = rssBytes(gw.pid);
      const sampler = setInterval(() => {
        try {
          peak = Math.max(peak, rssBytes(gw.pid));
        } catch {
          // the process is gone: reported below as a crash
        }
      }, 100);
      const attacker = await startAttacker(gw.ocppPort, attack.kind);
      const cpu0 = cpuMs(gw.pid);
      const attackerCpu0 = cpuMs(attacker.pid);
      const r = summary(await upstreamRoundTrips(fleet, seconds));
      const gatewayCpu = (cpuMs(gw.pid) - cpu0) / seconds / 10;
      const attackerCpu = (cpuMs(attacker.pid) - attackerCpu0) / seconds / 10;
      const report = await attacker.stop();
      clearInterval(sampler);
      const alive = gw.child.exitCode === null;
      const codes = Object.entries(report.closeCodes).map(([c, n]) => `${c}×${n}`).join(' ');
      rows.push([attack.name, Math.round(r.rps), r.p50, r.p99, r.rps / quiet.rps, gatewayCpu.toFixed(0), attackerCpu.toFixed(0), report.framesSent, report.connections, codes || '-', (peak / 2 ** 20).toFixed(0), `${rejectedEvents}${alive ? '' : ' (gateway died)'}`]);
      json[attack.name] = { ...r, ratioToQuiet: r.rps / quiet.rps, gatewayCpuPercent: gatewayCpu, attackerCpuPercent: attackerCpu, ...report, peakRssMiB: peak / 2 ** 20, rejectedEvents, alive };
      if (!alive) break;
    }
  } finally {
    fleet.close();
    await svc.endAsync(true);
    await events.endAsync(true);
    if (gw.child.exitCode === null) await gw.stop();
  }
  const markdown = `${goodCps} good charge points, one Heartbeat outstanding each, ${seconds} s per phase; one attacker (its own process) from 127.0.0.200 that reconnects when closed.\n\n` +
    table(['attack', 'good round trips/s', 'p50 ms', 'p99 ms', 'ratio to quiet', 'gateway CPU %', 'attacker CPU %', 'attacker frames sent', 'attacker connections', 'close codes', 'gateway peak RSS MiB', 'event/rejected published'], rows);
  return { markdown, json };
}
