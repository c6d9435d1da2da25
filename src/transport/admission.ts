// Admission limits shared by every listener: token buckets for new upgrade attempts — one per source
// address in front of the global one, so one address cannot spend the whole gateway's rate — and a
// count of connections per remote address. [SPEC §3 limits, §8]
import type { Clock } from '../session/clock.js';

/** A token bucket: `rate` tokens per second, at most `burst` saved up. Pure: time is passed in. */
export class TokenBucket {
  #tokens: number;
  #refilledAt: number;

  constructor(private readonly rate: number, private readonly burst: number, now: number) {
    this.#tokens = burst;
    this.#refilledAt = now;
  }

  take(now: number): boolean {
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#refilledAt) / 1000) * this.rate);
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

export interface AdmissionLimits {
  /** ocpp.max_connect_rate / ocpp.connect_burst: every upgrade attempt. */
  readonly rate: number;
  readonly burst: number;
  /** ocpp.max_connect_rate_per_address / ocpp.connect_burst_per_address; rate 0 = no per-address bucket. */
  readonly ratePerAddress: number;
  readonly burstPerAddress: number;
  /** Source addresses with a bucket at once; the least recently seen is forgotten (it starts full again). */
  readonly maxAddresses: number;
  /** ocpp.max_connections_per_address. */
  readonly connectionsPerAddress: number;
}

export type AttemptVerdict = 'admitted' | 'address_rate_limited' | 'rate_limited';

export class Admission {
  readonly #clock: Clock;
  readonly #limits: AdmissionLimits;
  readonly #global: TokenBucket;
  /** Insertion order = least recently seen first. */
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #byAddress = new Map<string, number>();

  constructor(clock: Clock, limits: AdmissionLimits) {
    this.#clock = clock;
    this.#limits = limits;
    this.#global = new TokenBucket(limits.rate, Math.max(limits.burst, 1), clock.now());
  }

  /**
   * One upgrade attempt from `source` (an address, IPv6 by its /64). The address's own bucket is asked
   * first: an attempt it refuses costs the global bucket nothing.
   */
  takeAttempt(source: string): AttemptVerdict {
    const now = this.#clock.now();
    if (this.#limits.ratePerAddress > 0) {
      let bucket = this.#buckets.get(source);
      if (bucket === undefined) bucket = new TokenBucket(this.#limits.ratePerAddress, Math.max(this.#limits.burstPerAddress, 1), now);
      else this.#buckets.delete(source);
      this.#buckets.set(source, bucket);
      if (this.#buckets.size > this.#limits.maxAddresses) this.#buckets.delete(this.#buckets.keys().next().value as string);
      if (!bucket.take(now)) return 'address_rate_limited';
    }
    return this.#global.take(now) ? 'admitted' : 'rate_limited';
  }

  /** Counts a connection (or upgrade in progress) from `address`; false when it is at its limit. */
  claimAddress(address: string): boolean {
    const n = this.#byAddress.get(address) ?? 0;
    if (n >= this.#limits.connectionsPerAddress) return false;
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

  get trackedAddresses(): number {
    return this.#buckets.size;
  }
}
