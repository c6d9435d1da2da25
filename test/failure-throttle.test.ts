// Per-source failure throttling with an injected clock: block after failure_limit failures within the
// window, doubling backoff up to its cap, reset on success, bounded memory. [SPEC §8]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FailureThrottle, type FailureThrottleOptions } from '../src/auth/failure-throttle.js';

function throttle(overrides: Partial<FailureThrottleOptions> = {}) {
  const clock = { t: 1_000_000 };
  const th = new FailureThrottle({ failureLimit: 3, windowMs: 60_000, backoffMs: 10_000, maxBackoffMs: 40_000, maxTracked: 100, now: () => clock.t, ...overrides });
  return { th, clock };
}

test('[SPEC §8] failure_limit failures within the window block the source for the backoff', () => {
  const { th, clock } = throttle();
  assert.equal(th.failed('a'), 0);
  assert.equal(th.failed('a'), 0);
  assert.equal(th.blockedFor('a'), 0);
  assert.equal(th.failed('a'), 10_000);
  assert.equal(th.blockedFor('a'), 10_000);
  assert.equal(th.blockedFor('b'), 0, 'other sources are not affected');
  assert.equal(th.blockedSources(), 1);
  clock.t += 9_999;
  assert.equal(th.blockedFor('a'), 1);
  clock.t += 1;
  assert.equal(th.blockedFor('a'), 0);
  assert.equal(th.blockedSources(), 0);
});

test('[SPEC §8] failures spread wider than the window do not block', () => {
  const { th, clock } = throttle();
  for (let i = 0; i < 10; i++) {
    assert.equal(th.failed('a'), 0);
    if (i % 2 === 1) clock.t += 60_000;
  }
  assert.equal(th.blockedFor('a'), 0);
});

test('[SPEC §8] each further block doubles the backoff, up to the cap; a success starts afresh', () => {
  const { th, clock } = throttle();
  const block = () => {
    let backoff = 0;
    for (let i = 0; i < 3; i++) backoff = th.failed('a');
    clock.t += backoff;
    return backoff;
  };
  assert.deepEqual([block(), block(), block(), block()], [10_000, 20_000, 40_000, 40_000]);
  th.succeeded('a');
  assert.equal(th.tracked, 0);
  assert.equal(block(), 10_000);
});

test('[SPEC §8] a source quiet for longer than the longest backoff plus the window is forgotten', () => {
  const { th, clock } = throttle();
  for (let i = 0; i < 3; i++) th.failed('a');
  for (let i = 0; i < 3; i++) th.failed('a');
  assert.equal(th.blockedFor('a'), 20_000);
  clock.t += 20_000 + 40_000 + 60_000 + 1;
  assert.equal(th.blockedFor('a'), 0);
  assert.equal(th.tracked, 0);
  for (let i = 0; i < 2; i++) th.failed('a');
  assert.equal(th.failed('a'), 10_000, 'the backoff starts over');
});

test('[SPEC §8] failure_limit 0 never blocks and keeps no records', () => {
  const { th } = throttle({ failureLimit: 0 });
  for (let i = 0; i < 100; i++) assert.equal(th.failed('a'), 0);
  assert.equal(th.blockedFor('a'), 0);
  assert.equal(th.tracked, 0);
});

test('[SPEC §8] at most maxTracked sources are remembered; the least recently seen goes first', () => {
  const { th } = throttle({ maxTracked: 3 });
  for (let i = 0; i < 3; i++) th.failed('blocked');
  th.failed('x');
  th.failed('y');
  assert.equal(th.blockedFor('blocked') > 0, true, 'seen now: most recent');
  th.failed('z');
  assert.equal(th.tracked, 3);
  assert.equal(th.blockedFor('blocked') > 0, true, 'x was the least recently seen and was forgotten');
  for (let i = 0; i < 1000; i++) th.failed(`sweep-${i}`);
  assert.equal(th.tracked, 3);
});
