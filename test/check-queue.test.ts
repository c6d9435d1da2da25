// The credential check scheduler: caps, round-robin fairness between sources, eviction from a full
// queue, and queued checks dropped when their connection is gone. No timers: checks are held open
// by the test and released one at a time. [SPEC §8]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { CheckNotRun, CheckQueue } from '../src/auth/check-queue.js';

/** A check the test finishes by hand; `started` tells whether the queue ran it. */
interface Held {
  readonly name: string;
  started: boolean;
  finish(): void;
  fail(err: Error): void;
  result: Promise<string>;
}

function submit(queue: CheckQueue, source: string, name: string, order: string[], signal?: AbortSignal): Held {
  let finish = () => undefined as void;
  let fail = (_err: Error) => undefined as void;
  const held = { name, started: false, finish: () => finish(), fail: (err: Error) => fail(err) } as Held;
  // A free slot runs the check at once, inside run(): `held` exists before.
  held.result = queue.run(source, signal, () => {
    held.started = true;
    order.push(name);
    return new Promise<string>((resolve, reject) => {
      finish = () => resolve(name);
      fail = reject;
    });
  });
  held.result.catch(() => undefined);
  return held;
}

/** Lets the promise callbacks of a finished check run (the queue starts the next one after them). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Finishes started checks round by round until the queue is empty (bounded by the number of checks). */
async function drain(queue: CheckQueue, checks: readonly Held[]): Promise<void> {
  for (let round = 0; round <= checks.length && queue.inFlight + queue.queued > 0; round++) {
    for (const c of checks) if (c.started) c.finish();
    await settle();
  }
  assert.deepEqual([queue.inFlight, queue.queued], [0, 0], 'drained');
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ran';
  } catch (err) {
    return err instanceof CheckNotRun ? err.reason : String(err);
  }
}

test('[SPEC §8] at most maxInFlight checks run; the rest wait and start as slots free', async () => {
  const queue = new CheckQueue({ maxInFlight: 2, maxQueued: 10 });
  const order: string[] = [];
  const checks = ['c1', 'c2', 'c3', 'c4', 'c5'].map((n) => submit(queue, 'A', n, order));
  assert.deepEqual([queue.inFlight, queue.queued], [2, 3]);
  assert.deepEqual(order, ['c1', 'c2']);
  checks[0]?.finish();
  assert.equal(await checks[0]?.result, 'c1');
  await settle();
  assert.deepEqual(order, ['c1', 'c2', 'c3']);
  assert.deepEqual([queue.inFlight, queue.queued], [2, 2]);
  await drain(queue, checks);
  assert.deepEqual(await Promise.all(checks.map((c) => c.result)), ['c1', 'c2', 'c3', 'c4', 'c5']);
});

test('[SPEC §8] sources are served round-robin: a burst from one address delays another address by one check', async () => {
  const queue = new CheckQueue({ maxInFlight: 1, maxQueued: 100 });
  const order: string[] = [];
  const burst = Array.from({ length: 50 }, (_, i) => submit(queue, '127.0.0.2', `a${i}`, order));
  const good = submit(queue, '127.0.0.3', 'good', order);
  const other = submit(queue, '10.0.0.9', 'other', order);
  // a0 runs; then one of the burst, then each other source, then the burst again.
  for (let i = 0; i < 4; i++) {
    const running = [...burst, good, other].find((c) => c.started && order.at(-1) === c.name);
    running?.finish();
    await running?.result;
    await settle();
  }
  assert.deepEqual(order, ['a0', 'a1', 'good', 'other', 'a2']);
  assert.equal(await good.result, 'good');
  await drain(queue, burst);
  assert.equal(order.filter((n) => n.startsWith('a')).join(','), burst.map((c) => c.name).join(','), 'one source is served in arrival order');
});

test('[SPEC §8] a full queue refuses its busiest source, and makes room for a less busy one', async () => {
  const queue = new CheckQueue({ maxInFlight: 1, maxQueued: 3 });
  const order: string[] = [];
  const running = submit(queue, 'A', 'a0', order);
  const a = ['a1', 'a2', 'a3'].map((n) => submit(queue, 'A', n, order));
  assert.equal(await refusal(submit(queue, 'A', 'a4', order).result), 'busy', 'the busiest source itself is refused');
  // B has fewer waiting than A: A's oldest waiting check (nearest its handshake timeout) gives way.
  const b = submit(queue, 'B', 'b1', order);
  assert.equal(await refusal(a[0]!.result), 'busy');
  assert.equal(queue.evicted, 1);
  assert.deepEqual([queue.inFlight, queue.queued], [1, 3]);
  // A 2, B 1: C (0 waiting) evicts from A again; then A 1, B 1, C 1: a second check from C (as busy as
  // the busiest) is refused.
  const c = submit(queue, 'C', 'c1', order);
  assert.equal(await refusal(a[1]!.result), 'busy');
  assert.equal(await refusal(submit(queue, 'C', 'c2', order).result), 'busy');
  running.finish();
  for (const h of [a[2]!, b, c]) {
    await settle();
    h.finish();
  }
  assert.deepEqual(await Promise.all([a[2]!.result, b.result, c.result]), ['a3', 'b1', 'c1']);
  assert.deepEqual(order, ['a0', 'a3', 'b1', 'c1']);
});

test('[SPEC §8] maxQueued 0: only free slots take checks', async () => {
  const queue = new CheckQueue({ maxInFlight: 1, maxQueued: 0 });
  const order: string[] = [];
  const first = submit(queue, 'A', 'a0', order);
  assert.equal(await refusal(submit(queue, 'B', 'b0', order).result), 'busy');
  first.finish();
  assert.equal(await first.result, 'a0');
});

test('[SPEC §8] a queued check whose connection is gone is dropped at once and never runs; listeners are removed', async () => {
  const queue = new CheckQueue({ maxInFlight: 1, maxQueued: 10 });
  const order: string[] = [];
  const running = submit(queue, 'A', 'a0', order);
  const leaving = new AbortController();
  const staying = new AbortController();
  const gone = submit(queue, 'A', 'gone', order, leaving.signal);
  const kept = submit(queue, 'B', 'kept', order, staying.signal);
  assert.equal(getEventListeners(leaving.signal, 'abort').length, 1);
  leaving.abort();
  assert.equal(await refusal(gone.result), 'gone');
  assert.deepEqual([queue.queued, queue.dropped], [1, 1]);
  assert.equal(getEventListeners(leaving.signal, 'abort').length, 0);
  // Already gone when it arrives: never queued.
  assert.equal(await refusal(submit(queue, 'C', 'late', order, AbortSignal.abort()).result), 'gone');
  assert.equal(queue.dropped, 2);
  running.finish();
  await running.result;
  await settle();
  assert.equal(kept.started, true);
  assert.equal(getEventListeners(staying.signal, 'abort').length, 0, 'a started check no longer listens');
  // Once running, a check is not interrupted by its signal (scrypt cannot be stopped).
  staying.abort();
  kept.finish();
  assert.equal(await kept.result, 'kept');
  assert.deepEqual(order, ['a0', 'kept']);
  assert.deepEqual([queue.inFlight, queue.queued, queue.dropped], [0, 0, 2]);
});

test('[SPEC §8] a check that fails frees its slot', async () => {
  const queue = new CheckQueue({ maxInFlight: 1, maxQueued: 10 });
  const order: string[] = [];
  const broken = submit(queue, 'A', 'broken', order);
  const next = submit(queue, 'A', 'next', order);
  const thrown = queue.run('A', undefined, () => {
    throw new Error('synchronous');
  });
  thrown.catch(() => undefined);
  broken.fail(new Error('boom'));
  await assert.rejects(broken.result, /boom/);
  await settle();
  next.finish();
  assert.equal(await next.result, 'next');
  await assert.rejects(thrown, /synchronous/);
  assert.deepEqual([queue.inFlight, queue.queued], [0, 0]);
});
