// Admission limits shared by every listener: a token bucket for new upgrade attempts and a count of
// connections per remote address. [SPEC §3 limits]
import type { Clock } from '../session/clock.js';

export class Admission {
  readonly #clock: Clock;
  readonly #rate: number;
  readonly #burst: number;
  readonly #perAddress: number;
  #tokens: number;
  #refilledAt: number;
  readonly #byAddress = new Map<string, number>();

  constructor(clock: Clock, ratePerSecond: number, burst: number, perAddress: number) {
    this.#clock = clock;
    this.#rate = ratePerSecond;
    this.#burst = Math.max(burst, 1);
    this.#perAddress = perAddress;
    this.#tokens = this.#burst;
    this.#refilledAt = clock.now();
  }

  /** Takes a token for one upgrade attempt; false when the bucket is empty. */
  takeAttempt(): boolean {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#refilledAt) / 1000) * this.#rate);
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Counts a connection (or upgrade in progress) from `address`; false when it is at its limit. */
  claimAddress(address: string): boolean {
    const n = this.#byAddress.get(address) ?? 0;
    if (n >= this.#perAddress) return false;
    this.#byAddress.set(address, n + 1);
    return true;
  }

  releaseAddress(address: string): void {
    const n = (this.#byAddress.get(address) ?? 0) - 1;
    if (n <= 0) this.#byAddress.delete(address);
    else this.#byAddress.set(address, n);
  }

  connectionsFrom(address: string): number {
    return this.#byAddress.get(address) ?? 0;
  }
}
