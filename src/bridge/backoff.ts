// Reconnect delays towards an external broker: exponential from `first`, capped at `max`, each
// shortened by a random share up to `jitter` so that many gateways restarted together do not
// reconnect in step. Pure: the random source is injected. [SPEC §7]
export class Backoff {
  #base: number;

  constructor(
    readonly first: number,
    readonly max: number,
    readonly jitter: number,
    readonly random: () => number = Math.random,
  ) {
    this.#base = first;
  }

  /** The delay before the next attempt; every call doubles the one after it, up to max. */
  next(): number {
    const base = this.#base;
    this.#base = Math.min(this.max, base * 2);
    return Math.max(100, Math.round(base * (1 - this.jitter * this.random())));
  }

  /** After a successful connection: start again from `first`. */
  reset(): void {
    this.#base = this.first;
  }
}
