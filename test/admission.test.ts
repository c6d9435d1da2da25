// Admission [SPEC §3, §8]: the per-address bucket in front of the global one; an attempt the address's
// bucket refuses does not spend the global rate; addresses remembered are bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Admission } from '../src/transport/admission.js';
import { systemClock } from '../src/session/clock.js';
import { manualClock } from './support/manual-clock.js';

const clockAt = () => ({ ...systemClock, ...manualClock() });

test('admission: one address gets its burst then its rate; another address still gets the global rate', () => {
  const clock = clockAt();
  const a = new Admission(clock, { rate: 100, burst: 10, ratePerAddress: 2, burstPerAddress: 3, maxAddresses: 100, connectionsPerAddress: 10 });
  const verdicts = Array.from({ length: 50 }, () => a.takeAttempt('10.0.0.1'));
  assert.deepEqual(verdicts.slice(0, 4), ['admitted', 'admitted', 'admitted', 'address_rate_limited']);
  assert.equal(verdicts.filter((v) => v === 'admitted').length, 3);
  // The 47 refused attempts cost the global bucket nothing: 7 of its 10 are left for others.
  const others = Array.from({ length: 8 }, (_, i) => a.takeAttempt(`10.0.1.${i}`));
  assert.deepEqual(others, [...Array<string>(7).fill('admitted'), 'rate_limited']);
  clock.advance(500);
  assert.equal(a.takeAttempt('10.0.0.1'), 'admitted', 'one token back after 0.5 s at 2/s');
  assert.equal(a.takeAttempt('10.0.0.1'), 'address_rate_limited');
});

test('admission: per-address rate 0 is off; addresses remembered are bounded (a forgotten one starts full)', () => {
  const clock = clockAt();
  const off = new Admission(clock, { rate: 1000, burst: 1000, ratePerAddress: 0, burstPerAddress: 1, maxAddresses: 2, connectionsPerAddress: 10 });
  assert.ok(Array.from({ length: 100 }, () => off.takeAttempt('a')).every((v) => v === 'admitted'));
  assert.equal(off.trackedAddresses, 0);
  const on = new Admission(clock, { rate: 1000, burst: 1000, ratePerAddress: 1, burstPerAddress: 1, maxAddresses: 2, connectionsPerAddress: 10 });
  for (const source of ['a', 'b', 'c', 'd']) on.takeAttempt(source);
  assert.equal(on.trackedAddresses, 2);
});
