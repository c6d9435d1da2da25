// mqtt.url empty: the gateway hosts aedes itself (MQTT, and MQTT over WebSocket). [SPEC §7]
import { StartupError } from '../../errors.js';
import { EmbeddedBroker } from '../../bridge/embedded-broker.js';
import { isLoopbackHost } from '../../transport/web-guards.js';
import { sampledWarn } from '../context.js';
import type { BrokerKind } from './kind.js';

export const embeddedBroker: BrokerKind = {
  name: 'embedded',
  serves: (config) => config.mqtt.url === '',
  async start({ config, log, clock, late }) {
    const e = config.mqtt.embedded;
    const credentials = e.username === '' ? undefined : { username: e.username, password: e.password };
    // [SPEC §2] as Mosquitto 2: the config check refuses this already; a Config built elsewhere too.
    if (credentials === undefined && !e.allow_anonymous && !isLoopbackHost(e.host)) {
      throw new StartupError(`mqtt.embedded.username: is required (with mqtt.embedded.password) when mqtt.embedded.host (${e.host}) is not a loopback address; or set mqtt.embedded.allow_anonymous: true`);
    }
    const originRefused = sampledWarn(log, clock, 'mqtt.ws_upgrade_refused');
    const embedded = await EmbeddedBroker.start({
      host: e.host, port: e.port, wsEnabled: e.ws_enabled, wsPort: e.ws_port, wsPath: e.ws_path, qos: config.mqtt.qos as 0 | 1 | 2, credentials,
      allowedOrigins: e.allowed_origins,
      onOriginRefused: (origin, remoteAddress) => {
        late.metrics?.requestRefused('mqtt_ws', 'origin_not_allowed');
        originRefused({ reason: 'origin_not_allowed', status: 403, origin: origin.slice(0, 200), remoteAddress });
      },
    });
    if (credentials === undefined && !isLoopbackHost(e.host)) {
      log.warn({ host: e.host, port: embedded.addresses.mqttPort, wsPort: embedded.addresses.wsPort ?? null }, 'mqtt.embedded_open: mqtt.embedded.allow_anonymous lets any MQTT client beyond loopback subscribe to every charge point and command it; set mqtt.embedded.username and password');
    }
    return {
      broker: embedded,
      mqttAddress: { host: embedded.addresses.host, port: embedded.addresses.mqttPort, wsPort: embedded.addresses.wsPort },
      takeover: false,
    };
  },
};
