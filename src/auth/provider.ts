// Authentication at the WebSocket upgrade. A provider sees who connects and answers allow/deny.
import type { Protocol } from '../config/schema.js';

export interface AuthRequest {
  readonly cpId: string;
  /** The agreed subprotocol; null when none was (the connection is closed right after the handshake). */
  readonly protocol: Protocol | null;
  readonly remoteAddress: string;
  /** The listener the charge point came in on. */
  readonly listener: 'ws' | 'wss';
  /** Present on a security profile 3 listener: the verified client certificate. */
  readonly certificate?: { readonly cn: string; readonly fingerprint256: string };
  /** Present when the client sent HTTP Basic credentials. */
  readonly username?: string;
  readonly password?: Buffer;
}

/** Refusals other than 401 that the bounded check work answers with (src/auth/check-gate.ts). */
export type AuthRefusal = 'auth_busy' | 'auth_throttled' | 'handshake_timeout';

/**
 * expireAt (ms since the epoch): when the connection must be closed (reason expired). A denial has a
 * `refusal` when the credentials were not checked at all (default: 401 unauthorized), and is
 * `unavailable` when the provider could not decide (auth service down): not the client's failure.
 */
export type AuthDecision =
  | { allow: true; expireAt?: number }
  | { allow: false; detail: string; expireAt?: undefined; refusal?: AuthRefusal; unavailable?: boolean };

export interface AuthProvider {
  readonly name: string;
  /** `signal` fires when the connection is gone (closed, handshake timeout): queued work is dropped. */
  authenticate(request: AuthRequest, signal?: AbortSignal): Promise<AuthDecision>;
  /** Re-read credentials (SIGHUP). */
  reload(): Promise<void>;
  close(): void;
}

export const allowEveryone: AuthProvider = {
  name: 'none',
  authenticate: () => Promise.resolve({ allow: true }),
  reload: () => Promise.resolve(),
  close: () => undefined,
};
