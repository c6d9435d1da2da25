// CALL deadlines on one clock timer per delay: they pass in order and on time, disarmed ones never
// pass, answered CALLs do not pile up, out-of-order deadlines still pass. [SPEC §5]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '../src/session/clock.js';
import { Deadlines, type DeadlineOwner } from '../src/session/deadlines.js';

/** A clock the test moves; counts the timers armed on it. */
class FakeClock implements Clock {
  t = 1_000;
  armed = 0;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #next = 1;
  now(): number { return this.t; }
  setTimeout(fn: () => void, ms: number): unknown {
    this.armed++;
    const id = this.#next++;
    this.#timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void { this.#timers.delete(h as number); }
  setInterval(): unknown { throw new Error('not used'); }
  clearInterval(): void { /* not used */ }
  get pending(): number { return this.#timers.size; }
  /** Moves time to `to`, running due timers in time order. */
  advance(to: number): void {
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.#timers) if (e[1].at <= to && (due === undefined || e[1].at < due[1].at)) due = e;
      if (due === undefined) break;
      this.#timers.delete(due[0]);
      this.t = Math.max(this.t, due[1].at);
      due[1].fn();
    }
    this.t = to;
  }
}

function owner(log: string[]): DeadlineOwner<string> {
  return { deadlinePassed: (key) => log.push(key) };
}

test('[SPEC §5] deadlines: pass in order at their time on one clock timer per delay; disarmed ones never pass', () => {
  const clock = new FakeClock();
  const d = new Deadlines<string>(clock);
  const log: string[] = [];
  const o = owner(log);
  const a = d.arm(o, 'a', clock.t + 100);
  clock.advance(1_010);
  d.arm(o, 'b', clock.t + 100);
  clock.advance(1_020);
  const c = d.arm(o, 'c', clock.t + 100);
  assert.equal(clock.pending, 1, 'one clock timer for the three');
  d.disarm(c);
  clock.advance(1_099);
  assert.deepEqual(log, []);
  clock.advance(1_100);
  assert.deepEqual(log, ['a']);
  d.disarm(a); // already passed: no-op
  clock.advance(1_200);
  assert.deepEqual(log, ['a', 'b'], 'c was disarmed');
  assert.equal(clock.pending, 0, 'nothing left armed');
  assert.equal(d.size, 0);
});

test('[SPEC §5] deadlines: different delays keep their own order; an owner arming from its callback is served', () => {
  const clock = new FakeClock();
  const d = new Deadlines<string>(clock);
  const log: string[] = [];
  const o: DeadlineOwner<string> = { deadlinePassed: (key) => { log.push(key); if (key === 'x') d.arm(o, 'x2', clock.t + 50); } };
  d.arm(o, 'x', clock.t + 300);
  d.arm(o, 'y', clock.t + 100);
  clock.advance(1_400);
  assert.deepEqual(log, ['y', 'x', 'x2']);
});

test('[SPEC §5] deadlines: a deadline out of order (the clock moved back) still passes on time', () => {
  const clock = new FakeClock();
  const d = new Deadlines<string>(clock);
  const log: string[] = [];
  const o = owner(log);
  d.arm(o, 'late', clock.t + 500);
  clock.t = 900; // moved back: the same delay now means an earlier deadline
  d.arm(o, 'early', clock.t + 500);
  clock.advance(1_400);
  assert.deepEqual(log, ['early']);
  clock.advance(1_500);
  assert.deepEqual(log, ['early', 'late']);
});

test('[SPEC §5] deadlines: 100,000 answered CALLs do not pile up while one waits', () => {
  const clock = new FakeClock();
  const d = new Deadlines<string>(clock);
  const log: string[] = [];
  const o = owner(log);
  d.arm(o, 'unanswered', clock.t + 30_000);
  for (let i = 0; i < 100_000; i++) d.disarm(d.arm(o, `call${i}`, clock.t + 30_000));
  assert.ok(d.size < 1_000, `entries waiting: ${d.size}`);
  clock.advance(clock.t + 30_000);
  assert.deepEqual(log, ['unanswered']);
  assert.equal(d.size, 0);
});
