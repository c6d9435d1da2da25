// The HTTP API: health, readiness and the client list. Fastify, schemas on every route. [SPEC §9]
import Fastify, { type FastifyInstance } from 'fastify';
import type { Connection } from '../transport/connection.js';
import type { Registry } from '../session/registry.js';

export interface ApiDeps {
  readonly registry: Registry<Connection>;
  /** Readiness: listeners up and broker connected. */
  readonly ready: () => { ready: boolean; checks: Record<string, boolean> };
}

const clientSummary = {
  type: 'object',
  properties: {
    cpId: { type: 'string' },
    protocol: { type: 'string' },
    remoteAddress: { type: 'string' },
    username: { type: ['string', 'null'] },
    connectedAt: { type: 'string' },
    lastSeenAt: { type: 'string' },
    heartbeatInterval: { type: ['number', 'null'] },
    inflight: { type: 'object', properties: { up: { type: 'integer' }, down: { type: 'integer' } } },
    queueLength: { type: 'integer' },
    counters: { type: 'object', properties: { framesIn: { type: 'integer' }, framesOut: { type: 'integer' }, bytesIn: { type: 'integer' }, bytesOut: { type: 'integer' } } },
  },
} as const;

export function describeClient(c: Connection) {
  return {
    cpId: c.cpId,
    protocol: c.protocol,
    remoteAddress: c.remoteAddress,
    username: c.username ?? null,
    connectedAt: new Date(c.connectedAt).toISOString(),
    lastSeenAt: new Date(c.lastSeenAt).toISOString(),
    heartbeatInterval: c.heartbeatInterval ?? null,
    inflight: { up: c.channel.pendingUpstream, down: c.channel.inFlightDownstream },
    queueLength: c.channel.queueLength,
    counters: { ...c.counters },
  };
}

interface ListQuery { page: number; limit: number; protocol?: string; like?: string; connected_since?: string }

export function buildApi(deps: ApiDeps): FastifyInstance {
  const app = Fastify({ logger: false });

  app.get('/healthz', { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    const r = deps.ready();
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not_ready', checks: r.checks });
  });

  app.get<{ Querystring: ListQuery }>(
    '/api/v1/clients',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            page: { type: 'integer', minimum: 1, default: 1 },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            protocol: { type: 'string' },
            like: { type: 'string', maxLength: 256 },
            connected_since: { type: 'string', format: 'date-time' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              data: { type: 'array', items: clientSummary },
              meta: { type: 'object', properties: { page: { type: 'integer' }, limit: { type: 'integer' }, count: { type: 'integer' } } },
            },
          },
        },
      },
    },
    async (req) => {
      const { page, limit, protocol, like, connected_since } = req.query;
      const since = connected_since === undefined ? undefined : Date.parse(connected_since);
      const matches: Connection[] = [];
      for (const c of deps.registry.values()) {
        if (protocol !== undefined && c.protocol !== protocol) continue;
        if (like !== undefined && !c.cpId.includes(like)) continue;
        if (since !== undefined && c.connectedAt < since) continue;
        matches.push(c);
      }
      matches.sort((a, b) => (a.cpId < b.cpId ? -1 : a.cpId > b.cpId ? 1 : 0));
      const data = matches.slice((page - 1) * limit, page * limit).map(describeClient);
      return { data, meta: { page, limit, count: matches.length } };
    },
  );

  return app;
}
