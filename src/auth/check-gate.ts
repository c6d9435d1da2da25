// The door in front of every expensive credential check (a password hash, a call to the auth
// service): a source throttled after failures is refused without any work (429 auth_throttled); a
// full queue refuses (503 auth_busy); a check whose connection is gone is dropped before it runs.
// Cheap answers (a cached success or denial) are the providers' own and do not pass through here, so
// a charge point whose password was verified before is admitted even from a throttled address (a
// fleet behind one NAT keeps reconnecting while one member guesses wrong). [SPEC §8]
import { isIPv4, isIPv6 } from 'node:net';
import { CheckNotRun, CheckQueue } from './check-queue.js';
import { FailureThrottle } from './failure-throttle.js';
import type { AuthDecision } from './provider.js';

export interface CheckGateOptions {
  readonly maxInFlight: number;
  readonly maxQueued: number;
  readonly failureLimit: number;
  readonly failureWindowMs: number;
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  readonly maxTrackedSources: number;
  readonly now: () => number;
  /** A source was just blocked (logged once per block, not per refused attempt). */
  readonly onThrottled?: (source: string, backoffMs: number) => void;
}

/** What the metrics read (gauges and counters, collected on scrape). */
export interface CheckGateStats {
  readonly inFlight: number;
  readonly queued: number;
  /** Queued checks dropped because their connection was gone. */
  readonly dropped: number;
  blockedSources(): number;
}

/**
 * The throttling and fairness key of a remote address: an IPv4 address (also IPv4-mapped IPv6) as it
 * is, an IPv6 address by its /64 prefix — one subscriber usually holds a whole /64, so keying by full
 * address would give an attacker 2^64 fresh sources.
 */
export function sourceKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (isIPv4(address) || !isIPv6(address)) return address;
  const zoneless = address.split('%')[0] ?? address;
  const [head = '', tail = ''] = zoneless.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = zoneless.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = zoneless.includes('::') ? [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups] : headGroups;
  return `${groups.slice(0, 4).map((g) => Number.parseInt(g, 16).toString(16)).join(':')}::/64`;
}

const THROTTLED = (ms: number): AuthDecision => ({ allow: false, refusal: 'auth_throttled', detail: `too many failed credential checks from this address; retry in ${Math.ceil(ms / 1000)} s` });

export class CheckGate implements CheckGateStats {
  readonly #queue: CheckQueue;
  readonly #throttle: FailureThrottle;
  readonly #onThrottled: CheckGateOptions['onThrottled'];

  constructor(o: CheckGateOptions) {
    this.#queue = new CheckQueue({ maxInFlight: o.maxInFlight, maxQueued: o.maxQueued });
    this.#throttle = new FailureThrottle({ failureLimit: o.failureLimit, windowMs: o.failureWindowMs, backoffMs: o.backoffMs, maxBackoffMs: o.maxBackoffMs, maxTracked: o.maxTrackedSources, now: o.now });
    this.#onThrottled = o.onThrottled;
  }

  get inFlight(): number { return this.#queue.inFlight; }
  get queued(): number { return this.#queue.queued; }
  get dropped(): number { return this.#queue.dropped; }
  blockedSources(): number { return this.#throttle.blockedSources(); }

  /**
   * Runs one expensive check for a charge point at `address`, within the bounds. `work` answers allow
   * or deny; a deny marked `unavailable` (the auth service could not decide) is not the client's
   * failure and does not count toward throttling.
   */
  async check(address: string, signal: AbortSignal | undefined, work: (signal: AbortSignal | undefined) => Promise<AuthDecision>): Promise<AuthDecision> {
    const source = sourceKey(address);
    const blocked = this.#throttle.blockedFor(source);
    if (blocked > 0) return THROTTLED(blocked);
    try {
      return await this.#queue.run(source, signal, async (s) => {
        // The source may have been blocked while this check waited: still no hashing.
        const now = this.#throttle.blockedFor(source);
        if (now > 0) return THROTTLED(now);
        const decision = await work(s);
        this.#record(source, decision);
        return decision;
      });
    } catch (err) {
      if (!(err instanceof CheckNotRun)) throw err;
      return err.reason === 'busy'
        ? { allow: false, refusal: 'auth_busy', detail: 'too many credential checks are waiting (auth.max_checks_queued); retry later' }
        : { allow: false, refusal: 'handshake_timeout', detail: 'the client left or the handshake timed out while its credential check was queued' };
    }
  }

  #record(source: string, decision: AuthDecision): void {
    if (decision.allow) return this.#throttle.succeeded(source);
    if (decision.unavailable === true || decision.refusal !== undefined) return;
    const backoff = this.#throttle.failed(source);
    if (backoff > 0) this.#onThrottled?.(source, backoff);
  }
}
