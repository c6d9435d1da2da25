// The gate in front of expensive credential checks: throttled sources are refused without work, the
// gate's own refusals and the auth service's failures do not count as the client's failures, and
// IPv6 addresses share a /64 source. [SPEC §8]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CheckGate, sourceKey } from '../src/auth/check-gate.js';
import type { AuthDecision } from '../src/auth/provider.js';

function gate(overrides: Partial<ConstructorParameters<typeof CheckGate>[0]> = {}) {
  const clock = { t: 0 };
  const throttled: Array<[string, number]> = [];
  const g = new CheckGate({
    maxInFlight: 1, maxQueued: 10, failureLimit: 2, failureWindowMs: 60_000, backoffMs: 1000, maxBackoffMs: 8000, maxTrackedSources: 100,
    now: () => clock.t, onThrottled: (source, ms) => throttled.push([source, ms]), ...overrides,
  });
  let work = 0;
  const deny = (unavailable = false) => async (): Promise<AuthDecision> => {
    work++;
    return unavailable ? { allow: false, unavailable: true, detail: 'service down' } : { allow: false, detail: 'wrong password' };
  };
  const allow = async (): Promise<AuthDecision> => {
    work++;
    return { allow: true };
  };
  return { g, clock, throttled, deny, allow, work: () => work };
}

test('[SPEC §8] sources: IPv4 as is (also IPv4-mapped), IPv6 by its /64', () => {
  assert.equal(sourceKey('127.0.0.2'), '127.0.0.2');
  assert.equal(sourceKey('::ffff:127.0.0.2'), '127.0.0.2');
  assert.equal(sourceKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(sourceKey('2001:DB8:1:2:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
  assert.equal(sourceKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(sourceKey('::1'), '0:0:0:0::/64');
  assert.equal(sourceKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(sourceKey(''), '');
});

test('[SPEC §8] after failure_limit failures the source gets auth_throttled without any work; others do not', async () => {
  const { g, clock, throttled, deny, allow, work } = gate();
  assert.equal((await g.check('10.0.0.1', undefined, deny())).allow, false);
  await g.check('10.0.0.1', undefined, deny());
  assert.deepEqual(throttled, [['10.0.0.1', 1000]]);
  const refused = await g.check('10.0.0.1', undefined, allow);
  assert.equal(refused.allow ? undefined : refused.refusal, 'auth_throttled');
  assert.equal(work(), 2, 'no check ran for the throttled source');
  assert.equal(g.blockedSources(), 1);
  assert.deepEqual(await g.check('10.0.0.2', undefined, allow), { allow: true });
  clock.t += 1000;
  assert.deepEqual(await g.check('10.0.0.1', undefined, allow), { allow: true });
  // The success cleared the record: two more failures block for the first backoff again.
  await g.check('10.0.0.1', undefined, deny());
  await g.check('10.0.0.1', undefined, deny());
  assert.deepEqual(throttled.at(-1), ['10.0.0.1', 1000]);
});

test('[SPEC §8] a check queued before its source was blocked does no work when its turn comes', async () => {
  const { g, deny, allow, work } = gate();
  const results = await Promise.all([g.check('10.0.0.1', undefined, deny()), g.check('10.0.0.1', undefined, deny()), g.check('10.0.0.1', undefined, allow)]);
  assert.deepEqual(results.map((d) => (d.allow ? 'allow' : d.refusal ?? 'denied')), ['denied', 'denied', 'auth_throttled']);
  assert.equal(work(), 2);
});

test('[SPEC §8] denials the client is not to blame for (auth service down) do not throttle', async () => {
  const { g, deny, allow } = gate();
  for (let i = 0; i < 5; i++) await g.check('10.0.0.1', undefined, deny(true));
  assert.deepEqual(await g.check('10.0.0.1', undefined, allow), { allow: true });
});

test('[SPEC §8] a full queue answers auth_busy, a gone connection handshake_timeout; neither counts as a failure', async () => {
  const { g, allow } = gate({ maxQueued: 1, failureLimit: 1 });
  let release = () => undefined as void;
  const held = g.check('10.0.0.1', undefined, () => new Promise<AuthDecision>((resolve) => (release = () => resolve({ allow: true }))));
  const leaving = new AbortController();
  const queued = g.check('10.0.0.1', leaving.signal, allow);
  const busy = await g.check('10.0.0.1', undefined, allow);
  assert.equal(busy.allow ? undefined : busy.refusal, 'auth_busy');
  leaving.abort();
  const gone = await queued;
  assert.equal(gone.allow ? undefined : gone.refusal, 'handshake_timeout');
  assert.equal(g.dropped, 1);
  release();
  assert.deepEqual(await held, { allow: true });
  assert.deepEqual(await g.check('10.0.0.1', undefined, allow), { allow: true }, 'not throttled');
  assert.deepEqual([g.inFlight, g.queued], [0, 0]);
});
