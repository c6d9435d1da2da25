// Per-source failure throttling for credential checks: after `failureLimit` failed checks from one
// source within `windowMs`, the source is blocked for a backoff that doubles with each further block
// (from `backoffMs` up to `maxBackoffMs`); a blocked source's attempts are refused without hashing.
// A successful check clears the source's record. The number of sources tracked is capped (least
// recently seen evicted), so an address sweep costs bounded memory. No timers: time is read from the
// clock when a source is seen. [SPEC §8]

export interface FailureThrottleOptions {
  /** Failed checks within windowMs that block the source; 0 = never block. */
  readonly failureLimit: number;
  readonly windowMs: number;
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  readonly maxTracked: number;
  readonly now: () => number;
}

interface SourceRecord {
  windowStart: number;
  failures: number;
  /** Blocks so far; the next backoff is backoffMs x 2^blocks (capped). */
  blocks: number;
  blockedUntil: number;
  lastFailure: number;
}

export class FailureThrottle {
  readonly #o: FailureThrottleOptions;
  /** Map order = least recently seen first (a record is re-inserted when seen). */
  readonly #records = new Map<string, SourceRecord>();

  constructor(options: FailureThrottleOptions) {
    this.#o = options;
  }

  get tracked(): number { return this.#records.size; }

  /** Milliseconds the source stays blocked (0 = not blocked). */
  blockedFor(source: string): number {
    const r = this.#current(source);
    if (r === undefined) return 0;
    return Math.max(0, r.blockedUntil - this.#o.now());
  }

  /** Records a failed check; returns the backoff in ms when this failure blocks the source, else 0. */
  failed(source: string): number {
    if (this.#o.failureLimit === 0) return 0;
    const now = this.#o.now();
    let r = this.#current(source);
    if (r === undefined) {
      r = { windowStart: now, failures: 0, blocks: 0, blockedUntil: 0, lastFailure: now };
      this.#insert(source, r);
    }
    if (now - r.windowStart >= this.#o.windowMs) {
      r.windowStart = now;
      r.failures = 0;
    }
    r.failures++;
    r.lastFailure = now;
    if (r.failures < this.#o.failureLimit) return 0;
    const backoff = Math.min(this.#o.maxBackoffMs, this.#o.backoffMs * 2 ** Math.min(r.blocks, 30));
    r.blocks++;
    r.blockedUntil = now + backoff;
    r.failures = 0;
    r.windowStart = now;
    return backoff;
  }

  /** A successful check: the source starts afresh. */
  succeeded(source: string): void {
    this.#records.delete(source);
  }

  /** Sources blocked now (computed on demand: for a metric, not the hot path). */
  blockedSources(): number {
    const now = this.#o.now();
    let n = 0;
    for (const r of this.#records.values()) if (r.blockedUntil > now) n++;
    return n;
  }

  /**
   * The source's record, marked as recently seen; a record quiet for longer than the longest backoff
   * plus the window is forgotten, so the backoff does not stay doubled forever.
   */
  #current(source: string): SourceRecord | undefined {
    const r = this.#records.get(source);
    if (r === undefined) return undefined;
    this.#records.delete(source);
    const now = this.#o.now();
    if (r.blockedUntil <= now && now - r.lastFailure > this.#o.maxBackoffMs + this.#o.windowMs) return undefined;
    this.#records.set(source, r);
    return r;
  }

  #insert(source: string, r: SourceRecord): void {
    while (this.#records.size >= this.#o.maxTracked && this.#records.size > 0) {
      this.#records.delete(this.#records.keys().next().value as string);
    }
    this.#records.set(source, r);
  }
}
