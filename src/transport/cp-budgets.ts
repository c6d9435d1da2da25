// Per-charge-point budgets for everything one client can make the gateway do [SPEC §8]: reading from
// it pauses while its publishes wait for the broker or its share of the event-loop turn is used up;
// its event/rejected messages are rate-limited and summarised; the log lines it causes are
// rate-limited per event id. One per connection; the parts a quiet charge point never needs are made
// on first use.
import type { WebSocket } from 'ws';
import type { RejectedReason } from '../errors.js';
import type { Logger } from '../obs/log.js';
import type { Metrics } from '../obs/metrics.js';
import { CpLog, type CpLogLevel } from '../obs/rate-limited-log.js';
import { total, WindowBudget } from '../session/budget.js';
import type { Clock } from '../session/clock.js';

export interface CpBudgetLimits {
  readonly maxInflightPublishes: number;
  /** ocpp.max_frames_per_turn: frames read from one charge point per event-loop turn before it yields. */
  readonly maxFramesPerTurn: number;
  /** ocpp.max_frame_rate: frames per second read from one charge point, sustained (0 = unlimited). */
  readonly maxFrameRate: number;
  /** ocpp.frame_burst: frames read at once above the rate (the bucket's size). */
  readonly frameBurst: number;
  /** ocpp.max_rejected_events per ocpp.rejected_events_window (0 = unlimited). */
  readonly maxRejectedEvents: number;
  readonly rejectedEventsWindowMs: number;
  /** log.max_cp_lines per log.cp_lines_window and event id (0 = unlimited). */
  readonly maxCpLogLines: number;
  readonly cpLogWindowMs: number;
}

/**
 * The connection the budgets belong to. The connection itself, not an object of closures made for it:
 * at 10,000 idle connections every per-connection object and closure counts (issue 15).
 */
export interface CpBudgetOwner {
  readonly cpId: string;
  readonly closed: boolean;
}

/** What the budgets need from the gateway around the connection (shared by all connections). */
export interface CpBudgetHost<O extends CpBudgetOwner = CpBudgetOwner> {
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: Metrics;
  publishRejected(owner: O, reason: RejectedReason, detail: string, messageId?: string, action?: string, extra?: Record<string, unknown>): Promise<void>;
}

/** Runs work the way every entry into the connection runs: an exception closes that connection only. */
export type CpBudgetGuard = (entry: 'timer' | 'publish', work: () => void) => void;

/** Why reading is paused; it resumes when no hold is left. */
const HOLD_PUBLISHES = 1;
const HOLD_TURN = 2;
const HOLD_RATE = 4;

/**
 * The event-loop turn, advanced by one shared setImmediate while frames arrive (not one per
 * connection). libuv reads up to 32 x 64 KiB from one socket per turn: without a share per turn,
 * one flooding charge point holds the loop for tens of thousands of frames while the others wait.
 */
let loopTurn = 0;
let turnScheduled = false;
function currentTurn(): number {
  if (!turnScheduled) {
    turnScheduled = true;
    setImmediate(() => {
      loopTurn++;
      turnScheduled = false;
    });
  }
  return loopTurn;
}

export class CpBudgets<O extends CpBudgetOwner = CpBudgetOwner> {
  readonly #owner: O;
  readonly #host: CpBudgetHost<O>;
  readonly #guard: CpBudgetGuard;
  readonly #ws: WebSocket;
  readonly #limits: CpBudgetLimits;
  #inflight = 0;
  #holds = 0;
  #turn = -1;
  #framesThisTurn = 0;
  /** Frame tokens (ocpp.max_frame_rate, ocpp.frame_burst); NaN until the first frame fills the bucket. */
  #tokens = Number.NaN;
  #tokensAt = 0;
  #log: CpLog | undefined;
  #rejected: WindowBudget | undefined;
  #rejectedSummary: unknown;

  constructor(owner: O, host: CpBudgetHost<O>, guard: CpBudgetGuard, ws: WebSocket, limits: CpBudgetLimits) {
    this.#owner = owner;
    this.#host = host;
    this.#guard = guard;
    this.#ws = ws;
    this.#limits = limits;
  }

  /** A frame was read: past this turn's share, reading waits for the next turn (the rest of the current read is still handled). */
  frameRead(): void {
    if (this.#limits.maxFrameRate > 0) this.#spendFrameToken();
    const turn = currentTurn();
    if (turn !== this.#turn) {
      this.#turn = turn;
      this.#framesThisTurn = 0;
    }
    if (++this.#framesThisTurn !== this.#limits.maxFramesPerTurn) return;
    this.#hold(HOLD_TURN, 'frames');
    setImmediate(() => this.#guard('timer', () => this.#release(HOLD_TURN)));
  }

  /**
   * The sustained share: a token bucket refilled at max_frame_rate. Empty, reading pauses until a token
   * is back, so a charge point that pipelines frames without waiting for answers (OCPP-J allows one
   * CALL in flight) gets its rate and no more, whatever each frame costs; nothing is dropped. [SPEC §8]
   */
  #spendFrameToken(): void {
    this.#refillTokens();
    this.#tokens -= 1;
    if (this.#tokens >= 1 || (this.#holds & HOLD_RATE) !== 0) return;
    this.#hold(HOLD_RATE, 'rate');
    this.#resumeWhenTokenBack();
  }

  #refillTokens(): void {
    const { maxFrameRate: rate, frameBurst: burst } = this.#limits;
    const now = this.#host.clock.now();
    this.#tokens = Number.isNaN(this.#tokens) ? burst : Math.min(burst, this.#tokens + ((now - this.#tokensAt) * rate) / 1000);
    this.#tokensAt = now;
  }

  /** Frames of the current read may still arrive while paused and overdraw the bucket: wait those off too. */
  #resumeWhenTokenBack(): void {
    this.#setTimer(() => {
      this.#refillTokens();
      if (this.#tokens >= 1) this.#release(HOLD_RATE);
      else this.#resumeWhenTokenBack();
    }, Math.max(1, Math.ceil(((1 - this.#tokens) * 1000) / this.#limits.maxFrameRate)));
  }

  /**
   * One budget for every publish this charge point causes (its messages, gateway errors about them,
   * its event/rejected): at max_inflight_publishes reading pauses until the broker catches up.
   */
  track(sent: Promise<void>, onFailed?: (err: unknown) => void): void {
    if (++this.#inflight >= this.#limits.maxInflightPublishes && (this.#holds & HOLD_PUBLISHES) === 0) this.#hold(HOLD_PUBLISHES, 'publishes');
    sent.then(
      () => this.#guard('publish', () => this.#published()),
      (err: unknown) => this.#guard('publish', () => {
        this.#published();
        onFailed?.(err);
      }),
    );
  }

  /** A log line caused by this charge point, within its budget for `msg`. `fields` carry the cpId. */
  line(level: CpLogLevel, fields: object, msg: string): void {
    const h = this.#host;
    this.#log ??= new CpLog(h.log, {
      cpId: this.#owner.cpId, maxLines: this.#limits.maxCpLogLines, windowMs: this.#limits.cpLogWindowMs,
      clock: { now: () => h.clock.now(), setTimeout: (fn, ms) => this.#setTimer(fn, ms), clearTimeout: (t) => h.clock.clearTimeout(t) },
      onDropped: (m) => h.metrics.logSuppressed(m),
    });
    this.#log.line(level, fields, msg);
  }

  /**
   * A message the gateway refused: always counted; logged and published as event/rejected within the
   * budgets, the excess summarised once per window (reason suppressed). [SPEC §4, §8]
   */
  rejected(reason: RejectedReason, detail: string, messageId?: string, action?: string): void {
    const h = this.#host;
    h.metrics.rejected(reason);
    this.line('info', { cpId: this.#owner.cpId, messageId, action, reason, detail }, 'cp.message_rejected');
    const now = h.clock.now();
    const budget = (this.#rejected ??= new WindowBudget(this.#limits.maxRejectedEvents, this.#limits.rejectedEventsWindowMs));
    if (budget.take(reason, now)) {
      this.track(h.publishRejected(this.#owner, reason, detail, messageId, action));
      return;
    }
    h.metrics.rejectedSuppressed(reason);
    this.#rejectedSummary ??= this.#setTimer(() => {
      this.#rejectedSummary = undefined;
      this.#summariseRejected();
    }, Math.max(0, budget.windowEndsAt - now));
  }

  /** At the teardown: the summaries still pending (before event/disconnected goes out). */
  flush(): void {
    this.#summariseRejected();
    this.#log?.flush();
  }

  /** One event/rejected (reason suppressed) with the counts of the events the budget held back. */
  #summariseRejected(): void {
    if (this.#rejectedSummary !== undefined) {
      this.#host.clock.clearTimeout(this.#rejectedSummary);
      this.#rejectedSummary = undefined;
    }
    const tally = this.#rejected?.drain();
    if (tally === undefined) return;
    const count = total(tally);
    const detail = `${count} event/rejected message(s) suppressed (ocpp.max_rejected_events ${this.#limits.maxRejectedEvents} per ${this.#limits.rejectedEventsWindowMs} ms)`;
    this.track(this.#host.publishRejected(this.#owner, 'suppressed', detail, undefined, undefined, { count, byReason: Object.fromEntries(tally) }));
  }

  #setTimer(fn: () => void, ms: number): unknown {
    return this.#host.clock.setTimeout(() => this.#guard('timer', fn), ms);
  }

  #published(): void {
    this.#inflight--;
    if ((this.#holds & HOLD_PUBLISHES) !== 0 && this.#inflight < this.#limits.maxInflightPublishes / 2) this.#release(HOLD_PUBLISHES);
  }

  /** Stops reading from this charge point; counted by cause. */
  #hold(hold: number, why: 'publishes' | 'frames' | 'rate'): void {
    if (this.#owner.closed) return;
    if (this.#holds === 0) this.#ws.pause();
    this.#holds |= hold;
    this.#host.metrics.readPaused(why);
  }

  #release(hold: number): void {
    if ((this.#holds & hold) === 0) return;
    this.#holds &= ~hold;
    if (this.#holds === 0 && !this.#owner.closed) this.#ws.resume();
  }
}
