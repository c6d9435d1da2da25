// The composition root: builds the gateway from a frozen Config out of the builders of src/compose/
// (the broker kind's row, the auth provider's row, the catalog, metrics, the bridge, the OCPP side,
// the API) and starts it; close() is the graceful shutdown of SPEC §2.
import './obs/quiet-debug.js'; // first: before aedes, mqtt-packet and MQTT.js load `debug`
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/schema.js';
import { Bridge } from './bridge/bridge.js';
import { TopicLayout } from './bridge/topics.js';
import { Emqx5Format, TopicFormat } from './bridge/message-format.js';
import { StartupError } from './errors.js';
import { configSecrets, loggerFor, redactText, redactUrl, type Logger } from './obs/log.js';
import type { Metrics } from './obs/metrics.js';
import { systemClock, type Clock } from './session/clock.js';
import { Registry } from './session/registry.js';
import { RecentDisconnects } from './session/cp-facts.js';
import type { Connection } from './transport/connection.js';
import type { UpgradeEntry, UpgradePipeline } from './transport/upgrade-pipeline.js';
import type { ConfigOrigins } from './config/origins.js';
import { startupProblems } from './config/startup-checks.js';
import type { ComposeContext } from './compose/context.js';
import { buildCatalog } from './compose/catalog.js';
import { brokerKindFor } from './compose/brokers/index.js';
import { buildAuth } from './compose/auth/index.js';
import { buildMetrics } from './compose/metrics.js';
import { startOcpp } from './compose/ocpp.js';
import { enableClusterTakeover } from './compose/takeover.js';
import { startApi } from './compose/api.js';

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
  /** The charge points that disconnected recently (GET /api/v1/disconnected; ocpp.workers > 1 asks each worker). */
  readonly recentlyDisconnected: RecentDisconnects;
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

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { config } = options;
  // [SPEC §8] secrets never in a log line or a startup error.
  const secrets = configSecrets(config);
  const ctx: ComposeContext = { config, log: options.log ?? loggerFor(config), clock: options.clock ?? systemClock, cleanups: [], late: {} };
  const { log, cleanups } = ctx;
  const registry = new Registry<Connection>();
  const recentlyDisconnected = new RecentDisconnects();

  try {
    // [SPEC §2] the checks of `check-config`, all problems at once, before anything opens.
    const problems = await startupProblems(config);
    if (problems.length > 0) throw new StartupError(problems.map((p) => options.origins?.annotate(p) ?? p).join('\n'));
    const topics = TopicLayout.create(config.mqtt.mountpoint, config.topics);
    if (typeof topics === 'string') throw new StartupError(topics);
    // Compiled once, before any listener opens: a bad json_schema_dir stops the start.
    const catalog = buildCatalog(ctx);

    const { broker, mqttAddress, perClient, takeover } = await brokerKindFor(config).start(ctx);
    cleanups.push(() => broker.close());
    const { auth, gate } = await buildAuth(ctx);

    let bridgeRef: Bridge | undefined;
    const metrics = buildMetrics(config, registry, broker, () => bridgeRef?.openLinks ?? 0, gate, catalog);
    const format = config.topics.preset === 'emqx5' ? new Emqx5Format(config.mqtt.mountpoint, config.ocpp.max_json_depth) : new TopicFormat(topics);
    const bridge = new Bridge(broker, topics, format, registry, log, metrics, config.mqtt.offline_calls, perClient);
    bridgeRef = bridge;
    ctx.late.metrics = metrics;

    const ocpp = await startOcpp(ctx, { metrics, bridge, broker, registry, recentlyDisconnected, auth, checks: catalog.checks });
    let listening = true;
    cleanups.push(() => {
      listening = false;
    });
    if (takeover) await enableClusterTakeover(ctx, broker, bridge, ocpp.sessions);

    const ready = () => {
      const checks = { ocpp_listener: listening, broker: broker.isConnected() };
      return { ready: checks.ocpp_listener && checks.broker, checks };
    };
    metrics.watchReadiness(() => ready().ready);

    const api = config.api.enabled ? await startApi(ctx, { registry, recentlyDisconnected, metrics, catalog, ready }) : undefined;

    const addresses: GatewayAddresses = {
      ...(ocpp.bound.ws ? { ocpp: ocpp.bound.ws } : {}),
      ...(ocpp.bound.wss ? { ocppTls: ocpp.bound.wss } : {}),
      ...(mqttAddress ? { mqtt: mqttAddress } : {}),
      ...(api ? { api: api.address } : {}),
    };
    log.info({ ocpp: addresses.ocpp ?? null, ocppTls: addresses.ocppTls ?? null, mqtt: addresses.mqtt ?? { url: redactUrl(config.mqtt.url), clientMode: config.mqtt.client_mode, connected: broker.isConnected() }, api: addresses.api ?? null, auth: auth.name }, 'gateway.started');

    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closing ??= (async () => {
        log.info({ connected: registry.size }, 'gateway.stopping');
        listening = false;
        ocpp.sessions.stopAccepting();
        const closingListeners = Promise.all(ocpp.servers.map((srv) => srv.stopAccepting()));
        ocpp.sessions.closeAll('shutdown');
        await withTimeout(bridge.drained(), config.shutdown_timeout / 2);
        await withTimeout(closingListeners.then(() => undefined), config.shutdown_timeout / 2);
        cleanups.length = 0;
        if (api) await api.app.close();
        auth.close();
        await broker.close();
        log.info({}, 'gateway.stopped');
        log.flush?.();
      })();
      return closing;
    };

    const reload = async () => {
      await auth.reload();
      for (const srv of ocpp.servers) srv.reloadTls();
    };
    const brokerState = (connected: boolean) => new Promise<void>((resolve) => {
      if (broker.isConnected() === connected) return resolve();
      broker.onConnectionChange((now) => { if (now === connected) resolve(); });
    });
    return { config, addresses, registry, recentlyDisconnected, metrics, bridge, api: api?.app, ready, brokerState, upgradeHandler: ocpp.upgradeHandler, reload, close };
  } catch (err) {
    for (const fn of cleanups.reverse()) await fn();
    // A startup error may quote mqtt.url (an external broker that refused or never answered).
    if (err instanceof Error) {
      err.message = redactText(err.message, secrets);
      if (err.stack !== undefined) err.stack = redactText(err.stack, secrets);
    }
    throw err;
  }
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
