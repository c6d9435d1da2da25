// A per-charge-point budget of things one client can make the gateway do (event/rejected messages,
// log lines), in fixed windows. What it refuses is tallied by kind until someone drains the tally
// into one summary, so a flood costs a counter increment per message, not a publish or a line.
// Pure: time is passed in. [SPEC §8]

export class WindowBudget {
  readonly #max: number;
  readonly #windowMs: number;
  #windowStart = Number.NEGATIVE_INFINITY;
  #used = 0;
  /** Refused since the last drain, by kind; made on the first refusal (a quiet client never has one). */
  #refused: Map<string, number> | undefined;

  /** max = 0: unlimited. */
  constructor(max: number, windowMs: number) {
    this.#max = max;
    this.#windowMs = windowMs;
  }

  /** True: the event may go out. False: over budget; counted under `kind` for the next summary. */
  take(kind: string, now: number): boolean {
    if (this.#max === 0) return true;
    if (now - this.#windowStart >= this.#windowMs) {
      this.#windowStart = now;
      this.#used = 0;
    }
    if (this.#used < this.#max) {
      this.#used++;
      return true;
    }
    const refused = (this.#refused ??= new Map());
    refused.set(kind, (refused.get(kind) ?? 0) + 1);
    return false;
  }

  /** When the current window ends: the time for the summary of what it refused. */
  get windowEndsAt(): number {
    return this.#windowStart + this.#windowMs;
  }

  /** True while refusals wait to be summarised. */
  get hasRefused(): boolean {
    return this.#refused !== undefined;
  }

  /** The refusals since the last drain, by kind (undefined when none), and a fresh tally. */
  drain(): ReadonlyMap<string, number> | undefined {
    const refused = this.#refused;
    this.#refused = undefined;
    return refused;
  }
}

/** Sum of a drained tally. */
export function total(tally: ReadonlyMap<string, number>): number {
  let n = 0;
  for (const count of tally.values()) n += count;
  return n;
}
