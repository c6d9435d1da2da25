// Several gateway instances on one external broker (client_mode shared): a charge point that
// reconnects to another instance is closed here, fenced. [SPEC §7] (per_client: the broker's own
// client-id takeover does this.)
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Bridge } from '../bridge/bridge.js';
import type { BrokerPort } from '../bridge/broker.js';
import type { CpSessions } from '../transport/cp-sessions.js';
import type { ComposeContext } from './context.js';

export async function enableClusterTakeover({ log }: ComposeContext, broker: BrokerPort, bridge: Bridge, sessions: CpSessions): Promise<void> {
  const instanceId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const enable = () => bridge.enableTakeover(instanceId, (cpId, connectedAt, by) => sessions.takeOver(cpId, connectedAt, by));
  if (broker.isConnected()) {
    await enable();
    return;
  }
  // Started without the broker: subscribe when it connects (no charge point is admitted before).
  let subscribed = false;
  broker.onConnectionChange((up) => {
    if (!up || subscribed) return;
    subscribed = true;
    enable().catch((err: unknown) => log.error({ err: String(err) }, 'mqtt.subscribe_failed'));
  });
}
