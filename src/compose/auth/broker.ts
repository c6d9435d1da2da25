// auth.provider broker (mqtt.client_mode per_client): the gateway admits, the broker's CONNACK to the
// charge point's own link decides. [SPEC §7]
import { allowEveryone } from '../../auth/provider.js';
import type { AuthProviderKind } from './kind.js';

export const brokerAuth: AuthProviderKind = {
  async build() {
    return { ...allowEveryone, name: 'broker' };
  },
};
