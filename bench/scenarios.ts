// The gateway side by side with what users would pick instead (the DIY bridge), the zero-logic pipe
// and the floor. Each target runs as its own process; repetitions are interleaved (A B C …, then
// … C B A) and reported as medians; CPU and RSS come from /proc. Ratios compare targets of one run.
import { performance } from 'node:perf_hooks';
import { bootAll, connectFleet, downstreamRoundTrips, startService, upstreamRoundTrips, type Mix, type RoundTripResult } from './lib/load.js';
import { cpuMs, median, peakRssBytes, percentile, rssBytes, table } from './lib/stats.js';
import { startTarget, type RunningTarget, type TargetName } from './lib/targets.js';

export interface BenchOptions { quick: boolean; flags?: Record<string, string> }
type Sample = { rps: number; p50: number; p99: number; cpuPer1000: number; helperCpuPer1000: number; loadgenCpuPer1000: number; peakRssBytes?: number };

const processCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

function interleaved<T>(items: T[], reps: number): T[] {
  const out: T[] = [];
  for (let r = 0; r < reps; r++) out.push(...(r % 2 === 0 ? items : [...items].reverse()));
  return out;
}

async function measure(target: RunningTarget, run: () => Promise<RoundTripResult>): Promise<Sample> {
  const cpu0 = cpuMs(target.pid);
  const helper0 = target.helperPids.reduce((a, p) => a + cpuMs(p), 0);
  const gen0 = processCpuMs();
  const r = await run();
  const per1000 = (ms: number) => (ms / r.roundTrips) * 1000;
  return {
    rps: r.roundTrips / r.seconds,
    p50: percentile(r.latenciesMs, 50),
    p99: percentile(r.latenciesMs, 99),
    cpuPer1000: per1000(cpuMs(target.pid) - cpu0),
    helperCpuPer1000: per1000(target.helperPids.reduce((a, p) => a + cpuMs(p), 0) - helper0),
    loadgenCpuPer1000: per1000(processCpuMs() - gen0),
  };
}

function summarize(samples: Map<TargetName, Sample[]>) {
  const out = new Map<TargetName, Sample>();
  for (const [name, s] of samples) {
    out.set(name, {
      rps: median(s.map((x) => x.rps)), p50: median(s.map((x) => x.p50)), p99: median(s.map((x) => x.p99)),
      cpuPer1000: median(s.map((x) => x.cpuPer1000)), helperCpuPer1000: median(s.map((x) => x.helperCpuPer1000)), loadgenCpuPer1000: median(s.map((x) => x.loadgenCpuPer1000)),
    });
  }
  return out;
}

function roundTripTable(summary: Map<TargetName, Sample>): string {
  return table(['target', 'round trips/s', 'p50 ms', 'p99 ms', 'target CPU ms / 1000 RT', 'broker CPU ms / 1000 RT', 'load generator CPU ms / 1000 RT'],
    [...summary].map(([name, s]) => [name, Math.round(s.rps), s.p50, s.p99, s.cpuPer1000, s.helperCpuPer1000, s.loadgenCpuPer1000]));
}

const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? Number.NaN : a / b);

/**
 * One run of the upstream round-trip load against a fresh `name`: a service, n CPs connected (the
 * time it took and the target's RSS growth), a 1 s warm-up, then `seconds` measured; all stopped.
 */
async function upstreamSample(name: TargetName, n: number, seconds: number, mix: Mix = 'alternate'): Promise<{ sample: Sample; connectSeconds: number; connectBytes: number }> {
  const target = await startTarget(name);
  const svc = target.mqttPort ? await startService(target.mqttPort) : undefined;
  const rss0 = rssBytes(target.pid);
  const t0 = performance.now();
  const fleet = await connectFleet(target.ocppPort, n);
  const connectSeconds = (performance.now() - t0) / 1000;
  const connectBytes = rssBytes(target.pid) - rss0;
  try {
    await upstreamRoundTrips(fleet, 1, mix); // warm-up, discarded
    const sample = await measure(target, () => upstreamRoundTrips(fleet, seconds, mix));
    sample.peakRssBytes = peakRssBytes(target.pid) + target.helperPids.reduce((a, p) => a + peakRssBytes(p), 0);
    return { sample, connectSeconds, connectBytes };
  } finally {
    fleet.close();
    await svc?.endAsync(true);
    await target.stop();
  }
}

const MIXES: Record<string, { mix: Mix; label: string }> = {
  small: { mix: 'small', label: 'small messages: Heartbeat and MeterValues of one sample (218 B payload) alternately' },
  ten: { mix: 'alternate', label: 'Heartbeat and MeterValues of 10 samples alternately' },
};
const ROUNDTRIP_TARGETS: TargetName[] = ['gateway', 'gateway-mosquitto', 'diy', 'diy-mqttjs-hop', 'pipe', 'floor'];
const TARGET_LABELS: Record<string, string> = {
  gateway: 'gateway (embedded broker)',
  'gateway-baseline': 'gateway before (--baseline), embedded broker',
  'gateway-workers2': 'gateway, ocpp.workers 2 (primary with the embedded broker + 2 workers)',
  'gateway-mosquitto': 'gateway + external Mosquitto',
  diy: 'lean DIY: ocpp-rpc strict + in-process aedes',
  'diy-tuned': 'lean DIY with the gateway\'s Node flags',
  'diy-mqttjs-hop': 'DIY with an MQTT.js hop to its own aedes',
  pipe: 'pipe: ws + in-process aedes, no OCPP logic',
  floor: 'floor: bare ws answering every CALL',
};

const spread = (values: number[], digits: number) => {
  const f = (v: number) => (digits === 0 ? Math.round(v).toLocaleString('en-US') : v.toFixed(digits));
  const m = median(values);
  return values.length > 1 ? `${f(m)} (${f(Math.min(...values))}–${f(Math.max(...values))})` : f(m);
};

/**
 * Per-core efficiency (issue 15): every target under both mixes, `reps` repetitions interleaved
 * (targets forward, then reversed, mixes inside each repetition), each sample a fresh process. CPU is
 * the target's process plus its external broker's or its workers'; peak RSS likewise (VmHWM). Flags: --cps,
 * --seconds, --reps, --mixes=small,ten, --targets=a,b,… (names: bench/lib/targets.ts TargetName, e.g.
 * gateway-workers2)
 */
export async function roundtrip(opts: BenchOptions) {
  const f = opts.flags ?? {};
  const n = Number(f['cps'] ?? (opts.quick ? 200 : 1000));
  const seconds = Number(f['seconds'] ?? (opts.quick ? 2 : 3));
  const reps = Number(f['reps'] ?? (opts.quick ? 1 : 3));
  const mixes = (f['mixes'] ?? 'small,ten').split(',').filter((m) => MIXES[m]);
  const targets = (f['targets']?.split(',') as TargetName[] | undefined) ?? ROUNDTRIP_TARGETS;
  const samples = new Map<string, Map<TargetName, Sample[]>>(mixes.map((m) => [m, new Map(targets.map((t) => [t, []]))]));
  for (let r = 0; r < reps; r++) {
    for (const mix of mixes) {
      for (const name of r % 2 === 0 ? targets : [...targets].reverse()) {
        const { sample } = await upstreamSample(name, n, seconds, MIXES[mix]!.mix);
        samples.get(mix)?.get(name)?.push(sample);
        process.stderr.write(`roundtrip ${mix} rep ${r + 1}/${reps} ${name}: ${Math.round(sample.rps)} RT/s, p99 ${sample.p99.toFixed(1)} ms, CPU ${(sample.cpuPer1000 + sample.helperCpuPer1000).toFixed(1)} ms/1000 RT\n`);
      }
    }
  }
  const sections: string[] = [];
  const json: Record<string, unknown> = {};
  for (const mix of mixes) {
    const byTarget = samples.get(mix)!;
    const med = (name: TargetName, key: (x: Sample) => number) => {
      const list = byTarget.get(name);
      return list && list.length > 0 ? median(list.map(key)) : undefined;
    };
    const cpu = (x: Sample) => x.cpuPer1000 + x.helperCpuPer1000;
    const rows = targets.map((name) => {
      const list = byTarget.get(name) ?? [];
      const r = (key: (x: Sample) => number, base: TargetName) => ratio(med(name, key), med(base, key)).toFixed(2);
      return [
        TARGET_LABELS[name] ?? name,
        spread(list.map((x) => x.rps), 0),
        spread(list.map((x) => x.p99), 1),
        spread(list.map(cpu), 1),
        spread(list.map((x) => (x.peakRssBytes ?? 0) / 2 ** 20), 0),
        `×${r((x) => x.rps, 'diy')}`, `×${r((x) => x.p99, 'diy')}`, `×${r(cpu, 'diy')}`,
        `×${r((x) => x.rps, 'pipe')}`, `×${r(cpu, 'pipe')}`,
        name.startsWith('gateway-mosquitto') ? med(name, (x) => x.helperCpuPer1000)?.toFixed(1) ?? '–' : '–', med(name, (x) => x.loadgenCpuPer1000)?.toFixed(1) ?? '–',
      ];
    });
    const g = (key: (x: Sample) => number, base: TargetName, who: TargetName = 'gateway') => ratio(med(who, key), med(base, key)).toFixed(2);
    sections.push([
      `### ${n.toLocaleString('en-US')} CPs, ${MIXES[mix]!.label}; one CALL outstanding per CP, service MQTT.js at QoS 1, validation all; ${seconds} s per repetition after a 1 s warm-up; medians of ${reps} interleaved repetitions (min–max)`,
      '',
      table(['target', 'round trips/s', 'p99 ms', 'CPU ms / 1000 RT', 'peak RSS MiB', 'RT/s vs lean DIY', 'p99 vs lean DIY', 'CPU vs lean DIY', 'RT/s vs pipe', 'CPU vs pipe', 'of which broker CPU ms / 1000 RT', 'load generator CPU ms / 1000 RT'], rows),
      '',
      `Goals (issue 15): gateway throughput ×${g((x) => x.rps, 'diy')} of the lean DIY (goal ≥ 2), p99 ×${g((x) => x.p99, 'diy')} (goal ≤ 0.5), CPU per 1000 RT ×${g(cpu, 'pipe')} of the pipe (goal ≤ 1.3); with external Mosquitto throughput ×${g((x) => x.rps, 'diy', 'gateway-mosquitto')} of the lean DIY (goal ≥ 1.5).`,
    ].join('\n'));
    json[mix] = { samples: Object.fromEntries(byTarget) };
  }
  return { markdown: sections.join('\n\n'), json: { n, seconds, reps, mixes, targets, results: json } };
}

export async function downstream(opts: BenchOptions) {
  const n = opts.quick ? 200 : 1000;
  const seconds = opts.quick ? 3 : 10;
  const targets: TargetName[] = ['gateway', 'gateway-mosquitto', 'diy'];
  const samples = new Map<TargetName, Sample[]>(targets.map((t) => [t, []]));
  for (const name of interleaved(targets, opts.quick ? 1 : 2)) {
    const target = await startTarget(name);
    const fleet = await connectFleet(target.ocppPort, n);
    try {
      await downstreamRoundTrips(fleet, target.mqttPort, 1);
      samples.get(name)?.push(await measure(target, () => downstreamRoundTrips(fleet, target.mqttPort, seconds)));
    } finally {
      fleet.close();
      await target.stop();
    }
  }
  const s = summarize(samples);
  const markdown = [
    `### Downstream: the service keeps one GetConfiguration CALL outstanding to each of ${n} CPs; ${seconds} s per run, medians of ${opts.quick ? 1 : 2} interleaved runs`,
    '',
    roundTripTable(s),
    '',
    `Gateway vs DIY bridge: throughput ×${ratio(s.get('gateway')?.rps, s.get('diy')?.rps).toFixed(2)}, CPU per 1000 RT ×${ratio(s.get('gateway')?.cpuPer1000, s.get('diy')?.cpuPer1000).toFixed(2)}.`,
  ].join('\n');
  return { markdown, json: { n, seconds, samples: Object.fromEntries(samples), summary: Object.fromEntries(s) } };
}

async function connectAndBoot(target: RunningTarget, n: number) {
  const rss0 = rssBytes(target.pid);
  const t0 = performance.now();
  const fleet = await connectFleet(target.ocppPort, n, 'CP', 1000);
  const connectedAt = performance.now();
  if (target.mqttPort) await bootAll(fleet);
  const bootedAt = performance.now();
  // One round of heartbeats, as connected chargers do.
  if (target.mqttPort) await upstreamRoundTrips(fleet, 0.5);
  return { fleet, rss0, connectSeconds: (connectedAt - t0) / 1000, bootSeconds: (bootedAt - t0) / 1000 };
}

/**
 * Idle memory per connection (issue 15): N CPs connect (1000 handshakes at a time, from 20 source
 * addresses), BootNotification, one round of Heartbeats; RSS growth of the target divided by N, read
 * twice: `settleMs` after the last Heartbeat (what the connect burst left, its garbage included) and
 * again after a full garbage collection, which every target gets the same way through its inspector
 * (what the connections hold). Targets side by side (gateway, lean DIY, bare-ws floor), `reps`
 * repetitions interleaved, each a fresh process. Flags: --cps=N (default 5000, --quick 1000),
 * --reps=R, --targets=a,b,…, --capacity=N (the gateway alone with N CPs; default 19000, 0 skips it),
 * --settle=MS (default 2000), --gc=0 (no inspector, no forced collection).
 */
export async function idle(opts: BenchOptions) {
  const f = opts.flags ?? {};
  const n = Number(f['cps'] ?? (opts.quick ? 1000 : 5000));
  const reps = Number(f['reps'] ?? 1);
  const big = Number(f['capacity'] ?? (opts.quick ? 0 : 19_000));
  const settleMs = Number(f['settle'] ?? 2000);
  const targets = (f['targets']?.split(',') as TargetName[] | undefined) ?? (['gateway', 'diy', 'floor'] as TargetName[]);
  const gc = f['gc'] !== '0';
  type IdleSample = { n: number; rssBaseline: number; rss: number; perConnectionBytes: number; rssAfterGc?: number; perConnectionAfterGcBytes?: number; connectsPerSecond: number; bootedSeconds: number };
  const inspectorPort = async () => {
    const { createServer } = await import('node:net');
    const srv = createServer();
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const { port } = srv.address() as { port: number };
    await new Promise<void>((resolve) => srv.close(() => resolve()));
    return port;
  };
  /** Two full collections in the target, through its inspector (HeapProfiler.collectGarbage). */
  const collectOnce = async (port: number) => {
    const { default: WebSocket } = await import('ws');
    const [page] = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{ webSocketDebuggerUrl: string }>;
    const ws = new WebSocket(page!.webSocketDebuggerUrl);
    try {
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      for (const id of [1, 2]) {
        const answered = new Promise((resolve, reject) => ws.once('message', resolve).once('close', () => reject(new Error('inspector closed'))));
        ws.send(JSON.stringify({ id, method: 'HeapProfiler.collectGarbage' }));
        await answered;
      }
    } finally {
      ws.on('error', () => undefined).close();
    }
    await new Promise((resolve) => setTimeout(resolve, 500)); // the freed pages go back
  };
  const collect = async (port: number) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await collectOnce(port);
      } catch (err) {
        if (attempt === 3) throw err;
        process.stderr.write(`idle: the inspector on port ${port} failed (${String(err)}), again\n`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  };
  const one = async (name: TargetName, count: number): Promise<IdleSample> => {
    const port = gc ? await inspectorPort() : 0;
    const target = await startTarget(name, [], gc ? { nodeArgs: [`--inspect=127.0.0.1:${port}`] } : {});
    const svc = target.mqttPort ? await startService(target.mqttPort) : undefined;
    try {
      if (gc) await collect(port); // the baseline without start-up garbage
      const r = await connectAndBoot(target, count);
      try {
        await new Promise((resolve) => setTimeout(resolve, settleMs));
        const rss = rssBytes(target.pid);
        const s: IdleSample = { n: count, rssBaseline: r.rss0, rss, perConnectionBytes: (rss - r.rss0) / count, connectsPerSecond: count / r.connectSeconds, bootedSeconds: r.bootSeconds };
        if (gc) {
          await collect(port);
          s.rssAfterGc = rssBytes(target.pid);
          s.perConnectionAfterGcBytes = (s.rssAfterGc - r.rss0) / count;
        }
        return s;
      } finally {
        r.fleet.close();
      }
    } finally {
      await svc?.endAsync(true);
      await target.stop();
    }
  };
  const samples = new Map<TargetName, IdleSample[]>(targets.map((t) => [t, []]));
  for (let r = 0; r < reps; r++) {
    for (const name of r % 2 === 0 ? targets : [...targets].reverse()) {
      const s = await one(name, n);
      samples.get(name)?.push(s);
      process.stderr.write(`idle rep ${r + 1}/${reps} ${name}: ${(s.perConnectionBytes / 1024).toFixed(1)} KiB per connection at ${n} CPs${s.perConnectionAfterGcBytes === undefined ? '' : `, ${(s.perConnectionAfterGcBytes / 1024).toFixed(1)} KiB after a full GC`}\n`);
    }
  }
  const med = (name: TargetName, key: (x: IdleSample) => number | undefined = (x) => x.perConnectionBytes) => {
    const list = (samples.get(name) ?? []).map(key).filter((v): v is number => v !== undefined);
    return list.length > 0 ? median(list) : undefined;
  };
  const afterGc = (x: IdleSample) => x.perConnectionAfterGcBytes;
  const kib = (v: number | undefined) => (v === undefined ? '–' : (v / 1024).toFixed(1));
  const rows: Array<Array<string | number>> = targets.map((name) => {
    const list = samples.get(name) ?? [];
    return [
      TARGET_LABELS[name] ?? name, n.toLocaleString('en-US'),
      spread(list.map((x) => x.rssBaseline / 2 ** 20), 0), spread(list.map((x) => x.rss / 2 ** 20), 0),
      spread(list.map((x) => x.perConnectionBytes / 1024), 1),
      `×${ratio(med(name), med('diy')).toFixed(2)}`, `×${ratio(med(name), med('floor')).toFixed(2)}`,
      gc ? spread(list.map((x) => (x.perConnectionAfterGcBytes ?? Number.NaN) / 1024), 1) : '–',
      gc ? `×${ratio(med(name, afterGc), med('diy', afterGc)).toFixed(2)}` : '–', gc ? `×${ratio(med(name, afterGc), med('floor', afterGc)).toFixed(2)}` : '–',
      spread(list.map((x) => x.connectsPerSecond), 0), spread(list.map((x) => x.bootedSeconds), 1),
    ];
  });
  let capacity: IdleSample | undefined;
  if (big > 0) {
    capacity = await one('gateway', big);
    rows.push(['gateway (capacity)', big.toLocaleString('en-US'), (capacity.rssBaseline / 2 ** 20).toFixed(0), (capacity.rss / 2 ** 20).toFixed(0), kib(capacity.perConnectionBytes), '–', '–', kib(capacity.perConnectionAfterGcBytes), '–', '–', Math.round(capacity.connectsPerSecond), capacity.bootedSeconds.toFixed(1)]);
  }
  const g = med('gateway');
  const gGc = med('gateway', afterGc);
  const markdown = [
    `### Idle memory: ${n.toLocaleString('en-US')} CPs connect (1000 handshakes at a time, from 20 source addresses), BootNotification, one Heartbeat each; RSS growth per connection ${settleMs} ms after${gc ? ', and again after a full GC (forced through the inspector, every target alike)' : ''}; medians of ${reps} interleaved repetitions (min–max)`,
    '',
    table(['target', 'CPs', 'RSS before MiB', 'RSS after MiB', 'KiB per connection', 'vs lean DIY', 'vs floor', 'KiB per connection after full GC', 'vs lean DIY', 'vs floor', 'connects/s', 'all booted after s'], rows),
    '',
    `Gateway memory per idle connection: ${kib(g)} KiB settled, ${kib(gGc)} KiB after a full GC (goal, issue 15: ≤ 10 KiB at 10,000 CPs); ×${ratio(g, med('diy')).toFixed(2)} / ×${ratio(gGc, med('diy', afterGc)).toFixed(2)} of the lean DIY's, ×${ratio(g, med('floor')).toFixed(2)} / ×${ratio(gGc, med('floor', afterGc)).toFixed(2)} of the floor's.`,
  ].join('\n');
  return { markdown, json: { n, reps, settleMs, targets, samples: Object.fromEntries(samples), capacity } };
}

export async function storm(opts: BenchOptions) {
  const n = opts.quick ? 1000 : 10_000;
  const rows: Array<Array<string | number>> = [];
  const results: Record<string, number> = {};
  for (const name of ['gateway', 'diy'] as TargetName[]) {
    const target = await startTarget(name);
    const svc = await startService(target.mqttPort);
    try {
      const first = await connectFleet(target.ocppPort, n, 'CP', 1000);
      await bootAll(first);
      const t0 = performance.now();
      first.close(); // every charger drops at once ...
      const again = await connectFleet(target.ocppPort, n, 'CP', 1000); // ... and comes straight back
      await bootAll(again);
      const seconds = (performance.now() - t0) / 1000;
      results[name] = seconds;
      rows.push([name, n, seconds.toFixed(1)]);
      again.close();
    } finally {
      await svc.endAsync(true);
      await target.stop();
    }
  }
  const markdown = [
    `### Reconnect storm: ${n} booted CPs drop at once and reconnect at once (1000 handshakes in flight); time until all are booted again`,
    '',
    table(['target', 'CPs', 'seconds until all booted again'], rows),
    '',
    `Target: the gateway under 30 s.`,
  ].join('\n');
  return { markdown, json: { n, results } };
}

/** mqtt.client_mode shared vs per_client, both through an external Mosquitto: what a link per CP costs. */
export async function clientmodes(opts: BenchOptions) {
  const n = opts.quick ? 200 : 1000;
  const seconds = opts.quick ? 3 : 10;
  const targets: TargetName[] = ['gateway-mosquitto', 'gateway-mosquitto-per-client'];
  const samples = new Map<TargetName, Sample[]>(targets.map((t) => [t, []]));
  const connects = new Map<TargetName, Array<{ seconds: number; bytesPerCp: number }>>(targets.map((t) => [t, []]));
  for (const name of interleaved(targets, opts.quick ? 1 : 2)) {
    const r = await upstreamSample(name, n, seconds);
    samples.get(name)?.push(r.sample);
    connects.get(name)?.push({ seconds: r.connectSeconds, bytesPerCp: r.connectBytes / n });
  }
  const s = summarize(samples);
  const c = new Map([...connects].map(([name, list]) => [name, { seconds: median(list.map((x) => x.seconds)), bytesPerCp: median(list.map((x) => x.bytesPerCp)) }]));
  const shared = s.get('gateway-mosquitto');
  const per = s.get('gateway-mosquitto-per-client');
  const ratios = {
    throughput: ratio(per?.rps, shared?.rps),
    gatewayCpu: ratio(per?.cpuPer1000, shared?.cpuPer1000),
    brokerCpu: ratio(per?.helperCpuPer1000, shared?.helperCpuPer1000),
    memoryPerCp: ratio(c.get('gateway-mosquitto-per-client')?.bytesPerCp, c.get('gateway-mosquitto')?.bytesPerCp),
  };
  const markdown = [
    `### Client modes: ${n} CPs through an external Mosquitto, shared connection vs one broker link per CP (mqtt.client_mode per_client); connect all, then round trips as in "Round trip"; ${seconds} s per run, medians of ${opts.quick ? 1 : 2} interleaved runs`,
    '',
    roundTripTable(s),
    '',
    table(['target', `connect ${n} CPs s`, 'gateway KiB per connected CP'], [...c].map(([name, x]) => [name, x.seconds.toFixed(2), (x.bytesPerCp / 1024).toFixed(1)])),
    '',
    `per_client vs shared: throughput ×${ratios.throughput.toFixed(2)}, gateway CPU per 1000 RT ×${ratios.gatewayCpu.toFixed(2)}, broker CPU per 1000 RT ×${ratios.brokerCpu.toFixed(2)}, gateway memory per CP ×${ratios.memoryPerCp.toFixed(2)}.`,
  ].join('\n');
  return { markdown, json: { n, seconds, samples: Object.fromEntries(samples), summary: Object.fromEntries(s), connects: Object.fromEntries(c), ratios } };
}
