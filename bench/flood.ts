// One hostile charge point floods the gateway while well-behaved ones keep calling: how much of their
// service does it take away, and how much memory does it cost? [SPEC §8 isolation] [issue G]
// Phases on one gateway process: `quiet` (good CPs only), then one `flood` phase per attack, each
// compared with the quiet phase of the same run. The attacker reconnects whenever it is closed, as a
// real one would, and never waits for answers; it honours ws backpressure so the load generator itself
// does not balloon.
import WebSocket from 'ws';
import mqtt from 'mqtt';
import { connectFleet, startService, upstreamRoundTrips, type RoundTripResult } from './lib/load.js';
import { startGatewayProcess } from './lib/gateway-process.js';
import { percentile, rssBytes, table } from './lib/stats.js';
import { BENCH_GATEWAY_SETTINGS } from './lib/targets.js';

type Attack = { name: string; frame: (seq: number) => string };

const ATTACKS: Attack[] = [
  // 2,000,000 of these took every other CP's service away for 90 s before issue G.
  { name: 'CALLRESULT for no pending CALL', frame: (s) => `[3,"ghost-${s}",{}]` },
  { name: 'CALL of an unknown action', frame: (s) => `[2,"u-${s}","NoSuchAction",{}]` },
  { name: 'CALL failing its schema', frame: (s) => `[2,"v-${s}","Heartbeat",{"extra":${s}}]` },
];

interface Attacker { framesSent: number; connections: number; closeCodes: Map<number, number>; stop(): Promise<void> }

function startAttacker(port: number, attack: Attack): Attacker {
  const state: Attacker = { framesSent: 0, connections: 0, closeCodes: new Map(), stop: async () => undefined };
  let running = true;
  let current: WebSocket | undefined;
  const connect = () => {
    if (!running) return;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ocpp/ATTACKER`, ['ocpp1.6'], { localAddress: '127.0.0.200', perMessageDeflate: false });
    current = ws;
    ws.on('error', () => undefined);
    ws.on('message', () => undefined);
    ws.on('open', () => {
      state.connections++;
      const pump = () => {
        if (!running || ws.readyState !== WebSocket.OPEN) return;
        // Keep about 1 MiB queued in the kernel/ws buffer: as fast as the gateway reads, no faster.
        for (let i = 0; i < 200 && ws.bufferedAmount < 1 << 20; i++) ws.send(attack.frame(state.framesSent++));
        setImmediate(pump);
      };
      pump();
    });
    ws.on('close', (code) => {
      state.closeCodes.set(code, (state.closeCodes.get(code) ?? 0) + 1);
      if (running) setTimeout(connect, 10);
    });
  };
  connect();
  state.stop = async () => {
    running = false;
    current?.terminate();
  };
  return state;
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
    const quiet = summary(await upstreamRoundTrips(fleet, seconds));
    rows.push(['none (quiet)', Math.round(quiet.rps), quiet.p50, quiet.p99, 1, '-', '-', '-', (rss0 / 2 ** 20).toFixed(0), '-']);
    json['quiet'] = { ...quiet, rssMiB: rss0 / 2 ** 20 };
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
      const attacker = startAttacker(gw.ocppPort, attack);
      const r = summary(await upstreamRoundTrips(fleet, seconds));
      await attacker.stop();
      clearInterval(sampler);
      const alive = gw.child.exitCode === null;
      const codes = [...attacker.closeCodes].map(([c, n]) => `${c}×${n}`).join(' ');
      rows.push([attack.name, Math.round(r.rps), r.p50, r.p99, r.rps / quiet.rps, attacker.framesSent, attacker.connections, codes || '-', (peak / 2 ** 20).toFixed(0), `${rejectedEvents}${alive ? '' : ' (gateway died)'}`]);
      json[attack.name] = { ...r, ratioToQuiet: r.rps / quiet.rps, framesSent: attacker.framesSent, connections: attacker.connections, closeCodes: Object.fromEntries(attacker.closeCodes), peakRssMiB: peak / 2 ** 20, rejectedEvents, alive };
      if (!alive) break;
    }
  } finally {
    fleet.close();
    await svc.endAsync(true);
    await events.endAsync(true);
    if (gw.child.exitCode === null) await gw.stop();
  }
  const markdown = `${goodCps} good charge points, one Heartbeat outstanding each, ${seconds} s per phase; one attacker from 127.0.0.200 that reconnects when closed.\n\n` +
    table(['attack', 'good round trips/s', 'p50 ms', 'p99 ms', 'ratio to quiet', 'attacker frames sent', 'attacker connections', 'close codes', 'gateway peak RSS MiB', 'event/rejected published'], rows);
  return { markdown, json };
}
