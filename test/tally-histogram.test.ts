// The hot-path histogram exports exactly what prom-client's Histogram exports for the same
// observations: text exposition, JSON, and cluster aggregation. [SPEC §9]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { TallyHistogram } from '../src/obs/tally-histogram.js';

const BUCKETS = [0.001, 0.01, 0.1, 1, 10];
const SAMPLES: Array<[string, string, number]> = [
  ['upstream', 'Heartbeat', 0.0004], ['upstream', 'Heartbeat', 0.001], ['upstream', 'Heartbeat', 0.02],
  ['dnstream', 'Reset', 3], ['dnstream', 'Reset', 30], ['upstream', 'MeterValues', 0.1], ['upstream', 'Heartbeat', 0],
];

function both(): { ours: Registry; theirs: Registry } {
  const ours = new Registry();
  const theirs = new Registry();
  const a = new TallyHistogram({ name: 'rt_seconds', help: 'Round trips.', labelNames: ['direction', 'action'], buckets: BUCKETS, registers: [ours] });
  const b = new Histogram({ name: 'rt_seconds', help: 'Round trips.', labelNames: ['direction', 'action'], buckets: BUCKETS, registers: [theirs] });
  for (const [direction, action, v] of SAMPLES) {
    a.labels({ direction, action }).observe(v);
    b.labels({ direction, action }).observe(v);
  }
  return { ours, theirs };
}

test('[SPEC §9] TallyHistogram: the text exposition equals prom-client Histogram\'s for the same observations', async () => {
  const { ours, theirs } = both();
  assert.equal(await ours.metrics(), await theirs.metrics());
});

test('[SPEC §9] TallyHistogram: JSON and cluster aggregation (sum over workers) equal prom-client\'s', async () => {
  const { ours, theirs } = both();
  const [o, t] = [await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON()];
  assert.deepEqual(JSON.parse(JSON.stringify(o)), JSON.parse(JSON.stringify(t)));
  const agg = (x: unknown) => AggregatorRegistry.aggregate([x, x] as never).metrics();
  assert.equal(await agg(o), await agg(t));
});

test('[SPEC §9] TallyHistogram: an unlabelled histogram, a non-finite value ignored, reset empties it', async () => {
  const reg = new Registry();
  const h = new TallyHistogram({ name: 'p_seconds', help: 'P.', buckets: [0.5], registers: [reg] });
  h.observe(0.2);
  h.observe(Number.NaN);
  h.observe(2);
  assert.match(await reg.metrics(), /p_seconds_bucket\{le="0.5"\} 1\np_seconds_bucket\{le="\+Inf"\} 2\np_seconds_sum 2.2\np_seconds_count 2/);
  h.reset();
  assert.doesNotMatch(await reg.metrics(), /p_seconds_count/);
});
