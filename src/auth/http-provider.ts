// auth.provider = http: an auth service decides. POST JSON with what is known about the charge point;
// the answer {"allow": bool, "expire_at"?: ISO-8601 | epoch seconds, "reason"?: string} is cached.
// Fail closed: a timeout, a network error, a non-2xx status or a malformed answer denies. [SPEC §8]
// Requests to the service run through the CheckGate (bounded in flight and queued, fair per address,
// throttled after denials); a cached answer does not. [SPEC §8]
import { createHash } from 'node:crypto';
import type { Clock } from '../session/clock.js';
import type { AuthDecision, AuthProvider, AuthRequest } from './provider.js';
import type { CheckGate } from './check-gate.js';

export interface HttpProviderOptions {
  readonly url: string;
  readonly timeoutMs: number;
  readonly cacheTtlMs: number;
  readonly cacheSize: number;
  readonly clock: Clock;
  readonly gate: CheckGate;
}

/** Denials are cached briefly only, so a fixed credential works again soon. */
const DENY_CACHE_MS = 5000;

interface Cached { readonly decision: AuthDecision; readonly until: number }

function parseExpireAt(value: unknown): number | undefined | 'invalid' {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return value * 1000;
  if (typeof value === 'string') {
    const t = Date.parse(value);
    return Number.isNaN(t) ? 'invalid' : t;
  }
  return 'invalid';
}

/**
 * fetch refuses a URL that carries credentials (and its error would quote them): they travel as an
 * Authorization: Basic header instead, to a URL without them. [RFC 7617]
 */
export function splitUrlCredentials(url: string): { url: string; authorization: string | undefined } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { url, authorization: undefined };
  }
  if (parsed.username === '' && parsed.password === '') return { url, authorization: undefined };
  const user = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  parsed.username = '';
  parsed.password = '';
  return { url: parsed.toString(), authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

export class HttpAuthProvider implements AuthProvider {
  readonly name = 'http';
  readonly #o: HttpProviderOptions;
  readonly #cache = new Map<string, Cached>();
  readonly #url: string;
  readonly #headers: Record<string, string>;

  constructor(options: HttpProviderOptions) {
    this.#o = options;
    const { url, authorization } = splitUrlCredentials(options.url);
    this.#url = url;
    this.#headers = { 'content-type': 'application/json', ...(authorization !== undefined ? { authorization } : {}) };
  }

  #key(r: AuthRequest): string {
    const h = createHash('sha256');
    h.update(r.cpId).update('\u0000').update(r.username ?? '').update('\u0000').update(r.password ?? Buffer.alloc(0)).update('\u0000').update(r.certificate?.fingerprint256 ?? '');
    return h.digest('base64');
  }

  async authenticate(r: AuthRequest, signal?: AbortSignal): Promise<AuthDecision> {
    const now = this.#o.clock.now();
    const key = this.#key(r);
    const hit = this.#cache.get(key);
    if (hit !== undefined && hit.until > now) return hit.decision;
    const decision = await this.#o.gate.check(r.remoteAddress, signal, (s) => this.#ask(r, s));
    // Only the service's own answers (and its failures) are remembered, not the gate's refusals.
    if (decision.allow || (decision.refusal === undefined && signal?.aborted !== true)) this.#remember(key, decision, now);
    return decision;
  }

  async #ask(r: AuthRequest, gone: AbortSignal | undefined): Promise<AuthDecision> {
    const password = r.password;
    const body = {
      cpId: r.cpId,
      username: r.username ?? null,
      // JSON cannot carry arbitrary bytes: the UTF-8 reading when there is one, and always base64.
      password: password === undefined ? null : Buffer.from(password.toString('utf8'), 'utf8').equals(password) ? password.toString('utf8') : null,
      password_base64: password === undefined ? null : password.toString('base64'),
      remoteAddress: r.remoteAddress,
      certificateCn: r.certificate?.cn ?? null,
      certificateFingerprint: r.certificate?.fingerprint256 ?? null,
      protocol: r.protocol,
      listener: r.listener,
    };
    let res: Response;
    try {
      // A client that left needs no answer: its request is abandoned with it.
      const timeout = AbortSignal.timeout(this.#o.timeoutMs);
      res = await fetch(this.#url, { method: 'POST', headers: this.#headers, body: JSON.stringify(body), signal: gone === undefined ? timeout : AbortSignal.any([timeout, gone]) });
    } catch (err) {
      if (gone?.aborted === true) return { allow: false, unavailable: true, detail: 'the client left before the auth service answered' };
      const timedOut = (err as Error).name === 'TimeoutError';
      return { allow: false, unavailable: true, detail: timedOut ? `the auth service did not answer within ${this.#o.timeoutMs} ms` : `the auth service is unreachable (${(err as Error).message})` };
    }
    if (!res.ok) return { allow: false, unavailable: true, detail: `the auth service answered HTTP ${res.status}` };
    let answer: { allow?: unknown; expire_at?: unknown; reason?: unknown };
    try {
      answer = (await res.json()) as typeof answer;
    } catch {
      return { allow: false, unavailable: true, detail: 'the auth service answered something that is not JSON' };
    }
    if (answer.allow !== true) return { allow: false, detail: typeof answer.reason === 'string' ? `denied by the auth service: ${answer.reason}` : 'denied by the auth service' };
    const expireAt = parseExpireAt(answer.expire_at);
    if (expireAt === 'invalid') return { allow: false, unavailable: true, detail: 'the auth service answered an invalid expire_at' };
    if (expireAt !== undefined && expireAt <= this.#o.clock.now()) return { allow: false, detail: 'the authorization has already expired' };
    return expireAt === undefined ? { allow: true } : { allow: true, expireAt };
  }

  #remember(key: string, decision: AuthDecision, now: number): void {
    if (this.#o.cacheTtlMs === 0 || this.#o.cacheSize === 0) return;
    let until = now + (decision.allow ? this.#o.cacheTtlMs : Math.min(this.#o.cacheTtlMs, DENY_CACHE_MS));
    if (decision.expireAt !== undefined) until = Math.min(until, decision.expireAt);
    if (this.#cache.size >= this.#o.cacheSize) this.#cache.delete(this.#cache.keys().next().value as string);
    this.#cache.set(key, { decision, until });
  }

  async reload(): Promise<void> {
    this.#cache.clear();
  }

  close(): void {
    this.#cache.clear();
  }
}
