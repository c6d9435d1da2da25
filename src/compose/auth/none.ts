// auth.provider none: every charge point is admitted (warned about when the listener is public).
import { allowEveryone } from '../../auth/provider.js';
import { isLoopbackHost } from '../../transport/web-guards.js';
import type { AuthProviderKind } from './kind.js';

export const noAuth: AuthProviderKind = {
  async build({ config, log }) {
    if (config.ocpp.enabled && config.ocpp.security_profile === 0 && config.mqtt.client_mode === 'shared' && !isLoopbackHost(config.ocpp.host)) {
      log.warn({ host: config.ocpp.host }, 'auth.none_public: auth.provider is none and the OCPP listener is reachable beyond loopback; any client can connect as any charge point');
    }
    return allowEveryone;
  },
};
