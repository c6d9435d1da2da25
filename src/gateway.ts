// The composition root: builds the gateway from a frozen Config and starts it; close() is the
// graceful shutdown of SPEC §2.
import './obs/quiet-debug.js'; // first: before aedes, mqtt-packet and MQTT.js load `debug`
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/schema.js';
import { buildApi } from './api/http.js';
import { allowEveryone, type AuthProvider } from './auth/provider.js';
import { FileAuthProvider } from './auth/file-provider.js';
import type { BrokerPort } from './bridge/broker.js';
import { Bridge } from './bridge/bridge.js';
import { EmbeddedBroker } from './bridge/embedded-broker.js';
import { ExternalBroker } from './bridge/external-broker.js';
import type { BrokerEndpoint } from './bridge/client-link.js';
import { TopicLayout } from './bridge/topics.js';
import { Emqx5Format, TopicFormat } from './bridge/message-format.js';
import { configSecrets, loggerFor, redactText, redactUrl, type Logger } from './obs/log.js';
import { Metrics } from './obs/metrics.js';
import { bundledSchemas, schemaKey, type SchemaMap } from './validation/schema-source.js';
import type { Protocol } from './config/schema.js';
import { systemClock, type Clock } from './session/clock.js';
import { Registry } from './session/registry.js';
import type { Connection } from './transport/connection.js';
import { StartupError } from './transport/listen.js';
import { isLoopbackHost } from './transport/web-guards.js';
import { configuredSchemas, MessageChecks } from './validation/checks.js';
import { RecentDisconnects } from './session/cp-facts.js';
import { OcppServer, type ListenerSpec } from './transport/ocpp-server.js';
import { CpSessions } from './transport/cp-sessions.js';
import { UpgradePipeline, type UpgradeEntry } from './transport/upgrade-pipeline.js';
import { Admission } from './transport/admission.js';
import { RefusalReports } from './transport/refusal-reports.js';
import { readKeyFile } from './transport/tls.js';
import { HttpAuthProvider } from './auth/http-provider.js';
import { CheckGate } from './auth/check-gate.js';
import type { ConfigOrigins } from './config/origins.js';
import { startupProblems } from './config/startup-checks.js';

export interface GatewayOptions {
  readonly config: Readonly<Config>;
  readonly log?: Logger;
  readonly clock?: Clock;
  /** Where each value came from (loadConfig), so that a startup problem names the file, variable or flag. */
  readonly origins?: ConfigOrigins;
}

export interface GatewayAddresses {
  /** The ws:// listener (absent with ocpp.enabled false). */
  readonly ocpp?: { readonly host: string; readonly port: number };
  /** The wss:// listener (present when ocpp.tls.cert_file is set). */
  readonly ocppTls?: { readonly host: string; readonly port: number };
  /** Present with the embedded broker; host = the address its listeners are bound to. */
  readonly mqtt?: { readonly host: string; readonly port: number; readonly wsPort: number | undefined };
  readonly api?: { readonly host: string; readonly port: number };
}

export interface Gateway {
  readonly config: Readonly<Config>;
  readonly addresses: GatewayAddresses;
  readonly registry: Registry<Connection>;
  readonly metrics: Metrics;
  /** Where every MQTT publish goes through (tests reach its guards directly). */
  readonly bridge: Bridge;
  /** The HTTP API (absent with api.enabled false), e.g. for inject() in tests. */
  readonly api: FastifyInstance | undefined;
  ready(): { ready: boolean; checks: Record<string, boolean> };
  /** Resolves when the broker connection is (or becomes) `connected`. */
  brokerState(connected: boolean): Promise<void>;
  /**
   * The OCPP upgrade to mount on an HTTP(S) server of your own (`server.on('upgrade', (req, socket,
   * head) => h.handleUpgrade(req, socket, head))`, and `h.handleRequest` for 'request'): the same
   * pipeline as the gateway's listeners, sharing their registry, limits, auth and bridge. `entry`
   * names it in logs and sets the security profile (default: ws, ocpp.security_profile).
   */
  upgradeHandler(entry?: UpgradeEntry): UpgradePipeline;
  /** SIGHUP: re-read credentials and TLS certificates. */
  reload(): Promise<void>;
  /** Graceful shutdown: close CPs with 1001, publish offline presence, flush, stop. Bounded by shutdown_timeout. */
  close(): Promise<void>;
}

/**
 * Logs `event` at most once per interval (the first, then how many were not logged): for refusals a
 * web page can repeat in a loop.
 */
function sampledWarn(log: Logger, clock: Clock, event: string, intervalMs = 10_000): (fields: Record<string, unknown>) => void {
  let last = -Infinity;
  let notLogged = 0;
  return (fields) => {
    const now = clock.now();
    if (now - last < intervalMs) {
      notLogged++;
      return;
    }
    log.warn({ ...fields, notLogged }, event);
    last = now;
    notLogged = 0;
  };
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { config } = options;
  // [SPEC §8] secrets never in a log line or a startup error.
  const secrets = configSecrets(config);
  const log = options.log ?? loggerFor(config);
  const clock = options.clock ?? systemClock;
  const registry = new Registry<Connection>();
  const recentlyDisconnected = new RecentDisconnects();
  const cleanups: Array<() => Promise<void> | void> = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn();
  };

  try {
    // [SPEC §2] the checks of `check-config`, all problems at once, before anything opens.
    const problems = await startupProblems(config);
    if (problems.length > 0) throw new StartupError(problems.map((p) => options.origins?.annotate(p) ?? p).join('\n'));
    const topics = TopicLayout.create(config.mqtt.mountpoint, config.topics);
    if (typeof topics === 'string') throw new StartupError(topics);
    // Compiled once, before any listener opens: a bad json_schema_dir stops the start.
    let checks: MessageChecks;
    try {
      checks = new MessageChecks(config, { log });
    } catch (err) {
      throw new StartupError((err as Error).message);
    }

    // The actions a CALL can name per protocol (those with a schema): for the API and the metric labels.
    const actionLists = new Map<Protocol, string[]>();
    const actionsOf = (protocol: Protocol): string[] => {
      let list = actionLists.get(protocol);
      if (list === undefined) {
        list = checks.validator(protocol)?.actions('req') ?? [...new Set([...bundledSchemas(protocol).keys()].filter((k) => k.endsWith('.req')).map((k) => k.slice(0, -4)))].sort();
        actionLists.set(protocol, list);
      }
      return list;
    };
    // The request schemas the API derives the CALL form's templates from; read on first use.
    const schemaMaps = new Map<Protocol, SchemaMap>();
    const requestSchema = (protocol: Protocol, action: string): Record<string, unknown> | undefined => {
      let map = schemaMaps.get(protocol);
      if (map === undefined) schemaMaps.set(protocol, (map = configuredSchemas(config, protocol)));
      return map.get(schemaKey(action, 'req'));
    };

    let broker: BrokerPort;
    let endpoint: BrokerEndpoint | undefined;
    let mqttAddress: GatewayAddresses['mqtt'];
    if (config.mqtt.url === '') {
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
          metricsRef?.requestRefused('mqtt_ws', 'origin_not_allowed');
          originRefused({ reason: 'origin_not_allowed', status: 403, origin: origin.slice(0, 200), remoteAddress });
        },
      });
      if (credentials === undefined && !isLoopbackHost(e.host)) {
        log.warn({ host: e.host, port: embedded.addresses.mqttPort, wsPort: embedded.addresses.wsPort ?? null }, 'mqtt.embedded_open: mqtt.embedded.allow_anonymous lets any MQTT client beyond loopback subscribe to every charge point and command it; set mqtt.embedded.username and password');
      }
      broker = embedded;
      mqttAddress = { host: embedded.addresses.host, port: embedded.addresses.mqttPort, wsPort: embedded.addresses.wsPort };
    } else {
      endpoint = {
        url: config.mqtt.url, qos: config.mqtt.qos as 0 | 1 | 2, keepaliveMs: config.mqtt.keepalive,
        protocolVersion: config.mqtt.protocol_version === '5' ? 5 : 4, tls: mqttTls(config.mqtt.tls),
      };
      // [SPEC §7] a broker that is down does not stop the start (unless mqtt.connect_timeout_exit says
      // so): the gateway runs not ready, refusing charge points, and logs each reconnect attempt.
      const attemptFailed = sampledWarn(log, clock, 'mqtt.connect_failed', 500);
      const url = redactUrl(config.mqtt.url);
      broker = await ExternalBroker.start({
        ...endpoint, clientId: config.mqtt.client_id, username: config.mqtt.username, password: config.mqtt.password, connectTimeoutMs: 10_000,
        reconnectPeriodMs: config.mqtt.reconnect_period, reconnectMaxMs: config.mqtt.reconnect_max, reconnectJitter: config.mqtt.reconnect_jitter,
        exitAfterMs: config.mqtt.connect_timeout_exit,
        onAttemptFailed: (f) => attemptFailed({ url, attempt: f.attempt, error: f.error, retryInMs: f.retryInMs }),
      });
      broker.onConnectionChange((up) => log.warn({ connected: up }, up ? 'mqtt.connected' : 'mqtt.disconnected'));
    }
    cleanups.push(() => broker.close());

    let auth: AuthProvider = allowEveryone;
    // [SPEC §8] every expensive credential check goes through one bounded, fair, throttled gate.
    const authConfig = config.auth;
    const authChecks = new CheckGate({
      maxInFlight: authConfig.provider === 'http' ? authConfig.http.max_in_flight : authConfig.max_checks_in_flight, maxQueued: authConfig.max_checks_queued,
      failureLimit: authConfig.failure_limit, failureWindowMs: authConfig.failure_window, backoffMs: authConfig.failure_backoff, maxBackoffMs: authConfig.failure_backoff_max, maxTrackedSources: authConfig.max_tracked_addresses,
      now: () => clock.now(), onThrottled: (source, backoffMs) => log.warn({ source, backoffMs }, 'auth.source_throttled'),
    });
    if (config.auth.provider === 'file') {
      auth = await FileAuthProvider.open(config.auth.file, {
        onReload: (count) => log.info({ count }, 'auth.reloaded'),
        onReloadError: (message) => log.error({ err: message }, 'auth.reload_failed'),
      }, authChecks);
    } else if (config.auth.provider === 'http') {
      const h = config.auth.http;
      auth = new HttpAuthProvider({ url: h.url, timeoutMs: h.timeout, cacheTtlMs: h.cache_ttl, cacheSize: h.cache_size, clock, gate: authChecks });
    } else if (config.auth.provider === 'broker') {
      auth = { ...allowEveryone, name: 'broker' };
    } else if (config.ocpp.enabled && config.ocpp.security_profile === 0 && config.mqtt.client_mode === 'shared' && !isLoopbackHost(config.ocpp.host)) {
      log.warn({ host: config.ocpp.host }, 'auth.none_public: auth.provider is none and the OCPP listener is reachable beyond loopback; any client can connect as any charge point');
    }
    cleanups.push(() => auth.close());

    let bridgeRef: Bridge | undefined;
    let metricsRef: Metrics | undefined;
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
      brokerLinks: () => bridgeRef?.openLinks ?? 0,
    });
    metrics.watchAuthChecks(authChecks);
    // [SPEC §9] action labels are the actions of the enabled protocols; a client's made-up ones are "other".
    metrics.limitActionLabels(new Set((config.ocpp.protocols as Protocol[]).flatMap((p) => actionsOf(p))));
    const format = config.topics.preset === 'emqx5' ? new Emqx5Format(config.mqtt.mountpoint, config.ocpp.max_json_depth) : new TopicFormat(topics);
    const pc = config.mqtt.per_client;
    const perClient = config.mqtt.client_mode === 'per_client' && endpoint !== undefined
      ? { endpoint, persistent: pc.persistent_session, sessionExpirySeconds: Math.round(pc.session_expiry / 1000), timeoutMs: Math.min(pc.connect_timeout, config.ocpp.handshake_timeout) }
      : undefined;
    const bridge = new Bridge(broker, topics, format, registry, log, metrics, config.mqtt.offline_calls, perClient);
    bridgeRef = bridge;
    metricsRef = metrics;
    const admission = new Admission(clock, {
      rate: config.ocpp.max_connect_rate, burst: config.ocpp.connect_burst,
      ratePerAddress: config.ocpp.max_connect_rate_per_address, burstPerAddress: config.ocpp.connect_burst_per_address,
      maxAddresses: config.auth.max_tracked_addresses, connectionsPerAddress: config.ocpp.max_connections_per_address,
    });
    const refusalReports = new RefusalReports({
      maxReports: config.ocpp.max_rejected_events,
      windowMs: config.ocpp.rejected_events_window,
      maxAddresses: config.auth.max_tracked_addresses,
      clock,
      onSummary: (source, held) => log.warn({ source, held: Object.fromEntries(held), windowMs: config.ocpp.rejected_events_window }, 'cp.upgrade_refusals_suppressed'),
    });
    cleanups.push(() => refusalReports.flush());
    const o = config.ocpp;
    const listeners: ListenerSpec[] = [];
    if (o.enabled) listeners.push({ name: 'ws', host: o.host, port: o.port, profile: o.security_profile as 0 | 1 | 3 });
    if (o.tls.cert_file !== '') {
      listeners.push({
        name: 'wss', host: o.tls.host, port: o.tls.port, profile: o.tls.security_profile as 2 | 3,
        tls: { certFile: o.tls.cert_file, keyFile: o.tls.key_file, caFile: o.tls.ca_file, minVersion: o.tls.min_version, cnMustMatch: o.tls.cn_must_match },
      });
    }
    const sessions = new CpSessions({ config, clock, log, metrics, bridge, registry, admission, checks, recentlyDisconnected, brokerReady: () => broker.isConnected() });
    const servers: OcppServer[] = [];
    const bound: Partial<Record<'ws' | 'wss', { host: string; port: number }>> = {};
    for (const listener of listeners) {
      let server: OcppServer;
      try {
        server = new OcppServer({ config, listener, clock, log, metrics, bridge, sessions, auth, admission, refusalReports, brokerReady: () => broker.isConnected() });
      } catch (err) {
        throw new StartupError((err as Error).message);
      }
      servers.push(server);
      cleanups.push(async () => {
        const closing = server.stopAccepting();
        sessions.closeAll('shutdown');
        await closing;
      });
      bound[listener.name] = { host: listener.host, port: (await server.start()).port };
    }
    let listening = true;
    cleanups.push(() => {
      listening = false;
    });
    if (config.mqtt.url !== '' && perClient === undefined) {
      // Several instances on one broker: a charge point that reconnects elsewhere is closed here.
      // (per_client: the broker's own client-id takeover does this.)
      const instanceId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
      const enableTakeover = () => bridge.enableTakeover(instanceId, (cpId, connectedAt, by) => sessions.takeOver(cpId, connectedAt, by));
      if (broker.isConnected()) await enableTakeover();
      else {
        // Started without the broker: subscribe when it connects (no charge point is admitted before).
        let subscribed = false;
        broker.onConnectionChange((up) => {
          if (!up || subscribed) return;
          subscribed = true;
          enableTakeover().catch((err: unknown) => log.error({ err: String(err) }, 'mqtt.subscribe_failed'));
        });
      }
    }

    const ready = () => {
      const checks = { ocpp_listener: listening, broker: broker.isConnected() };
      return { ready: checks.ocpp_listener && checks.broker, checks };
    };
    metrics.watchReadiness(() => ready().ready);

    let api: FastifyInstance | undefined;
    let apiAddress: GatewayAddresses['api'];
    if (config.api.enabled) {
      const hostRefused = sampledWarn(log, clock, 'api.request_refused');
      const app = await buildApi({
        registry, recentlyDisconnected, clock, metrics, ready, actions: actionsOf, requestSchema, protocols: config.ocpp.protocols as Protocol[], apiKey: config.api.key, maxCallTimeoutMs: config.api.max_call_timeout,
        bindHost: config.api.host, allowedHosts: config.api.allowed_hosts,
        onRefused: (reason, fields) => {
          metrics.requestRefused('api', reason);
          hostRefused({ reason, ...fields, host: fields.host.slice(0, 200), origin: fields.origin.slice(0, 200) });
        },
      });
      api = app;
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
      apiAddress = { host: config.api.host, port: typeof a === 'object' && a !== null ? a.port : config.api.port };
    }

    const addresses: GatewayAddresses = {
      ...(bound.ws ? { ocpp: bound.ws } : {}),
      ...(bound.wss ? { ocppTls: bound.wss } : {}),
      ...(mqttAddress ? { mqtt: mqttAddress } : {}),
      ...(apiAddress ? { api: apiAddress } : {}),
    };
    log.info({ ocpp: addresses.ocpp ?? null, ocppTls: addresses.ocppTls ?? null, mqtt: addresses.mqtt ?? { url: redactUrl(config.mqtt.url), clientMode: config.mqtt.client_mode, connected: broker.isConnected() }, api: addresses.api ?? null, auth: auth.name }, 'gateway.started');

    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closing ??= (async () => {
        log.info({ connected: registry.size }, 'gateway.stopping');
        listening = false;
        const closingListeners = Promise.all(servers.map((srv) => srv.stopAccepting()));
        sessions.closeAll('shutdown');
        await withTimeout(bridge.drained(), config.shutdown_timeout / 2);
        await withTimeout(closingListeners.then(() => undefined), config.shutdown_timeout / 2);
        cleanups.length = 0;
        if (api) await api.close();
        auth.close();
        await broker.close();
        log.info({}, 'gateway.stopped');
        log.flush?.();
      })();
      return closing;
    };

        const reload = async () => {
      await auth.reload();
      for (const srv of servers) srv.reloadTls();
    };
    const brokerState = (connected: boolean) => new Promise<void>((resolve) => {
      if (broker.isConnected() === connected) return resolve();
      broker.onConnectionChange((now) => { if (now === connected) resolve(); });
    });
    const upgradeHandler = (entry: UpgradeEntry = { name: 'ws', profile: o.security_profile as 0 | 1 | 3 }) =>
      new UpgradePipeline({ config, entry, clock, log, metrics, bridge, sessions, auth, admission, refusalReports, brokerReady: () => broker.isConnected() });
    return { config, addresses, registry, metrics, bridge, api, ready, brokerState, upgradeHandler, reload, close };
  } catch (err) {
    await cleanup();
    // A startup error may quote mqtt.url (an external broker that refused or never answered).
    if (err instanceof Error) {
      err.message = redactText(err.message, secrets);
      if (err.stack !== undefined) err.stack = redactText(err.stack, secrets);
    }
    throw err;
  }
}

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

function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    t.unref();
    void p.finally(() => {
      clearTimeout(t);
      resolve();
    });
  });
}
