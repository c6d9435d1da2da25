// An auth provider kind: who decides at the upgrade, for one value of auth.provider. Each kind is one
// file in this folder and one row of AUTH_PROVIDERS (index.ts); the schema's list of values is the
// rows' keys' source of truth (config/schema.ts auth.provider).
import type { AuthProvider } from '../../auth/provider.js';
import type { CheckGate } from '../../auth/check-gate.js';
import type { ComposeContext } from '../context.js';

export interface AuthProviderKind {
  /** Builds the provider; `gate` bounds, queues fairly and throttles its expensive checks. [SPEC §8] */
  build(ctx: ComposeContext, gate: CheckGate): Promise<AuthProvider>;
}
