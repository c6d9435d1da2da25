// A broker kind: how the gateway reaches MQTT for one setting of mqtt.url / mqtt.client_mode.
// Each kind is one file in this folder and one row of BROKER_KINDS (index.ts).
import type { Config } from '../../config/schema.js';
import type { BrokerPort } from '../../bridge/broker.js';
import type { PerClientLinks } from '../../bridge/bridge.js';
import type { ComposeContext } from '../context.js';

/** The embedded broker's bound addresses (host = the address its listeners are bound to). */
export interface MqttAddress {
  readonly host: string;
  readonly port: number;
  readonly wsPort: number | undefined;
}

export interface BrokerBuild {
  /** The shared connection every publish and the downstream subscriptions go through. */
  readonly broker: BrokerPort;
  /** Present when the gateway hosts the broker itself. */
  readonly mqttAddress?: MqttAddress | undefined;
  /** mqtt.client_mode per_client: how each charge point's own link is made. */
  readonly perClient?: PerClientLinks | undefined;
  /** Several gateway instances may share this broker: a CP accepted elsewhere is closed here. [SPEC §7] */
  readonly takeover: boolean;
}

export interface BrokerKind {
  readonly name: string;
  /** Whether this kind serves `config`; the first row that does is used. */
  serves(config: Readonly<Config>): boolean;
  /** Starts (or connects to) the broker; throws StartupError when it cannot. */
  start(ctx: ComposeContext): Promise<BrokerBuild>;
}
