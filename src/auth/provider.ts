// Authentication at the WebSocket upgrade. A provider sees who connects and answers allow/deny.
import type { Protocol } from '../config/schema.js';

export interface AuthRequest {
  readonly cpId: string;
  readonly protocol: Protocol;
  readonly remoteAddress: string;
  /** The listener the charge point came in on. */
  readonly listener: 'ws' | 'wss';
  /** Present on a security profile 3 listener: the verified client certificate. */
  readonly certificate?: { readonly cn: string; readonly fingerprint256: string };
  /** Present when the client sent HTTP Basic credentials. */
  readonly username?: string;
  readonly password?: Buffer;
}

/** expireAt (ms since the epoch): when the connection must be closed (reason expired). */
export type AuthDecision = { allow: true; expireAt?: number } | { allow: false; detail: string; expireAt?: undefined };

export interface AuthProvider {
  readonly name: string;
  authenticate(request: AuthRequest): Promise<AuthDecision>;
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
