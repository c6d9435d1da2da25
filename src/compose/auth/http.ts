// auth.provider http: an auth service decides (auth.http), answers cached.
import { HttpAuthProvider } from '../../auth/http-provider.js';
import type { AuthProviderKind } from './kind.js';

export const httpAuth: AuthProviderKind = {
  async build({ config, clock }, gate) {
    const h = config.auth.http;
    return new HttpAuthProvider({ url: h.url, timeoutMs: h.timeout, cacheTtlMs: h.cache_ttl, cacheSize: h.cache_size, clock, gate });
  },
};
