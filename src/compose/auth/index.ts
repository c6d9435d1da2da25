// The auth providers, one row per value of auth.provider. A new provider: a file in this folder
// exporting an AuthProviderKind, its row here, and its value in config/schema.ts auth.provider.
import type { Config } from '../../config/schema.js';
import type { AuthProvider } from '../../auth/provider.js';
import { CheckGate } from '../../auth/check-gate.js';
import type { ComposeContext } from '../context.js';
import { brokerAuth } from './broker.js';
import { fileAuth } from './file.js';
import { httpAuth } from './http.js';
import type { AuthProviderKind } from './kind.js';
import { noAuth } from './none.js';

export type { AuthProviderKind } from './kind.js';

export const AUTH_PROVIDERS: Readonly<Record<Config['auth']['provider'], AuthProviderKind>> = {
  none: noAuth,
  file: fileAuth,
  http: httpAuth,
  broker: brokerAuth,
};

/** The configured provider behind the shared credential-check gate. */
export async function buildAuth(ctx: ComposeContext): Promise<{ auth: AuthProvider; gate: CheckGate }> {
  const { config, clock, log } = ctx;
  const a = config.auth;
  // [SPEC §8] every expensive credential check goes through one bounded, fair, throttled gate.
  const gate = new CheckGate({
    maxInFlight: a.provider === 'http' ? a.http.max_in_flight : a.max_checks_in_flight, maxQueued: a.max_checks_queued,
    failureLimit: a.failure_limit, failureWindowMs: a.failure_window, backoffMs: a.failure_backoff, maxBackoffMs: a.failure_backoff_max, maxTrackedSources: a.max_tracked_addresses,
    now: () => clock.now(), onThrottled: (source, backoffMs) => log.warn({ source, backoffMs }, 'auth.source_throttled'),
  });
  const auth = await AUTH_PROVIDERS[a.provider].build(ctx, gate);
  ctx.cleanups.push(() => auth.close());
  return { auth, gate };
}
