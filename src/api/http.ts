// The HTTP API: clients (list, detail, kick, CALL, live trace), stats, Prometheus metrics, health,
// OpenAPI and the dashboard. Fastify with a schema on every route. [SPEC §9]
import { randomUUID, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Protocol } from '../config/schema.js';
import { MAX_MESSAGE_ID_LENGTH } from '../ocpp/protocols.js';
import type { Metrics } from '../obs/metrics.js';
import type { Registry } from '../session/registry.js';
import type { Connection, TraceEvent } from '../transport/connection.js';
import { DASHBOARD_CSP, DASHBOARD_HTML } from './dashboard.js';
import { callTemplate } from './call-templates.js';
import { PROTOCOLS } from '../ocpp/protocols.js';
import { NO_FACTS, type RecentDisconnects } from '../session/cp-facts.js';
import { API_REFUSALS, type ApiRefusal } from '../errors.js';
import { HostPolicy } from '../transport/web-guards.js';
import type { ClientDirectory, ClientQuery, ClientView, TraceSource } from './client-directory.js';

/** Where Swagger UI is served. */
export const DOCS = '/docs';

/** Bytes a live trace may have waiting for a listener that does not read before its stream is cut. */
export const MAX_TRACE_BUFFER = 1024 * 1024;

export interface ApiDeps {
  readonly registry: Registry<Connection>;
  readonly metrics: Metrics;
  /** Readiness: listeners up and broker connected. */
  readonly ready: () => { ready: boolean; checks: Record<string, boolean> };
  /** Actions with a schema, for the dashboard's CALL form. */
  readonly actions: (protocol: Protocol) => string[];
  /** An action's request schema (the CALL form's template is derived from it). */
  readonly requestSchema?: (protocol: Protocol, action: string) => Record<string, unknown> | undefined;
  /** The charge points that disconnected recently (GET /api/v1/disconnected). */
  readonly recentlyDisconnected?: RecentDisconnects;
  readonly clock?: { now(): number };
  readonly protocols: readonly Protocol[];
  /** Empty: no key required (loopback only; enforced at start-up). */
  readonly apiKey: string;
  /** Longest wait of POST .../calls. */
  readonly maxCallTimeoutMs: number;
  /** api.host: a name there is one the API answers to. */
  readonly bindHost?: string;
  /** api.allowed_hosts: further Host names ("*" = no check). */
  readonly allowedHosts?: readonly string[];
  /**
   * ocpp.workers > 1: the charge points live in worker processes; the API (in the primary) asks them
   * for list, detail, kick and CALL (src/cluster/). Absent: `registry` is where they are.
   */
  readonly clients?: ClientDirectory;
  /** ocpp.workers > 1: /metrics and /api/v1/stats over every worker. */
  readonly aggregated?: { metrics(): Promise<string>; stats(): Promise<Record<string, unknown>> };
  /** A request refused before authentication (already answered): for the log and metrics. */
  readonly onRefused?: (reason: ApiRefusal, fields: { host: string; origin: string; method: string; url: string; remoteAddress: string }) => void;
}

const errorBody = { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' } }, required: ['error', 'message'] } as const;
const counters = { type: 'object', properties: { framesIn: { type: 'integer' }, framesOut: { type: 'integer' }, bytesIn: { type: 'integer' }, bytesOut: { type: 'integer' } } } as const;
const nullableText = { type: ['string', 'null'] } as const;
const facts = {
  type: 'object',
  description: 'What the charge point told about itself: its last BootNotification and the last StatusNotification of each connector (strings cut to 64 characters, at most 32 connectors)',
  properties: {
    vendor: nullableText,
    model: nullableText,
    firmwareVersion: nullableText,
    serialNumber: nullableText,
    bootReason: { ...nullableText, description: '2.x only' },
    bootedAt: { type: ['string', 'null'], format: 'date-time' },
    connectors: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          evseId: { type: ['integer', 'null'], description: '2.x only' },
          connectorId: { type: 'integer' },
          status: { type: 'string', description: '1.6 status or 2.x connectorStatus' },
          errorCode: { ...nullableText, description: '1.6 only' },
          info: { ...nullableText, description: '1.6 only' },
          updatedAt: { type: 'string', format: 'date-time' },
        },
      },
    },
  },
} as const;
/** What every view of a charge point's connection starts with (connected or recently disconnected). */
const connectionFields = {
  cpId: { type: 'string' },
  protocol: { type: 'string' },
  remoteAddress: { type: 'string' },
  username: { type: ['string', 'null'] },
  connectedAt: { type: 'string', format: 'date-time' },
} as const;
const client = {
  type: 'object',
  properties: {
    ...connectionFields,
    lastSeenAt: { type: 'string', format: 'date-time' },
    heartbeatInterval: { type: ['number', 'null'], description: 'interval of the last accepted BootNotification, seconds' },
    inflight: { type: 'object', properties: { up: { type: 'integer' }, down: { type: 'integer' } } },
    queueLength: { type: 'integer' },
    counters,
    facts,
    worker: { type: 'integer', description: 'ocpp.workers > 1: pid of the worker process serving it' },
  },
} as const;
const disconnectedClient = {
  type: 'object',
  properties: {
    ...connectionFields,
    disconnectedAt: { type: 'string', format: 'date-time' },
    reason: { type: 'string', description: 'close reason (errors.md)' },
    code: { type: 'integer', description: 'WebSocket close code' },
    facts,
  },
} as const;
const cpIdParams = { type: 'object', properties: { cpId: { type: 'string', maxLength: 1024 } }, required: ['cpId'] } as const;
const callOutcome = {
  type: 'object',
  properties: {
    messageId: { type: 'string' },
    result: { type: 'object', additionalProperties: true },
    errorCode: { type: 'string' },
    errorDescription: { type: 'string' },
    errorDetails: { type: 'object', additionalProperties: true },
    error: { type: 'string' },
    message: { type: 'string' },
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
    facts: c.facts?.view() ?? NO_FACTS,
  };
}

/** The page of connected charge points matching `q`, sorted by cpId, and how many match in all. */
export function listClients(registry: Registry<Connection>, q: ClientQuery, describe: (c: Connection) => ClientView = describeClient): { data: ClientView[]; count: number } {
  const matches: Connection[] = [];
  for (const c of registry.values()) {
    if (q.protocol !== undefined && c.protocol !== q.protocol) continue;
    if (q.like !== undefined && !c.cpId.includes(q.like)) continue;
    if (q.since !== undefined && c.connectedAt < q.since) continue;
    matches.push(c);
  }
  matches.sort((a, b) => (a.cpId < b.cpId ? -1 : a.cpId > b.cpId ? 1 : 0));
  return { data: matches.slice((q.page - 1) * q.limit, q.page * q.limit).map(describe), count: matches.length };
}

interface ListQuery { page: number; limit: number; protocol?: string; like?: string; connected_since?: string }
interface CallBody { action: string; payload: Record<string, unknown>; timeout_ms?: number }

/** HTTP status for a gateway error about an API CALL. */
const STATUS_OF_GATEWAY_REASON: Record<string, number> = {
  invalid_payload: 400,
  invalid_message_id: 400,
  queue_full: 503,
  not_connected: 404,
  timeout: 504,
};

function keyMatches(given: string | undefined, key: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(key);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  // Unknown fields are an error (400), not silently dropped.
  const app = Fastify({ logger: false, ajv: { customOptions: { removeAdditional: false } } });
  const notFound = (reply: FastifyReply, cpId: string) => reply.code(404).send({ error: 'not_connected', message: `charge point ${cpId} is not connected` });

  // [SPEC §8] DNS rebinding: a foreign page whose name now resolves to this address calls the API
  // under that name; and any page may send forms to 127.0.0.1 blind. The first hook, so every route
  // (dashboard, /metrics, health, unknown paths) is refused before the API key is looked at or a body
  // is read.
  const hosts = new HostPolicy(deps.bindHost ?? '127.0.0.1', deps.allowedHosts ?? []);
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const host = req.headers.host;
    const origin = req.headers.origin;
    let refusal: ApiRefusal;
    let message: string;
    if (!hosts.allows(host)) {
      refusal = 'host_not_allowed';
      message = `this API does not answer to Host ${JSON.stringify(host)}; add it to api.allowed_hosts if it is yours`;
    } else if (!hosts.allowsOrigin(origin, host)) {
      // Cross-site requests a page can send blind (forms, no-cors fetch), before they act.
      refusal = 'cross_origin';
      message = `requests from pages of ${JSON.stringify(origin)} are refused; add its host to api.allowed_hosts if it is yours`;
    } else return;
    await reply.code(API_REFUSALS[refusal].status).header('connection', 'close').send({ error: refusal, message });
    deps.onRefused?.(refusal, { host: host ?? '', origin: origin ?? '', method: req.method, url: req.url.slice(0, 256), remoteAddress: req.ip });
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'ocpp-gateway API', version: '1', description: 'Manage the charge points connected to an ocpp-gateway.' },
      components: deps.apiKey === '' ? {} : { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
      ...(deps.apiKey === '' ? {} : { security: [{ apiKey: [] }] }),
    },
  });

  app.setErrorHandler((err: Error & { validation?: unknown; statusCode?: number }, _req, reply) => {
    if (err.validation !== undefined) return reply.code(400).send({ error: 'bad_request', message: err.message });
    return reply.code(err.statusCode ?? 500).send({ error: err.statusCode === undefined ? 'internal_error' : 'bad_request', message: err.message });
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'not_found', message: 'no such route' }));

  // [SPEC §8] beyond loopback the API needs a key: Authorization: Bearer <key> or X-API-Key (or
  // ?api_key= for EventSource, which cannot set headers).
  // Swagger UI (/docs) describes the same routes as the open OpenAPI document; its "Try it out" sends the key.
  const open = new Set(['/', '/healthz', '/readyz', '/api/v1/openapi.json']);
  const isOpen = (path: string) => open.has(path) || path === DOCS || path.startsWith(`${DOCS}/`);
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (deps.apiKey === '' || isOpen(req.url.split('?')[0] ?? '')) return;
    const auth = req.headers.authorization;
    const bearer = auth?.toLowerCase().startsWith('bearer ') ? auth.slice(7).trim() : undefined;
    const header = req.headers['x-api-key'];
    const query = (req.query as Record<string, string | undefined> | undefined)?.['api_key'];
    const given = bearer ?? (typeof header === 'string' ? header : undefined) ?? query;
    if (!keyMatches(given, deps.apiKey)) {
      await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'an API key is required (Authorization: Bearer <api.key>)' });
    }
  });

  // The dashboard runs only its own inline script and style (by hash) and talks only to this origin.
  app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache')
    .header('content-security-policy', DASHBOARD_CSP).header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer').send(DASHBOARD_HTML));

  // Swagger UI, served from the package's own files (no CDN).
  await app.register(swaggerUi, {
    routePrefix: DOCS,
    uiConfig: { deepLinking: false, tryItOutEnabled: false, persistAuthorization: false },
    staticCSP: "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
  });

  app.get('/healthz', { schema: { summary: 'Liveness', response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'ok' }));

  const readySchema = { type: 'object', properties: { status: { type: 'string' }, checks: { type: 'object', additionalProperties: { type: 'boolean' } } } } as const;
  app.get('/readyz', { schema: { summary: 'Readiness: listeners up and broker connected', response: { 200: readySchema, 503: readySchema } } }, async (_req, reply) => {
    const r = deps.ready();
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not_ready', checks: r.checks });
  });

  app.get<{ Querystring: ListQuery }>('/api/v1/clients', {
    schema: {
      summary: 'Connected charge points, sorted by cpId',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          page: { type: 'integer', minimum: 1, default: 1 },
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          protocol: { type: 'string', maxLength: 32 },
          like: { type: 'string', maxLength: 256, description: 'cpId substring' },
          connected_since: { type: 'string', format: 'date-time' },
          api_key: { type: 'string' },
        },
      },
      response: {
        200: { type: 'object', properties: { data: { type: 'array', items: client }, meta: { type: 'object', properties: { page: { type: 'integer' }, limit: { type: 'integer' }, count: { type: 'integer' } } } } },
        400: errorBody,
        401: errorBody,
      },
    },
  }, async (req) => {
    const { page, limit, protocol, like, connected_since } = req.query;
    const since = connected_since === undefined ? undefined : Date.parse(connected_since);
    const q = { page, limit, protocol, like, since };
    const { data, count } = deps.clients ? await deps.clients.list(q) : listClients(deps.registry, q);
    return { data, meta: { page, limit, count } };
  });

  app.get<{ Params: { cpId: string } }>('/api/v1/clients/:cpId', {
    schema: { summary: 'One connected charge point', params: cpIdParams, response: { 200: client, 401: errorBody, 404: errorBody } },
  }, async (req, reply) => {
    if (deps.clients) return (await deps.clients.get(req.params.cpId)) ?? notFound(reply, req.params.cpId);
    const c = deps.registry.get(req.params.cpId);
    return c === undefined ? notFound(reply, req.params.cpId) : describeClient(c);
  });

  app.delete<{ Params: { cpId: string } }>('/api/v1/clients/:cpId', {
    schema: { summary: 'Kick a charge point (close 1000, reason kicked)', params: cpIdParams, response: { 204: { type: 'null' }, 401: errorBody, 404: errorBody } },
  }, async (req, reply) => {
    if (deps.clients) return (await deps.clients.kick(req.params.cpId)) ? reply.code(204).send() : notFound(reply, req.params.cpId);
    const c = deps.registry.get(req.params.cpId);
    if (c === undefined) return notFound(reply, req.params.cpId);
    c.close('kicked');
    return reply.code(204).send();
  });

  app.post<{ Params: { cpId: string }; Body: CallBody }>('/api/v1/clients/:cpId/calls', {
    schema: {
      summary: 'Send a CALL through the charge point\'s queue (shared with MQTT) and wait for the answer',
      params: cpIdParams,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['action', 'payload'],
        properties: {
          action: { type: 'string', minLength: 1, maxLength: 64 },
          payload: { type: 'object', additionalProperties: true },
          timeout_ms: { type: 'integer', minimum: 1, maximum: deps.maxCallTimeoutMs, default: 30_000 },
        },
      },
      response: { 200: callOutcome, 400: callOutcome, 401: errorBody, 404: callOutcome, 502: callOutcome, 503: callOutcome, 504: callOutcome },
    },
  }, async (req, reply) => {
    const c = deps.clients ? undefined : deps.registry.get(req.params.cpId);
    if (!deps.clients && c === undefined) return notFound(reply, req.params.cpId);
    const messageId = `api-${randomUUID()}`.slice(0, MAX_MESSAGE_ID_LENGTH);
    const payloadText = JSON.stringify(req.body.payload);
    const outcome = c ? c.callFromApi(req.body.action, messageId, payloadText) : (deps.clients?.call(req.params.cpId, req.body.action, messageId, payloadText) ?? Promise.resolve(undefined));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), req.body.timeout_ms ?? 30_000)));
    const r = await Promise.race([outcome, timedOut]);
    clearTimeout(timer);
    if (r === undefined) return notFound(reply, req.params.cpId);
    if (r === 'timeout') {
      // The CALL stays queued or in flight; its answer still goes to MQTT.
      return reply.code(504).send({ messageId, error: 'timeout', message: `no answer within ${req.body.timeout_ms ?? 30_000} ms; the CALL stays in flight until the charge point answers or its attempt times out` });
    }
    const body = JSON.parse(r.payloadText) as Record<string, unknown>;
    if (r.type === 'response') return { messageId, result: body };
    const status = r.gatewayReason === undefined ? 502 : (STATUS_OF_GATEWAY_REASON[r.gatewayReason] ?? 502);
    return reply.code(status).send({ messageId, ...body });
  });

  app.get<{ Params: { cpId: string } }>('/api/v1/clients/:cpId/trace', {
    schema: { summary: 'Live frames in and out of one charge point (Server-Sent Events: event "frame", and "end" when it disconnects)', params: cpIdParams, querystring: { type: 'object', properties: { api_key: { type: 'string' } } }, response: { 401: errorBody, 404: errorBody, 429: errorBody } },
  }, async (req, reply) => {
    let c: TraceSource | undefined;
    if (deps.clients) {
      const opened = await deps.clients.trace(req.params.cpId);
      if (opened === 'too_many') return reply.code(429).send({ error: 'too_many_listeners', message: 'this charge point already has the maximum number of live traces' });
      c = opened;
    } else c = deps.registry.get(req.params.cpId);
    if (c === undefined) return notFound(reply, req.params.cpId);
    const source = c;
    let closed = false;
    const write = (event: string, data: unknown) => {
      if (closed) return;
      // A listener that does not read would buffer every frame of the charge point without bound: past
      // MAX_TRACE_BUFFER waiting to be written, its stream is cut (it may reconnect). [SPEC §8]
      if (reply.raw.writableLength > MAX_TRACE_BUFFER) {
        deps.metrics.traceCut();
        finish();
        reply.raw.destroy();
        return;
      }
      reply.raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const unsubscribe = c.addTraceListener((e: TraceEvent) => write('frame', e));
    if (unsubscribe === undefined) return reply.code(429).send({ error: 'too_many_listeners', message: 'this charge point already has the maximum number of live traces' });
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    write('hello', { cpId: c.cpId, protocol: c.protocol });
    const keepAlive = setInterval(() => { if (!closed) reply.raw.write(': keep-alive\n\n'); }, 15_000);
    const end = () => {
      if (closed) return;
      write('end', { cpId: source.cpId });
      finish();
      reply.raw.end();
    };
    const finish = () => {
      closed = true;
      clearInterval(keepAlive);
      unsubscribe();
      source.offClosed(end);
    };
    source.onClosed(end);
    req.raw.on('close', finish);
  });

  app.get('/api/v1/stats', { schema: { summary: 'Gateway counters (the same numbers as /metrics)', response: { 200: { type: 'object', additionalProperties: true }, 401: errorBody } } }, async () => (deps.aggregated ? deps.aggregated.stats() : deps.metrics.snapshot()));

  app.get<{ Querystring: { protocol?: Protocol } }>('/api/v1/actions', {
    schema: {
      summary: 'Actions a CALL can name, per protocol (those with a schema); the CSMS-initiated ones with a template',
      querystring: { type: 'object', properties: { protocol: { type: 'string', enum: [...deps.protocols] }, api_key: { type: 'string' } } },
      response: {
        200: {
          type: 'object',
          properties: {
            protocol: { type: 'string' },
            actions: { type: 'array', items: { type: 'string' }, description: 'every action with a request schema, both directions' },
            csmsActions: { type: 'array', items: { type: 'string' }, description: "the actions of this version's CSMS → charge point messages (with a schema)" },
            templates: {
              type: 'object',
              additionalProperties: { type: 'object', additionalProperties: true },
              description: 'per CSMS action: its required fields filled with placeholders from the request schema (date-times are now)',
            },
          },
        },
        400: errorBody,
        401: errorBody,
      },
    },
  }, async (req) => {
    const protocol = req.query.protocol ?? (deps.protocols[0] as Protocol);
    const actions = deps.actions(protocol);
    const csmsActions = actions.filter((a) => PROTOCOLS[protocol].csmsActions.has(a));
    const now = new Date(deps.clock?.now() ?? Date.now());
    const templates: Record<string, Record<string, unknown>> = {};
    for (const action of csmsActions) {
      const schema = deps.requestSchema?.(protocol, action);
      templates[action] = schema === undefined ? {} : callTemplate(schema, now);
    }
    return { protocol, actions, csmsActions, templates };
  });

  interface DisconnectedQuery { page: number; limit: number; like?: string }
  const recentLimits = deps.recentlyDisconnected?.limits;
  app.get<{ Querystring: DisconnectedQuery }>('/api/v1/disconnected', {
    schema: {
      summary: `Charge points that disconnected recently and are not connected now, newest first (the last ${recentLimits?.maxEntries ?? 0}, at most ${Math.round((recentLimits?.maxAgeMs ?? 0) / 3_600_000)} h ago)`,
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          page: { type: 'integer', minimum: 1, default: 1 },
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          like: { type: 'string', maxLength: 256, description: 'cpId substring' },
          api_key: { type: 'string' },
        },
      },
      response: {
        200: {
          type: 'object',
          properties: {
            data: { type: 'array', items: disconnectedClient },
            meta: { type: 'object', properties: { page: { type: 'integer' }, limit: { type: 'integer' }, count: { type: 'integer' }, maxEntries: { type: 'integer' }, maxAgeSeconds: { type: 'integer' } } },
          },
        },
        400: errorBody,
        401: errorBody,
      },
    },
  }, async (req) => {
    const { page, limit, like } = req.query;
    // A charge point that came back is in /api/v1/clients instead.
    const all = deps.clients ? await deps.clients.disconnected() : (deps.recentlyDisconnected?.list(deps.clock?.now() ?? Date.now()) ?? []).filter((d) => deps.registry.get(d.cpId) === undefined);
    const matches = all.filter((d) => like === undefined || d.cpId.includes(like));
    return {
      data: matches.slice((page - 1) * limit, page * limit),
      meta: { page, limit, count: matches.length, maxEntries: recentLimits?.maxEntries ?? 0, maxAgeSeconds: Math.round((recentLimits?.maxAgeMs ?? 0) / 1000) },
    };
  });

  app.get<{ Params: { cpId: string } }>('/api/v1/disconnected/:cpId', {
    schema: { summary: "One charge point's last disconnect (also when it has reconnected since)", params: cpIdParams, response: { 200: disconnectedClient, 401: errorBody, 404: errorBody } },
  }, async (req, reply) => {
    const d = deps.clients ? await deps.clients.lastDisconnect(req.params.cpId) : deps.recentlyDisconnected?.get(req.params.cpId, deps.clock?.now() ?? Date.now());
    return d ?? reply.code(404).send({ error: 'not_found', message: `no recent disconnect of charge point ${req.params.cpId}` });
  });

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', hide: false } }, async (_req, reply) => reply.type(deps.metrics.registry.contentType).send(await (deps.aggregated ?? deps.metrics.registry).metrics()));

  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  return app;
}
