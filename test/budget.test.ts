// Per-charge-point budgets [SPEC §8]: the fixed-window budget behind event/rejected and the
// rate-limited log of lines a charge point causes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { total, WindowBudget } from '../src/session/budget.js';
import { CpLog } from '../src/obs/rate-limited-log.js';

test('budget: max per window, the rest tallied by kind until drained', () => {
  const b = new WindowBudget(3, 1000);
  assert.deepEqual([b.take('a', 0), b.take('a', 1), b.take('b', 2)], [true, true, true]);
  assert.equal(b.hasRefused, false);
  assert.deepEqual([b.take('a', 3), b.take('b', 4), b.take('a', 5)], [false, false, false]);
  assert.equal(b.windowEndsAt, 1000);
  const tally = b.drain();
  assert.deepEqual(tally && [...tally], [['a', 2], ['b', 1]]);
  assert.equal(tally && total(tally), 3);
  assert.equal(b.drain(), undefined, 'a drain resets the tally');
});

test('budget: a new window refills; refusals not yet drained are kept across it', () => {
  const b = new WindowBudget(1, 1000);
  b.take('a', 0);
  assert.equal(b.take('a', 999), false);
  assert.equal(b.take('a', 1000), true, 'the window starting at 1000 has room again');
  assert.equal(b.windowEndsAt, 2000);
  assert.equal(b.take('a', 1001), false);
  assert.deepEqual([...(b.drain() ?? [])], [['a', 2]]);
});

test('budget: max 0 is unlimited and never tallies', () => {
  const b = new WindowBudget(0, 1000);
  for (let i = 0; i < 10_000; i++) assert.equal(b.take('a', i), true);
  assert.equal(b.drain(), undefined);
});

function capture(level = 'info') {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done(); } });
  return { log: pino({ level }, sink), lines };
}

/** pino writes through a stream: let it deliver. */
const flushed = () => new Promise((resolve) => setImmediate(resolve));

test('cp log: at most max lines per event id and window; one log.suppressed line with the count at the window end', async () => {
  const { log, lines } = capture();
  const clock = manualClock();
  const dropped: string[] = [];
  const cpLog = new CpLog(log, { cpId: 'CP1', maxLines: 2, windowMs: 60_000, clock, onDropped: (msg) => dropped.push(msg) });
  for (let i = 0; i < 1000; i++) cpLog.line('info', { cpId: 'CP1', i }, 'cp.message_rejected');
  for (let i = 0; i < 5; i++) cpLog.line('warn', { cpId: 'CP1', i }, 'mqtt.publish_failed');
  await flushed();
  assert.deepEqual(lines.map((l) => [l['msg'], l['i']]), [['cp.message_rejected', 0], ['cp.message_rejected', 1], ['mqtt.publish_failed', 0], ['mqtt.publish_failed', 1]]);
  assert.equal(dropped.length, 998 + 3);
  assert.equal(clock.pending(), 1, 'one summary timer, however many lines were dropped');
  clock.advance(60_000);
  await flushed();
  const summaries = lines.filter((l) => l['msg'] === 'log.suppressed').map((l) => [l['cpId'], l['event'], l['count']]);
  assert.deepEqual(summaries, [['CP1', 'cp.message_rejected', 998], ['CP1', 'mqtt.publish_failed', 3]]);
  // The next window has room again, and nothing more to summarise.
  cpLog.line('info', { cpId: 'CP1', i: 'again' }, 'cp.message_rejected');
  cpLog.flush();
  await flushed();
  assert.equal(lines.filter((l) => l['msg'] === 'log.suppressed').length, 2);
  assert.equal(lines.at(-1)?.['i'], 'again');
});

test('cp log: flush at teardown writes the pending summary and cancels its timer; a disabled level costs no budget', async () => {
  const { log, lines } = capture('info');
  const clock = manualClock();
  const cpLog = new CpLog(log, { cpId: 'CP2', maxLines: 1, windowMs: 60_000, clock, onDropped: () => undefined });
  for (let i = 0; i < 100; i++) cpLog.line('debug', { cpId: 'CP2' }, 'cp.socket_error');
  cpLog.line('info', { cpId: 'CP2' }, 'validation.failed');
  cpLog.line('info', { cpId: 'CP2' }, 'validation.failed');
  cpLog.flush();
  assert.equal(clock.pending(), 0);
  await flushed();
  assert.deepEqual(lines.map((l) => [l['msg'], l['event'] ?? null, l['count'] ?? null]), [['validation.failed', null, null], ['log.suppressed', 'validation.failed', 1]]);
});

// ---- CpBudgets: the per-connection budgets around the socket [SPEC §8] ----------------------------
import type { WebSocket } from 'ws';
import { CpBudgets, type CpBudgetGuard, type CpBudgetHost, type CpBudgetOwner } from '../src/transport/cp-budgets.js';
import { Metrics } from '../src/obs/metrics.js';
import type { RejectedReason } from '../src/errors.js';
import { manualClock } from './support/manual-clock.js';

function budgetsUnderTest(limits: Partial<ConstructorParameters<typeof CpBudgets>[4]> = {}) {
  const socket = { paused: false, pauses: 0, pause() { this.paused = true; this.pauses++; }, resume() { this.paused = false; } };
  const clock = { ...manualClock(), setInterval: () => 0, clearInterval: () => undefined };
  const published: Array<{ reason: RejectedReason; extra?: Record<string, unknown>; settle: () => void }> = [];
  const errors: unknown[] = [];
  const owner: CpBudgetOwner = { cpId: 'CP1', closed: false };
  const host: CpBudgetHost = {
    clock,
    log: pino({ level: 'silent' }),
    metrics: new Metrics({ connections: () => 0, pending: () => ({ upstream: 0, downstream: 0, queued: 0 }), brokerConnected: () => true, brokerLinks: () => 0 }),
    publishRejected: (_owner, reason, _detail, _messageId, _action, extra) => new Promise<void>((settle) => published.push({ reason, ...(extra ? { extra } : {}), settle })),
  };
  const guard: CpBudgetGuard = (_entry, work) => {
    try {
      work();
    } catch (err) {
      errors.push(err);
    }
  };
  const budgets = new CpBudgets(owner, host, guard, socket as unknown as WebSocket, { maxInflightPublishes: 4, maxFramesPerTurn: 3, maxFrameRate: 0, frameBurst: 1, maxRejectedEvents: 2, rejectedEventsWindowMs: 60_000, maxCpLogLines: 0, cpLogWindowMs: 60_000, ...limits });
  return { budgets, socket, clock, published, errors };
}

test('cp budgets: every publish counts; reading pauses at max_inflight_publishes and resumes below half', async () => {
  const { budgets, socket } = budgetsUnderTest();
  const settles: Array<() => void> = [];
  const publish = () => budgets.track(new Promise<void>((resolve) => settles.push(resolve)));
  for (let i = 0; i < 3; i++) publish();
  assert.equal(socket.paused, false);
  publish();
  assert.equal(socket.paused, true, '4 in flight');
  settles.shift()?.();
  settles.shift()?.();
  await flushed();
  assert.equal(socket.paused, true, '2 in flight is not below half of 4');
  settles.shift()?.();
  await flushed();
  assert.equal(socket.paused, false);
});

test('cp budgets: event/rejected within max_rejected_events, then counted and summarised once with counts by reason', async () => {
  const { budgets, published, clock } = budgetsUnderTest();
  for (let i = 0; i < 5; i++) budgets.rejected('unknown_message_id', 'x');
  budgets.rejected('duplicate_call', 'y');
  assert.deepEqual(published.map((p) => p.reason), ['unknown_message_id', 'unknown_message_id']);
  clock.advance(60_000); // the window's end: the summary
  assert.deepEqual(published.slice(2).map((p) => [p.reason, p.extra]), [['suppressed', { count: 4, byReason: { unknown_message_id: 3, duplicate_call: 1 } }]]);
  budgets.flush();
  assert.equal(published.length, 3, 'nothing more to summarise at the teardown');
  for (const p of published) p.settle();
  await flushed();
});

test('cp budgets: a burst yields after max_frames_per_turn frames and reads on in the next turn', async () => {
  const { budgets, socket } = budgetsUnderTest();
  budgets.frameRead();
  budgets.frameRead();
  assert.equal(socket.paused, false);
  budgets.frameRead();
  assert.equal(socket.paused, true);
  await flushed();
  assert.equal(socket.paused, false, 'resumed in the next turn');
  budgets.frameRead();
  assert.equal(socket.paused, false, 'a new turn, a new share');
});

test('cp budgets: beyond max_frame_rate (after frame_burst) reading pauses until a token is back; nothing is dropped [SPEC §8]', async () => {
  const { budgets, socket, clock } = budgetsUnderTest({ maxFramesPerTurn: 1_000, maxFrameRate: 10, frameBurst: 5 });
  for (let i = 0; i < 4; i++) budgets.frameRead();
  assert.equal(socket.paused, false, '4 of a burst of 5');
  budgets.frameRead();
  assert.equal(socket.paused, true, 'the bucket is empty');
  budgets.frameRead(); // a frame of the same read still arrives: the balance goes below zero
  clock.advance(100);
  assert.equal(socket.paused, true, 'one token back is not enough after the overdraft');
  clock.advance(200);
  assert.equal(socket.paused, false, 'resumed once a whole token is back (10 per second)');
  budgets.frameRead();
  assert.equal(socket.paused, true, 'and paused again at the next frame: the sustained rate is 10/s');
  clock.advance(10_000);
  assert.equal(socket.paused, false);
  for (let i = 0; i < 4; i++) budgets.frameRead();
  assert.equal(socket.paused, false, 'a quiet spell refills the burst, not more');
  budgets.frameRead();
  assert.equal(socket.paused, true);
});
