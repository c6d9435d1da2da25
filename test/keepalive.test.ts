// The shared keepalive sweep [SPEC §3, docs/operations.md "Keepalive"]: one interval for every
// connection of a period, connections staggered over buckets, each checked once per period and never
// later than one step after its own per-connection interval would have checked it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '../src/session/clock.js';
import { BUCKETS, KeepaliveSweep, keepaliveSweep, type KeepaliveMember } from '../src/transport/keepalive.js';

/** A clock whose timers and intervals run only when the test advances it. */
function intervalClock() {
  let now = 0;
  let next = 1;
  const timers = new Map<number, { at: number; every: number | undefined; fn: () => void }>();
  const clock = {
    now: () => now,
    setTimeout: (fn: () => void, ms: number) => (timers.set(next, { at: now + ms, every: undefined, fn }), next++),
    clearTimeout: (h: unknown) => void timers.delete(h as number),
    setInterval: (fn: () => void, ms: number) => (timers.set(next, { at: now + ms, every: ms, fn }), next++),
    clearInterval: (h: unknown) => void timers.delete(h as number),
    /** Timers and intervals pending. */
    pending: () => timers.size,
    /** Moves time to `to`, firing every timer due on the way, in time order. */
    advance(to: number) {
      for (;;) {
        let due: [number, { at: number; every: number | undefined; fn: () => void }] | undefined;
        for (const e of timers) if (e[1].at <= to && (due === undefined || e[1].at < due[1].at)) due = e;
        if (due === undefined) break;
        const [h, t] = due;
        now = t.at;
        if (t.every === undefined) timers.delete(h);
        else t.at += t.every;
        t.fn();
      }
      now = to;
    },
  };
  return clock satisfies Clock;
}

/** A member that records when it was checked (and can act on a check). */
function member(onCheck?: (now: number) => void): KeepaliveMember & { checks: number[] } {
  const checks: number[] = [];
  return { checks, keepaliveCheck: (now) => { checks.push(now); onCheck?.(now); } };
}

test('[SPEC §3] keepalive sweep: one interval for all members, each checked once per period', () => {
  const clock = intervalClock();
  const sweep = new KeepaliveSweep(clock, 60_000);
  assert.equal(sweep.stepMs, 1000, '60 buckets of 1 s: the most that divide 60 s evenly');
  assert.equal(clock.pending(), 0, 'no interval while nobody is checked');
  const members = Array.from({ length: 1000 }, () => member());
  members.forEach((m, i) => {
    clock.advance(i * 97); // joining over ~1.6 periods
    sweep.add(m);
  });
  assert.equal(clock.pending(), 1, 'one interval, whatever the number of connections');
  assert.equal(sweep.size, 1000);
  clock.advance(10 * 60_000);
  for (const m of members) {
    // After the first visit (within a step of joining), exactly one period between checks.
    const gaps = m.checks.slice(1).map((t, i) => t - m.checks[i]!);
    assert.ok(gaps.length >= 8 && gaps.every((g) => g === 60_000), `gaps ${gaps.join(',')}`);
  }
});

test('[SPEC §3] keepalive sweep: a member is first due one period after it joined, at most one step late', () => {
  const clock = intervalClock();
  const sweep = new KeepaliveSweep(clock, 1000);
  clock.advance(5);
  sweep.add(member()); // starts the interval
  for (const offset of [7, 333, 640, 999, 1_234, 5_001]) {
    const joinedAt = clock.now() + offset;
    clock.advance(joinedAt);
    const m = member();
    sweep.add(m);
    clock.advance(joinedAt + 3_500);
    // The first visit finds nothing due (it came within a step); the second is the "one period later"
    // of a per-connection interval, late by less than a step. A ping due after `period` is therefore
    // sent then, not a period later.
    assert.ok(m.checks[0]! - joinedAt <= sweep.stepMs, `first visit ${m.checks[0]! - joinedAt} ms after joining`);
    const second = m.checks[1]! - joinedAt;
    assert.ok(second >= 1000 && second <= 1000 + sweep.stepMs, `second visit ${second} ms after joining`);
  }
});

test('[SPEC §3] keepalive sweep: checks are staggered over the period, not all at once', () => {
  const clock = intervalClock();
  const sweep = new KeepaliveSweep(clock, 64_000);
  let inStep = 0;
  let most = 0;
  let lastAt = -1;
  const count = (now: number) => {
    if (now !== lastAt) inStep = 0;
    lastAt = now;
    most = Math.max(most, ++inStep);
  };
  for (let i = 0; i < 6400; i++) {
    clock.advance(i * 10); // connecting over one period
    sweep.add(member(count));
  }
  clock.advance(3 * 64_000);
  assert.ok(most <= 6400 / BUCKETS + 1, `at most one bucket per step (${most} checked at once)`);
});

test('[SPEC §3] keepalive sweep: a removed member is not checked; the interval stops with the last one', () => {
  const clock = intervalClock();
  const sweep = new KeepaliveSweep(clock, 100);
  const a = member();
  const b = member();
  const slotA = sweep.add(a);
  const slotB = sweep.add(b);
  clock.advance(250);
  const seen = a.checks.length;
  sweep.remove(slotA, a);
  sweep.remove(slotA, a); // twice: no effect
  clock.advance(1000);
  assert.equal(a.checks.length, seen);
  assert.ok(b.checks.length > seen);
  assert.equal(clock.pending(), 1);
  sweep.remove(slotB, b);
  assert.equal(clock.pending(), 0, 'nothing scheduled once nobody is checked');
  assert.equal(sweep.running, false);
  sweep.add(b);
  assert.equal(clock.pending(), 1, 'and back when someone joins again');
});

test('[SPEC §3] keepalive sweep: a member closed by its own check leaves; the others in its bucket are still checked', () => {
  const clock = intervalClock();
  const sweep = new KeepaliveSweep(clock, 100);
  const others = [member(), member()];
  const slots: Array<ReturnType<KeepaliveSweep['add']>> = [];
  const closing: KeepaliveMember & { checks: number[] } = member((now) => {
    if (now >= 200) sweep.remove(slots[0]!, closing);
  });
  slots.push(sweep.add(closing));
  for (const o of others) sweep.add(o);
  clock.advance(1000);
  assert.ok(closing.checks.length <= 4);
  for (const o of others) assert.ok(o.checks.length >= 9);
  assert.equal(sweep.size, 2);
});

test('keepalive sweep: one per clock and period', () => {
  const c1 = intervalClock();
  const c2 = intervalClock();
  assert.equal(keepaliveSweep(c1, 60_000), keepaliveSweep(c1, 60_000));
  assert.notEqual(keepaliveSweep(c1, 60_000), keepaliveSweep(c1, 25));
  assert.notEqual(keepaliveSweep(c1, 60_000), keepaliveSweep(c2, 60_000));
  assert.equal(keepaliveSweep(c1, 3).periodMs, 10, 'never faster than every 10 ms, as the per-connection interval was');
  assert.deepEqual([50, 937, 1000, 64_000].map((p) => keepaliveSweep(c1, p).stepMs), [10, 937, 20, 1000], 'whole steps that divide the period');
});
