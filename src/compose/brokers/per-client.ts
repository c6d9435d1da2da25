// mqtt.url set, client_mode per_client: the shared connection plus one link per charge point
// (client id = cpId, its own credentials), whose CONNACK decides the upgrade. The broker's client-id
// takeover closes a CP accepted elsewhere, so no takeover topic. [SPEC §7]
import type { BrokerKind } from './kind.js';
import { brokerEndpoint, connectExternal } from './external.js';

export const perClientBroker: BrokerKind = {
  name: 'per_client',
  serves: (config) => config.mqtt.url !== '' && config.mqtt.client_mode === 'per_client',
  async start(ctx) {
    const { config } = ctx;
    const endpoint = brokerEndpoint(config);
    const broker = await connectExternal(ctx, endpoint);
    const pc = config.mqtt.per_client;
    return {
      broker,
      perClient: { endpoint, persistent: pc.persistent_session, sessionExpirySeconds: Math.round(pc.session_expiry / 1000), timeoutMs: Math.min(pc.connect_timeout, config.ocpp.handshake_timeout) },
      takeover: false,
    };
  },
};
