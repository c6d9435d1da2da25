// The composition root: builds the gateway from a frozen Config and starts it; close() is the
// graceful shutdown of SPEC §2.
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/schema.js';
import { buildApi } from './api/http.js';
import { allowEveryone, type AuthProvider } from './auth/provider.js';
import { FileAuthProvider } from './auth/file-provider.js';
import type { BrokerPort } from './bridge/broker.js';
import { Bridge } from './bridge/bridge.js';
import { EmbeddedBroker } from './bridge/embedded-broker.js';
import { ExternalBroker } from './bridge/external-broker.js';
import { TopicLayout } from './bridge/topics.js';
import { createLogger, type Logger } from './obs/log.js';
import { Metrics } from './obs/metrics.js';
import { bundledSchemas } from './validation/schema-source.js';
import type { Protocol } from './config/schema.js';
import { systemClock, type Clock } from './session/clock.js';
import { Registry } from './session/registry.js';
import type { Connection } from './transport/connection.js';
import { StartupError } from './transport/listen.js';
import { MessageChecks } from './validation/checks.js';
import { OcppServer } from './transport/ocpp-server.js';

export interface GatewayOptions {
  readonly config: Readonly<Config>;
  readonly log?: Logger;
  readonly clock?: Clock;
}

export interface GatewayAddresses {
  readonly ocpp: { readonly host: string; readonly port: number };
  /** Present with the embedded broker. */
  readonly mqtt?: { readonly port: number; readonly wsPort: number | undefined };
  readonly api?: { readonly host: string; readonly port: number };
}

export interface Gateway {
  readonly config: Readonly<Config>;
  readonly addresses: GatewayAddresses;
  readonly registry: Registry<Connection>;
  readonly metrics: Metrics;
  /** The HTTP API (absent with api.enabled false), e.g. for inject() in tests. */
  readonly api: FastifyInstance | undefined;
  ready(): { ready: boolean; checks: Record<string, boolean> };
  reloadAuth(): Promise<void>;
  /** Graceful shutdown: close CPs with 1001, publish offline presence, flush, stop. Bounded by shutdown_timeout. */
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { config } = options;
  const log = options.log ?? createLogger(config.log.level);
  const clock = options.clock ?? systemClock;
  const registry = new Registry<Connection>();
  const cleanups: Array<() => Promise<void> | void> = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn();
  };

  try {
    const topics = TopicLayout.create(config.mqtt.mountpoint, config.topics);
    if (typeof topics === 'string') throw new StartupError(topics);
    // Compiled once, before any listener opens: a bad json_schema_dir stops the start.
    let checks: MessageChecks;
    try {
      checks = new MessageChecks(config);
    } catch (err) {
      throw new StartupError((err as Error).message);
    }

    let broker: BrokerPort;
    let mqttAddress: GatewayAddresses['mqtt'];
    if (config.mqtt.url === '') {
      const e = config.mqtt.embedded;
      const embedded = await EmbeddedBroker.start({ host: e.host, port: e.port, wsEnabled: e.ws_enabled, wsPort: e.ws_port, wsPath: e.ws_path, qos: config.mqtt.qos as 0 | 1 | 2 });
      broker = embedded;
      mqttAddress = { port: embedded.addresses.mqttPort, wsPort: embedded.addresses.wsPort };
    } else {
      broker = await ExternalBroker.start({
        url: config.mqtt.url, clientId: config.mqtt.client_id, username: config.mqtt.username, password: config.mqtt.password,
        qos: config.mqtt.qos as 0 | 1 | 2, keepaliveMs: config.mqtt.keepalive, reconnectPeriodMs: config.mqtt.reconnect_period, connectTimeoutMs: 10_000,
      });
      broker.onConnectionChange((up) => log.warn({ connected: up }, up ? 'mqtt.connected' : 'mqtt.disconnected'));
    }
    cleanups.push(() => broker.close());

    let auth: AuthProvider = allowEveryone;
    if (config.auth.provider === 'file') {
      auth = await FileAuthProvider.open(config.auth.file, {
        onReload: (count) => log.info({ count }, 'auth.reloaded'),
        onReloadError: (message) => log.error({ err: message }, 'auth.reload_failed'),
      });
    } else if (!LOOPBACK.has(config.ocpp.host)) {
      log.warn({ host: config.ocpp.host }, 'auth.none_public: auth.provider is none and the OCPP listener is reachable beyond loopback; any client can connect as any charge point');
    }
    cleanups.push(() => auth.close());

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
    });
    const bridge = new Bridge(broker, topics, registry, log, metrics);
    const ocpp = new OcppServer({ config, clock, log, metrics, bridge, registry, auth, checks, brokerReady: () => broker.isConnected() });
    const ocppAddress = await ocpp.start();
    let listening = true;
    cleanups.push(async () => {
      listening = false;
      const closing = ocpp.stopAccepting();
      ocpp.closeAll('shutdown');
      await closing;
    });

    const ready = () => {
      const checks = { ocpp_listener: listening, broker: broker.isConnected() };
      return { ready: checks.ocpp_listener && checks.broker, checks };
    };

    let api: FastifyInstance | undefined;
    let apiAddress: GatewayAddresses['api'];
    if (config.api.enabled) {
      const actionLists = new Map<Protocol, string[]>();
      const actions = (protocol: Protocol): string[] => {
        let list = actionLists.get(protocol);
        if (list === undefined) {
          list = checks.validator(protocol)?.actions('req') ?? [...new Set([...bundledSchemas(protocol).keys()].filter((k) => k.endsWith('.req')).map((k) => k.slice(0, -4)))].sort();
          actionLists.set(protocol, list);
        }
        return list;
      };
      const app = await buildApi({ registry, metrics, ready, actions, protocols: config.ocpp.protocols as Protocol[], apiKey: config.api.key, maxCallTimeoutMs: config.api.max_call_timeout });
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
      ocpp: { host: config.ocpp.host, port: ocppAddress.port },
      ...(mqttAddress ? { mqtt: mqttAddress } : {}),
      ...(apiAddress ? { api: apiAddress } : {}),
    };
    log.info({ ocpp: addresses.ocpp, mqtt: addresses.mqtt ?? { url: config.mqtt.url }, api: addresses.api ?? null, auth: auth.name }, 'gateway.started');

    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closing ??= (async () => {
        log.info({ connected: registry.size }, 'gateway.stopping');
        listening = false;
        const closingListener = ocpp.stopAccepting();
        ocpp.closeAll('shutdown');
        await withTimeout(bridge.drained(), config.shutdown_timeout / 2);
        await withTimeout(closingListener, config.shutdown_timeout / 2);
        cleanups.length = 0;
        if (api) await api.close();
        auth.close();
        await broker.close();
        log.info({}, 'gateway.stopped');
        log.flush?.();
      })();
      return closing;
    };

    return { config, addresses, registry, metrics, api, ready, reloadAuth: () => auth.reload(), close };
  } catch (err) {
    await cleanup();
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
