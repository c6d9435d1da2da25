// The gateway's metrics, reading the live state they report (connections, pending work, the broker).
import type { Config, Protocol } from '../config/schema.js';
import type { CheckGate } from '../auth/check-gate.js';
import type { BrokerPort } from '../bridge/broker.js';
import { Metrics } from '../obs/metrics.js';
import type { Registry } from '../session/registry.js';
import type { Connection } from '../transport/connection.js';
import type { Catalog } from './catalog.js';

export function buildMetrics(config: Readonly<Config>, registry: Registry<Connection>, broker: BrokerPort, openLinks: () => number, gate: CheckGate, catalog: Catalog): Metrics {
  const metrics = new Metrics({
    connections: () => registry.size,
    pending: () => {
      const p = { upstream: 0, downstream: 0, queued: 0 };
      for (const c of registry.values()) {
        p.upstream += c.channel.pendingUpstream;
        p.downstream += c.channel.inFlightDownstream;
        p.queued += c.channel.queueLength;
      }
      return p;
    },
    brokerConnected: () => broker.isConnected(),
    brokerLinks: openLinks,
  });
  metrics.watchAuthChecks(gate);
  // [SPEC §9] action labels are the actions of the enabled protocols; a client's made-up ones are "other".
  metrics.limitActionLabels(new Set((config.ocpp.protocols as Protocol[]).flatMap((p) => catalog.actionsOf(p))));
  return metrics;
}
