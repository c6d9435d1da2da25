// The HTTP API and dashboard (api.enabled), bound. [SPEC §6]
import type { FastifyInstance } from 'fastify';
import type { Protocol } from '../config/schema.js';
import { buildApi, type ApiDeps as HttpApiDeps } from '../api/http.js';
import { StartupError } from '../errors.js';
import type { Metrics } from '../obs/metrics.js';
import type { RecentDisconnects } from '../session/cp-facts.js';
import type { Registry } from '../session/registry.js';
import type { Connection } from '../transport/connection.js';
import type { ApiCatalog } from './catalog.js';
import { sampledWarn, type ComposeContext } from './context.js';

export interface ApiDeps {
  readonly registry: Registry<Connection>;
  readonly recentlyDisconnected: RecentDisconnects;
  readonly metrics: Metrics;
  readonly catalog: ApiCatalog;
  readonly ready: () => { ready: boolean; checks: Record<string, boolean> };
  /** ocpp.workers > 1: the primary's API asks the workers (src/cluster/primary.ts). */
  readonly clients?: HttpApiDeps['clients'];
  readonly aggregated?: HttpApiDeps['aggregated'];
}

export async function startApi(ctx: ComposeContext, d: ApiDeps): Promise<{ app: FastifyInstance; address: { host: string; port: number } }> {
  const { config, log, clock, cleanups } = ctx;
  const hostRefused = sampledWarn(log, clock, 'api.request_refused');
  const app = await buildApi({
    registry: d.registry, recentlyDisconnected: d.recentlyDisconnected, clock, metrics: d.metrics, ready: d.ready, actions: d.catalog.actionsOf, requestSchema: d.catalog.requestSchema,
    protocols: config.ocpp.protocols as Protocol[], apiKey: config.api.key, maxCallTimeoutMs: config.api.max_call_timeout,
    bindHost: config.api.host, allowedHosts: config.api.allowed_hosts,
    ...(d.clients ? { clients: d.clients } : {}), ...(d.aggregated ? { aggregated: d.aggregated } : {}),
    onRefused: (reason, fields) => {
      d.metrics.requestRefused('api', reason);
      hostRefused({ reason, ...fields, host: fields.host.slice(0, 200), origin: fields.origin.slice(0, 200) });
    },
  });
  cleanups.push(() => app.close());
  try {
    await app.listen({ host: config.api.host, port: config.api.port });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new StartupError(`HTTP API: port ${config.api.port} on ${config.api.host} is already in use (api.port); choose another with --api-port PORT`);
    }
    throw err;
  }
  const a = app.server.address();
  return { app, address: { host: config.api.host, port: typeof a === 'object' && a !== null ? a.port : config.api.port } };
}
