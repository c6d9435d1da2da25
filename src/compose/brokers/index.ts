// The broker kinds, one row each; the first row that serves the config is used. A new kind: a file
// in this folder exporting a BrokerKind, and its row here.
import type { Config } from '../../config/schema.js';
import { StartupError } from '../../errors.js';
import { embeddedBroker } from './embedded.js';
import { externalBroker } from './external.js';
import type { BrokerKind } from './kind.js';
import { perClientBroker } from './per-client.js';

export type { BrokerBuild, BrokerKind, MqttAddress } from './kind.js';

export const BROKER_KINDS: readonly BrokerKind[] = [
  embeddedBroker,
  externalBroker,
  perClientBroker,
];

export function brokerKindFor(config: Readonly<Config>, kinds: readonly BrokerKind[] = BROKER_KINDS): BrokerKind {
  const kind = kinds.find((k) => k.serves(config));
  // The config schema allows no other combination (per_client needs mqtt.url).
  if (kind === undefined) throw new StartupError(`no broker kind serves mqtt.url ${config.mqtt.url === '' ? '(empty)' : '(set)'} with mqtt.client_mode ${config.mqtt.client_mode}`);
  return kind;
}
