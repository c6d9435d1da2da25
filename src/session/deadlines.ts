// CALL deadlines of every connection (ocpp awaiting timeouts upstream, the retry interval downstream)
// on one clock timer per distinct delay instead of one setTimeout per CALL. A CALL's deadline is
// `now + a configured delay`, so the deadlines of one delay arrive in order: a FIFO per delay, whose
// head is the only one armed on the clock. Arming costs one small entry; disarming marks it, and the
// marked entries are swept out once they outnumber the live ones (so answered CALLs do not pile up for
// the length of the timeout). A deadline that would go out of order (a clock that moved back) gets
// its own clock timer. Expiry runs the owner's callback; the owner guards it. [SPEC §5]
import type { Clock } from './clock.js';

/** Whoever armed a deadline: told when it passes, with the key it was armed with. */
export interface DeadlineOwner<K> {
  deadlinePassed(key: K): void;
}

/** An armed deadline; keep it to disarm it. */
export interface Deadline {
  readonly at: number;
  /** Set when disarmed or passed. */
  done: boolean;
}

interface Entry<K> extends Deadline {
  readonly owner: DeadlineOwner<K>;
  readonly key: K;
  /** The FIFO it waits in; undefined for an entry outside the FIFO order, which has its own clock timer. */
  fifo?: Fifo<K>;
  handle?: unknown;
}

/** Below this many entries a FIFO is never swept (a sweep is a pass over the array). */
const SWEEP_MIN = 256;

class Fifo<K> {
  entries: Array<Entry<K>> = [];
  head = 0;
  /** Disarmed entries still in `entries` past `head` (an upper bound: some may have been skipped). */
  dead = 0;
  timer: unknown;
}

export class Deadlines<K> {
  readonly #clock: Clock;
  readonly #byDelay = new Map<number, Fifo<K>>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Arms a deadline at `at` (ms, the clock's time); owner.deadlinePassed(key) runs when it passes. */
  arm(owner: DeadlineOwner<K>, key: K, at: number): Deadline {
    const now = this.#clock.now();
    const delay = Math.max(0, at - now);
    const entry: Entry<K> = { at, done: false, owner, key };
    let fifo = this.#byDelay.get(delay);
    if (fifo === undefined) this.#byDelay.set(delay, (fifo = new Fifo<K>()));
    const tail = fifo.entries[fifo.entries.length - 1];
    if (tail !== undefined && fifo.head < fifo.entries.length && tail.at > at) {
      // Out of order: not for this FIFO.
      entry.handle = this.#clock.setTimeout(() => this.#fire(entry), delay);
      return entry;
    }
    entry.fifo = fifo;
    fifo.entries.push(entry);
    if (fifo.timer === undefined) this.#armHead(delay, fifo);
    return entry;
  }

  /** Disarms a deadline (no-op when it already passed or was disarmed). */
  disarm(deadline: Deadline): void {
    if (deadline.done) return;
    deadline.done = true;
    const entry = deadline as Entry<K>;
    if (entry.handle !== undefined) {
      this.#clock.clearTimeout(entry.handle);
      return;
    }
    const fifo = entry.fifo;
    if (fifo === undefined) return;
    // Answered CALLs must not wait in the FIFO for the whole timeout: once the disarmed entries are
    // the majority, one pass keeps the live ones (amortised O(1) per deadline).
    if (++fifo.dead >= SWEEP_MIN && fifo.dead * 2 > fifo.entries.length - fifo.head) this.#sweep(fifo);
  }

  /** Entries waiting now (live and disarmed), for tests. */
  get size(): number {
    let n = 0;
    for (const fifo of this.#byDelay.values()) n += fifo.entries.length - fifo.head;
    return n;
  }

  #sweep(fifo: Fifo<K>): void {
    const kept: Array<Entry<K>> = [];
    for (let i = fifo.head; i < fifo.entries.length; i++) {
      const e = fifo.entries[i] as Entry<K>;
      if (!e.done) kept.push(e);
    }
    fifo.entries = kept;
    fifo.head = 0;
    fifo.dead = 0;
  }

  #armHead(delay: number, fifo: Fifo<K>): void {
    // Skip what was disarmed; the first live entry decides when the clock fires.
    while (fifo.head < fifo.entries.length && (fifo.entries[fifo.head] as Entry<K>).done) {
      fifo.entries[fifo.head] = undefined as unknown as Entry<K>;
      fifo.head++;
      fifo.dead = Math.max(0, fifo.dead - 1);
    }
    if (fifo.head === fifo.entries.length) {
      fifo.entries = [];
      fifo.head = 0;
      this.#byDelay.delete(delay);
      return;
    }
    const first = fifo.entries[fifo.head] as Entry<K>;
    fifo.timer = this.#clock.setTimeout(() => {
      fifo.timer = undefined;
      this.#expire(delay, fifo);
    }, Math.max(0, first.at - this.#clock.now()));
  }

  #expire(delay: number, fifo: Fifo<K>): void {
    const now = this.#clock.now();
    try {
      // Every entry whose time has come, in order; an owner's callback may arm new deadlines (appended).
      while (fifo.head < fifo.entries.length) {
        const e = fifo.entries[fifo.head] as Entry<K>;
        if (!e.done && e.at > now) break;
        fifo.entries[fifo.head] = undefined as unknown as Entry<K>; // let it go now
        fifo.head++;
        if (e.done) fifo.dead = Math.max(0, fifo.dead - 1);
        else this.#fire(e);
      }
    } finally {
      // Whatever an owner did, the FIFO stays consistent and armed.
      if (fifo.head > 1024 && fifo.head * 2 > fifo.entries.length) {
        fifo.entries = fifo.entries.slice(fifo.head);
        fifo.head = 0;
      }
      if (fifo.timer === undefined) this.#armHead(delay, fifo);
    }
  }

  #fire(e: Entry<K>): void {
    if (e.done) return;
    e.done = true;
    e.owner.deadlinePassed(e.key);
  }
}

/** One Deadlines per clock (the system clock in production, a test's fake clock in tests). */
const perClock = new WeakMap<Clock, Deadlines<unknown>>();

export function deadlinesOf<K>(clock: Clock): Deadlines<K> {
  let d = perClock.get(clock);
  if (d === undefined) perClock.set(clock, (d = new Deadlines<unknown>(clock)));
  return d as Deadlines<K>;
}
