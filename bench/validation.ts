// Issue: message format checking. (1) Validations per second of three common payloads with the
// compiled validators; (2) the gateway's round-trip throughput with validation `all` vs `disable`,
// interleaved A B A B in one run, reported as medians and a ratio.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { PROTOCOLS } from '../src/ocpp/protocols.js';
import { bundledSchemas } from '../src/validation/schema-source.js';
import { SchemaValidator } from '../src/validation/validator.js';
import { connectFleet, startService, upstreamRoundTrips } from './lib/load.js';
import { startTarget } from './lib/targets.js';
import { cpuMs, median, percentile, table } from './lib/stats.js';

interface Curated { action: string; kind: 'req' | 'conf'; payload: object }
const corpus = JSON.parse(readFileSync(new URL('../test/fixtures/ocpp16-valid.json', import.meta.url), 'utf8')) as { curated: Record<string, Curated> };
const pick = (name: string): Curated => {
  const c = corpus.curated[name];
  if (!c) throw new Error(`no curated payload ${name}`);
  return c;
};

export interface BenchOptions { quick: boolean }

export async function run(opts: BenchOptions): Promise<{ markdown: string; json: unknown }> {
  const validator = new SchemaValidator(PROTOCOLS['ocpp1.6'], bundledSchemas('ocpp1.6'));
  const payloads = [pick('BootNotification.req real charger'), pick('MeterValues.req ten samples'), pick('StatusNotification.req charging')];
  const micro: Array<{ action: string; opsPerSec: number }> = [];
  for (const p of payloads) {
    const reps: number[] = [];
    for (let rep = 0; rep < 5; rep++) {
      // The gateway validates the object its codec already parsed (in every mode), so parsing is not counted.
      const payload = structuredClone(p.payload);
      let n = 0;
      const start = performance.now();
      const until = start + (opts.quick ? 100 : 400);
      while (performance.now() < until) {
        for (let i = 0; i < 1000; i++) if (!validator.validate(p.action, p.kind, payload).ok) throw new Error('corpus payload invalid');
        n += 1000;
      }
      reps.push(n / ((performance.now() - start) / 1000));
    }
    micro.push({ action: p.action, opsPerSec: median(reps) });
  }

  // A discarded warm-up first (the load generator's own JIT), then A B A B ...
  const modes = ['warmup', 'all', 'disable', 'all', 'disable', ...(opts.quick ? [] : ['all', 'disable', 'all', 'disable'])];
  const samples: Record<string, Array<{ rps: number; p50: number; p99: number; cpuPer1000: number }>> = { all: [], disable: [] };
  for (const mode of modes) {
    const gw = await startTarget('gateway', [`message_format_checking=${mode === 'warmup' ? 'all' : mode}`]);
    const svc = await startService(gw.mqttPort);
    const fleet = await connectFleet(gw.ocppPort, 200);
    try {
      const cpuBefore = cpuMs(gw.pid);
      const r = await upstreamRoundTrips(fleet, opts.quick ? 2 : 5, 'meter');
      const cpu = cpuMs(gw.pid) - cpuBefore;
      samples[mode]?.push({ rps: r.roundTrips / r.seconds, p50: percentile(r.latenciesMs, 50), p99: percentile(r.latenciesMs, 99), cpuPer1000: (cpu / r.roundTrips) * 1000 });
    } finally {
      fleet.close();
      await svc.endAsync(true);
      await gw.stop();
    }
  }
  const summary = Object.fromEntries(Object.entries(samples).map(([mode, s]) => [mode, {
    rps: median(s.map((x) => x.rps)), p50: median(s.map((x) => x.p50)), p99: median(s.map((x) => x.p99)), cpuPer1000: median(s.map((x) => x.cpuPer1000)),
  }])) as Record<'all' | 'disable', { rps: number; p50: number; p99: number; cpuPer1000: number }>;
  const throughputCost = 1 - summary.all.rps / summary.disable.rps;
  // Each MeterValues round trip validates the CALL and its (empty) response.
  const confValidator = (() => {
    const empty = {};
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < 200) {
      for (let i = 0; i < 1000; i++) validator.validate('MeterValues', 'conf', empty);
      n += 1000;
    }
    return n / ((performance.now() - start) / 1000);
  })();
  const meterOps = micro.find((m) => m.action === 'MeterValues')?.opsPerSec ?? Number.NaN;
  const validationCpuPer1000 = (1000 / meterOps + 1000 / confValidator) * 1000;
  const computedShare = validationCpuPer1000 / summary.disable.cpuPer1000;
  const spread = (xs: number[]) => (Math.max(...xs) - Math.min(...xs)) / median(xs);
  const cpuCost = summary.all.cpuPer1000 / summary.disable.cpuPer1000 - 1;

  const markdown = [
    '### Validation micro-benchmark (validate a parsed payload, median of 5)',
    '',
    table(['payload', 'validations/s'], micro.map((m) => [m.action, Math.round(m.opsPerSec)])),
    '',
    `### Round trips, 200 CPs each with one MeterValues (10 samples) outstanding, embedded broker, QoS 1 (medians of ${(modes.length - 1) / 2} interleaved runs each, after a discarded warm-up)`,
    '',
    table(['message_format_checking', 'round trips/s', 'p50 ms', 'p99 ms', 'gateway CPU ms / 1000 RT'], (['all', 'disable'] as const).map((m) => [m, Math.round(summary[m].rps), summary[m].p50, summary[m].p99, summary[m].cpuPer1000])),
    '',
    `Measured side by side: validation changes round-trip throughput by ${(-throughputCost * 100).toFixed(1)}% and gateway CPU per round trip by ${(cpuCost * 100).toFixed(1)}%; the run-to-run spread of throughput is ${(spread(samples['all']?.map((x) => x.rps) ?? []) * 100).toFixed(0)}% (all) and ${(spread(samples['disable']?.map((x) => x.rps) ?? []) * 100).toFixed(0)}% (disable), so differences below that are noise.`,
    '',
    `Computed: validating one MeterValues CALL and its response costs ${(validationCpuPer1000).toFixed(1)} ms of CPU per 1000 round trips, ${(computedShare * 100).toFixed(1)}% of the gateway's ${summary.disable.cpuPer1000.toFixed(1)} ms per 1000 round trips without validation (target: under 10%).`,
  ].join('\n');
  return { markdown, json: { micro, roundTrip: { samples, summary, throughputCost, cpuCost }, computed: { validationCpuPer1000, share: computedShare } } };
}
