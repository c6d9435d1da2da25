// Reports of refused upgrades, budgeted per source address [SPEC §8]: a burst from one address gets
// maxReports log lines and events per window and one summary; other addresses keep theirs; memory is
// bounded by maxAddresses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RefusalReports } from '../src/transport/refusal-reports.js';
import { manualClock } from './support/manual-clock.js';

function reports(maxReports: number, maxAddresses = 100) {
  const clock = manualClock();
  const summaries: Array<[string, Record<string, number>]> = [];
  const r = new RefusalReports({ maxReports, windowMs: 1000, maxAddresses, clock, onSummary: (source, held) => summaries.push([source, Object.fromEntries(held)]) });
  return { r, clock, summaries };
}

test('refusal reports: maxReports per address and window, the rest summarised once when the window ends', () => {
  const { r, clock, summaries } = reports(3);
  const allowed = Array.from({ length: 10 }, (_, i) => r.allow('10.0.0.1', i % 2 === 0 ? 'unauthorized' : 'bad_cp_id'));
  assert.deepEqual(allowed, [true, true, true, false, false, false, false, false, false, false]);
  assert.equal(r.allow('10.0.0.2', 'unauthorized'), true, 'another address has its own budget');
  assert.deepEqual(summaries, [], 'no summary before the window ends');
  assert.equal(clock.pending(), 1, 'one summary timer, however many were held back');
  clock.advance(1000);
  assert.deepEqual(summaries, [['10.0.0.1', { bad_cp_id: 4, unauthorized: 3 }]]);
  assert.equal(r.allow('10.0.0.1', 'unauthorized'), true, 'a new window refills the budget');
});

test('refusal reports: memory is bounded; a forgotten address with held reports is summarised first', () => {
  const { r, summaries } = reports(1, 2);
  r.allow('a', 'x');
  r.allow('a', 'x'); // held
  r.allow('b', 'x');
  r.allow('c', 'x'); // forgets a, the least recently seen
  assert.equal(r.trackedAddresses, 2);
  assert.deepEqual(summaries, [['a', { x: 1 }]]);
  r.allow('b', 'x'); // held; b is now the most recent
  r.allow('d', 'x'); // forgets c (nothing held), not b
  assert.deepEqual(summaries, [['a', { x: 1 }]]);
  r.flush();
  assert.deepEqual(summaries, [['a', { x: 1 }], ['b', { x: 1 }]]);
});

test('refusal reports: maxReports 0 reports everything and keeps no state', () => {
  const { r, clock } = reports(0);
  for (let i = 0; i < 1000; i++) assert.equal(r.allow(`10.0.${i >> 8}.${i & 255}`, 'x'), true);
  assert.equal(r.trackedAddresses, 0);
  assert.equal(clock.pending(), 0);
});
