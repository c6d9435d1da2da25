// One keepalive sweep for every connection of a period [SPEC §3, docs/operations.md "Keepalive"]:
// instead of a setInterval (a Timeout, a closure and its context) per charge point, one interval
// visits a bucket of connections per step; a connection sits in one of `period / step` buckets, so
// each one is checked once per period, the checks spread over the period (staggered, not all at once).
//
// A connection joins the bucket the cursor is on: its first visit comes within one step (nothing is
// due yet: it was just seen and just "pinged"), the next ones exactly one period apart, so its k-th
// check falls in (joined + k·period, joined + k·period + step]: where its own interval would have
// checked it, late by at most one step, and still one period between checks (a CP silent past its
// timeout is noticed at most one period later, as docs/operations.md says).

import type { Clock } from '../session/clock.js';

/** What the sweep calls: one check of one connection (ping when due, close when silent too long). */
export interface KeepaliveMember {
  keepaliveCheck(now: number): void;
}

/** Buckets per period at most; fewer when the period does not divide evenly (60 s: 60 buckets of 1 s). */
export const BUCKETS = 64;
export const MIN_STEP_MS = 10;

/** Where a member sits, returned by `add` and handed back to `remove`. */
export type KeepaliveSlot = Set<KeepaliveMember>;

export class KeepaliveSweep {
  readonly periodMs: number;
  readonly stepMs: number;
  readonly #clock: Clock;
  readonly #buckets: KeepaliveSlot[];
  #cursor = 0;
  #size = 0;
  #interval: unknown;

  constructor(clock: Clock, periodMs: number) {
    this.#clock = clock;
    this.periodMs = Math.max(MIN_STEP_MS, Math.floor(periodMs));
    // The buckets divide the period exactly, so a member is visited every period to the millisecond,
    // as by an interval of its own: the most buckets (≤ BUCKETS) whose step is whole and ≥ MIN_STEP_MS.
    let count = Math.min(BUCKETS, Math.floor(this.periodMs / MIN_STEP_MS));
    while (count > 1 && this.periodMs % count !== 0) count--;
    this.stepMs = this.periodMs / count;
    this.#buckets = Array.from({ length: count }, () => new Set<KeepaliveMember>());
  }

  /** Members checked by this sweep. */
  get size(): number {
    return this.#size;
  }

  /** True while the sweep's interval runs (only while it has members). */
  get running(): boolean {
    return this.#interval !== undefined;
  }

  add(member: KeepaliveMember): KeepaliveSlot {
    const slot = this.#buckets[this.#cursor]!;
    if (slot.has(member)) return slot;
    slot.add(member);
    if (++this.#size === 1) this.#interval = this.#clock.setInterval(() => this.#step(), this.stepMs);
    return slot;
  }

  remove(slot: KeepaliveSlot, member: KeepaliveMember): void {
    if (!slot.delete(member)) return;
    if (--this.#size === 0 && this.#interval !== undefined) {
      this.#clock.clearInterval(this.#interval);
      this.#interval = undefined;
    }
  }

  #step(): void {
    const bucket = this.#buckets[this.#cursor]!;
    this.#cursor = (this.#cursor + 1) % this.#buckets.length;
    if (bucket.size === 0) return;
    const now = this.#clock.now();
    // A member's check may close it (removing it from this bucket) while the loop runs: Set iteration
    // tolerates deletes. Each member's check runs guarded by the member (an exception is its own).
    for (const member of bucket) member.keepaliveCheck(now);
  }
}

/** The sweeps of a clock, one per period: connections of one gateway (one config) share one. */
const SWEEPS = new WeakMap<Clock, Map<number, KeepaliveSweep>>();

export function keepaliveSweep(clock: Clock, periodMs: number): KeepaliveSweep {
  let byPeriod = SWEEPS.get(clock);
  if (byPeriod === undefined) SWEEPS.set(clock, (byPeriod = new Map()));
  const period = Math.max(MIN_STEP_MS, Math.floor(periodMs));
  let sweep = byPeriod.get(period);
  if (sweep === undefined) byPeriod.set(period, (sweep = new KeepaliveSweep(clock, period)));
  return sweep;
}
