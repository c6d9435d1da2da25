// mqtt.url set, client_mode shared: one MQTT.js connection carries every charge point; several
// gateway instances may share the broker (takeover). [SPEC §7]
import type { Config } from '../../config/schema.js';
import { StartupError } from '../../errors.js';
import type { BrokerEndpoint } from '../../bridge/client-link.js';
import { ExternalBroker } from '../../bridge/external-broker.js';
import { redactUrl } from '../../obs/log.js';
import { readKeyFile } from '../../transport/tls.js';
import { sampledWarn, type ComposeContext } from '../context.js';
import type { BrokerKind } from './kind.js';

/** Where and how to reach the external broker (also each per_client link's). */
export function brokerEndpoint(config: Readonly<Config>): BrokerEndpoint {
  return {
    url: config.mqtt.url, qos: config.mqtt.qos as 0 | 1 | 2, keepaliveMs: config.mqtt.keepalive,
    protocolVersion: config.mqtt.protocol_version === '5' ? 5 : 4, tls: mqttTls(config.mqtt.tls),
  };
}

/** The gateway's own connection to the external broker. */
export async function connectExternal({ config, log, clock }: ComposeContext, endpoint: BrokerEndpoint): Promise<ExternalBroker> {
  // [SPEC §7] a broker that is down does not stop the start (unless mqtt.connect_timeout_exit says
  // so): the gateway runs not ready, refusing charge points, and logs each reconnect attempt.
  const attemptFailed = sampledWarn(log, clock, 'mqtt.connect_failed', 500);
  const url = redactUrl(config.mqtt.url);
  const broker = await ExternalBroker.start({
    ...endpoint, clientId: config.mqtt.client_id, username: config.mqtt.username, password: config.mqtt.password, connectTimeoutMs: 10_000,
    reconnectPeriodMs: config.mqtt.reconnect_period, reconnectMaxMs: config.mqtt.reconnect_max, reconnectJitter: config.mqtt.reconnect_jitter,
    exitAfterMs: config.mqtt.connect_timeout_exit,
    onAttemptFailed: (f) => attemptFailed({ url, attempt: f.attempt, error: f.error, retryInMs: f.retryInMs }),
  });
  broker.onConnectionChange((up) => log.warn({ connected: up }, up ? 'mqtt.connected' : 'mqtt.disconnected'));
  return broker;
}

export const externalBroker: BrokerKind = {
  name: 'external',
  serves: (config) => config.mqtt.url !== '' && config.mqtt.client_mode === 'shared',
  async start(ctx) {
    return { broker: await connectExternal(ctx, brokerEndpoint(ctx.config)), takeover: true };
  },
};

function mqttTls(t: Config['mqtt']['tls']) {
  const read = (path: string, key: string) => {
    try {
      return readKeyFile(path, `mqtt.tls.${key}`);
    } catch (err) {
      throw new StartupError((err as Error).message);
    }
  };
  return {
    rejectUnauthorized: t.reject_unauthorized,
    ...(t.ca_file !== '' ? { ca: read(t.ca_file, 'ca_file') } : {}),
    ...(t.cert_file !== '' ? { cert: read(t.cert_file, 'cert_file') } : {}),
    ...(t.key_file !== '' ? { key: read(t.key_file, 'key_file') } : {}),
    ...(t.servername !== '' ? { servername: t.servername } : {}),
  };
}
