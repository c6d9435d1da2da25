// Authentication at the WebSocket upgrade. A provider sees who connects and answers allow/deny.
import type { Protocol } from '../config/schema.js';

export interface AuthRequest {
  readonly cpId: string;
  readonly protocol: Protocol;
  readonly remoteAddress: string;
  /** Present when the client sent HTTP Basic credentials. */
  readonly username?: string;
  readonly password?: Buffer;
}

export type AuthDecision = { allow: true } | { allow: false; detail: string };

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
