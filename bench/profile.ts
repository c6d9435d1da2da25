// One CPU profile of the gateway under the round-trip load: the gateway process is started with
// `--cpu-prof`, 1,000 CPs (flag --cps) keep one CALL outstanding each with the small-message mix (flag
// --mix=small|ten) for --seconds after a 1 s warm-up. Self time is summed over the samples taken in the
// measured window only (V8's profile clock and process.hrtime are both CLOCK_MONOTONIC), then the top
// entries (flag --top) are listed. The profile itself is left in bench/results/ for DevTools.
import { copyFileSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectFleet, startService, upstreamRoundTrips, type Mix } from './lib/load.js';
import { table } from './lib/stats.js';
import { startTarget, type TargetName } from './lib/targets.js';

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const ROOT = new URL('..', import.meta.url).pathname;

/** Self time per function (name + file:line) within [fromUs, toUs] of the profile's clock. */
export function selfTimes(profile: CpuProfile, fromUs: number, toUs: number): { total: number; entries: Array<{ name: string; where: string; ms: number }> } {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const acc = new Map<string, { name: string; where: string; us: number }>();
  let t = profile.startTime;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    const dt = profile.timeDeltas[i + 1] ?? 0; // a sample's time runs until the next one
    if (t < fromUs || t > toUs) continue;
    const f = byNode.get(profile.samples[i]!);
    if (!f || f.functionName === '(idle)') continue; // waiting, not work
    const where = f.url ? `${f.url.replace(`file://${ROOT}`, '').replace(/^.*node_modules\//, '')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName}@${where}`;
    const e = acc.get(key) ?? { name: f.functionName || '(anonymous)', where, us: 0 };
    e.us += dt;
    total += dt;
    acc.set(key, e);
  }
  return { total: total / 1000, entries: [...acc.values()].sort((a, b) => b.us - a.us).map((e) => ({ name: e.name, where: e.where, ms: e.us / 1000 })) };
}

export async function run(opts: { quick: boolean; flags?: Record<string, string> }) {
  const f = opts.flags ?? {};
  const n = Number(f['cps'] ?? (opts.quick ? 200 : 1000));
  const seconds = Number(f['seconds'] ?? (opts.quick ? 2 : 5));
  const mix = (f['mix'] ?? 'small') === 'ten' ? 'alternate' : 'small' as Mix;
  const top = Number(f['top'] ?? 15);
  const dir = mkdtempSync(join(tmpdir(), 'bench-prof-'));
  const targetName = (f['target'] ?? 'gateway') as TargetName;
  const target = await startTarget(targetName, [], { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
  const svc = await startService(target.mqttPort);
  const fleet = await connectFleet(target.ocppPort, n);
  let fromUs = 0;
  let toUs = 0;
  let roundTrips = 0;
  try {
    await upstreamRoundTrips(fleet, 1, mix); // warm-up, outside the window
    fromUs = Number(process.hrtime.bigint() / 1000n);
    roundTrips = (await upstreamRoundTrips(fleet, seconds, mix)).roundTrips;
    toUs = fromUs + seconds * 1e6;
  } finally {
    fleet.close();
    await svc.endAsync(true);
    await target.stop();
  }
  const file = readdirSync(dir).find((x) => x.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile in ${dir}`);
  const kept = new URL(`./results/${targetName}-${mix === 'small' ? 'small' : 'ten'}.cpuprofile`, import.meta.url).pathname;
  copyFileSync(join(dir, file), kept);
  const { total, entries } = selfTimes(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile, fromUs, toUs);
  const rows = entries.slice(0, top).map((e, i) => [i + 1, `\`${e.name}\``, e.where || '–', e.ms.toFixed(0), `${((e.ms / total) * 100).toFixed(1)} %`]);
  const markdown = [
    `### CPU profile of ${targetName === 'gateway' ? 'the gateway' : targetName}: ${n.toLocaleString('en-US')} CPs, ${mix === 'small' ? 'small-message mix' : '10-sample mix'}, ${seconds} s window after a 1 s warm-up (${Math.round(roundTrips / seconds).toLocaleString('en-US')} round trips/s while profiled); ${total.toFixed(0)} ms of CPU (idle excluded) in the window, top ${top} by self time`,
    '',
    table(['#', 'function', 'where', 'self ms', 'share'], rows),
    '',
    `Profile: ${kept.replace(ROOT, '')}.`,
  ].join('\n');
  return { markdown, json: { target: targetName, n, seconds, mix, roundTrips, fromUs, toUs, totalMs: total, top: entries.slice(0, 40) } };
}
