// Reconnect delays towards an external broker: doubling, capped, jittered, reset after a connection. [SPEC §7]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '../src/bridge/backoff.js';

test('[SPEC §7] backoff doubles from the first delay up to the cap', () => {
  const b = new Backoff(1000, 30_000, 0.3, () => 0);
  assert.deepEqual(Array.from({ length: 8 }, () => b.next()), [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
});

test('[SPEC §7] jitter takes up to its share off each delay, never adds', () => {
  const most = new Backoff(1000, 30_000, 0.3, () => 0.999_999);
  assert.deepEqual([most.next(), most.next(), most.next()], [700, 1400, 2800]);
  const half = new Backoff(10_000, 30_000, 0.5, () => 0.5);
  assert.equal(half.next(), 7500);
});

test('[SPEC §7] reset after a successful connection starts again from the first delay', () => {
  const b = new Backoff(500, 8000, 0, () => 0);
  b.next();
  b.next();
  b.next();
  b.reset();
  assert.equal(b.next(), 500);
});

test('[SPEC §7] no delay is shorter than 100 ms, whatever the settings', () => {
  const b = new Backoff(50, 60, 1, () => 0.999);
  assert.equal(b.next(), 100);
});
