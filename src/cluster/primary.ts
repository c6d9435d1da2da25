// ocpp.workers > 1: the primary process. It forks the workers (node:cluster, round-robin) that share
// the OCPP port(s), hosts the embedded broker (services on mqtt.embedded.port as ever; the workers on
// an internal unix-socket listener with generated credentials, each one an "external broker" instance
// with the cluster takeover), restarts a worker that dies (with a backoff), serves the API and
// /metrics over every worker, and drains them all on SIGTERM. [SPEC §7]
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { ConfigOrigins } from '../config/origins.js';
import { startupProblems } from '../config/startup-checks.js';
import { mergePages, type ClientDirectory, type ClientView, type TraceSource } from '../api/client-directory.js';
import type { EmbeddedBroker } from '../bridge/embedded-broker.js';
import { StartupError } from '../errors.js';
import type { GatewayAddresses } from '../gateway.js';
import { configSecrets, redactText, redactUrl, type Logger } from '../obs/log.js';
import { Metrics, statsOf } from '../obs/metrics.js';
import { systemClock } from '../session/clock.js';
import { RecentDisconnects, type DisconnectedCp } from '../session/cp-facts.js';
import { Registry } from '../session/registry.js';
import type { Connection, TraceEvent } from '../transport/connection.js';
import type { ComposeContext } from '../compose/context.js';
import { schemaCatalog } from '../compose/catalog.js';
import { embeddedBroker } from '../compose/brokers/embedded.js';
import { startApi } from '../compose/api.js';
import { workerExecArgv } from './worker-flags.js';
import { Pending, TAG, isOurs, type FromWorker, type Op, type Requests } from './ipc.js';

/** How long the primary waits for one worker's answer to an API question or a scrape. */
const ASK_MS = 5_000;
/** Restart delays: doubling from the first, reset once a worker has lived STABLE_MS. */
const RESTART_FIRST_MS = 500;
const RESTART_MAX_MS = 30_000;
const STABLE_MS = 60_000;

/** Gauges that are not sums over the workers: all connected / ready = the least; one build. */
const AGGREGATE_AS: Readonly<Record<string, string>> = {
  ocpp_gateway_broker_connected: 'min',
  ocpp_gateway_ready: 'min',
  ocpp_gateway_build_info: 'first',
};
/** The primary's own registry reports nothing about charge points: these come from the workers only. */
const WORKER_ONLY = new Set([
  'ocpp_gateway_connections', 'ocpp_gateway_pending_calls', 'ocpp_gateway_broker_connected', 'ocpp_gateway_ready',
  'ocpp_gateway_auth_checks', 'ocpp_gateway_auth_throttled_addresses', 'ocpp_gateway_broker_links', 'ocpp_gateway_build_info',
]);

/**
 * A live trace opened in a worker, as the API's trace route reads a Connection: frames that come
 * before the route listens are kept for it; the worker's trace_end (the CP left, the worker died) ends it.
 */
class RemoteTrace implements TraceSource {
  #listener: ((e: TraceEvent) => void) | undefined;
  #early: TraceEvent[] = [];
  #ended = false;
  readonly #closedListeners = new Set<() => void>();
  constructor(readonly cpId: string, readonly protocol: string, readonly slot: number, private readonly stop: () => void) {}

  deliver(e: TraceEvent): void {
    if (this.#listener) this.#listener(e);
    else if (this.#early.length < 1000) this.#early.push(e);
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const l of [...this.#closedListeners]) l();
  }

  addTraceListener(listener: (e: TraceEvent) => void): () => void {
    this.#listener = listener;
    for (const e of this.#early) listener(e);
    this.#early = [];
    return () => {
      this.#listener = undefined;
      if (!this.#ended) this.stop();
      this.#ended = true;
    };
  }

  onClosed(listener: () => void): void {
    if (this.#ended) listener();
    else this.#closedListeners.add(listener);
  }

  offClosed(listener: () => void): void {
    this.#closedListeners.delete(listener);
  }
}

interface Slot {
  readonly slot: number;
  worker: Worker | undefined;
  ready: boolean;
  readonly pending: Pending;
  startedAt: number;
  quickExits: number;
  restartTimer: NodeJS.Timeout | undefined;
}

export interface ClusterGateway {
  readonly addresses: GatewayAddresses;
  reload(): Promise<void>;
  close(): Promise<void>;
}

export interface ClusterOptions {
  readonly config: Readonly<Config>;
  readonly log: Logger;
  readonly origins?: ConfigOrigins | undefined;
}

/** What each worker runs: the operator's config, the API off (it is here), the broker the primary says. */
function workerConfig(config: Readonly<Config>, slot: number, internal: { url: string; username: string; password: string } | undefined): Config {
  const api = { ...config.api, enabled: false };
  if (internal === undefined) {
    // Each worker is its own client of the external broker: a set client id gets the slot, or two
    // workers would take each other's session over.
    const clientId = config.mqtt.client_id === '' ? '' : `${config.mqtt.client_id}-w${slot}`;
    return { ...config, api, mqtt: { ...config.mqtt, client_id: clientId } } as Config;
  }
  return {
    ...config,
    api,
    mqtt: {
      ...config.mqtt,
      url: internal.url, username: internal.username, password: internal.password,
      client_id: '', client_mode: 'shared', protocol_version: '3.1.1', connect_timeout_exit: 0,
      tls: { ...config.mqtt.tls, ca_file: '', cert_file: '', key_file: '', servername: '' },
    },
  } as Config;
}

export async function startCluster(options: ClusterOptions): Promise<ClusterGateway> {
  const { config, log } = options;
  const n = config.ocpp.workers;
  const ctx: ComposeContext = { config, log, clock: systemClock, cleanups: [], late: {} };
  const { cleanups } = ctx;
  const slots: Slot[] = [];
  let stopping = false;
  const traces = new Map<number, RemoteTrace>();
  let nextStream = 1;
  try {
    const problems = await startupProblems(config);
    if (problems.length > 0) throw new StartupError(problems.map((p) => options.origins?.annotate(p) ?? p).join('\n'));

    // The embedded broker lives here, so that services keep one address whichever worker a CP is on.
    let embedded: EmbeddedBroker | undefined;
    let internal: { url: string; username: string; password: string } | undefined;
    let mqttAddress: GatewayAddresses['mqtt'];
    if (config.mqtt.url === '') {
      const build = await embeddedBroker.start(ctx);
      embedded = build.broker as EmbeddedBroker;
      const e = embedded;
      cleanups.push(() => e.close());
      mqttAddress = build.mqttAddress;
      const credentials = { username: 'ocpp-gateway-worker', password: randomBytes(24).toString('base64url') };
      internal = { ...credentials, url: await embedded.listenInternal(credentials) };
    }

    const metrics = new Metrics({
      connections: () => 0,
      pending: () => ({ upstream: 0, downstream: 0, queued: 0 }),
      brokerConnected: () => embedded?.isConnected() ?? true,
      brokerLinks: () => 0,
    });
    ctx.late.metrics = metrics;

    cluster.schedulingPolicy = cluster.SCHED_RR;
    cluster.setupPrimary({ serialization: 'json', execArgv: workerExecArgv(process.execArgv) });

    let started = false;
    let startFailed: ((err: Error) => void) | undefined;
    let startDone: (() => void) | undefined;
    let firstAddresses: GatewayAddresses | undefined;
    const allReady = new Promise<void>((resolve, reject) => {
      startFailed = reject;
      startDone = resolve;
    });

    const fork = (s: Slot) => {
      s.restartTimer = undefined;
      s.ready = false;
      s.startedAt = Date.now();
      const worker = cluster.fork();
      s.worker = worker;
      worker.on('message', (m: unknown) => {
        if (!isOurs<FromWorker>(m)) return;
        if (m.kind === 'answer') s.pending.answered(m);
        else if (m.kind === 'trace') traces.get(m.stream)?.deliver(m.event);
        else if (m.kind === 'trace_end') {
          traces.get(m.stream)?.end();
          traces.delete(m.stream);
        } else if (m.kind === 'hello') worker.send({ tag: TAG, kind: 'config', slot: s.slot, config: workerConfig(config, s.slot, internal) });
        else if (m.kind === 'ready') {
          s.ready = true;
          firstAddresses ??= m.addresses;
          if (started) log.info({ worker: s.slot, pid: worker.process.pid }, 'cluster.worker_restarted');
          else if (slots.length === n && slots.every((x) => x.ready)) startDone?.();
        } else if (m.kind === 'startup_error') {
          if (!started) startFailed?.(new StartupError(m.lines.join('\n')));
          else log.error({ worker: s.slot, pid: worker.process.pid, errors: m.lines }, 'cluster.worker_start_failed');
        }
      });
      worker.once('exit', (code, signal) => {
        s.pending.failAll('worker exited');
        for (const [stream, trace] of traces) {
          if (trace.slot !== s.slot) continue;
          trace.end();
          traces.delete(stream);
        }
        s.worker = undefined;
        s.ready = false;
        if (stopping) return;
        if (!started) {
          startFailed?.(new StartupError(`worker ${s.slot} exited (${signal ?? `code ${code}`}) before it started`));
          return;
        }
        s.quickExits = Date.now() - s.startedAt >= STABLE_MS ? 0 : s.quickExits + 1;
        const delay = Math.min(RESTART_MAX_MS, RESTART_FIRST_MS * 2 ** Math.max(0, s.quickExits - 1));
        // [SPEC §7] its charge points reconnect, to the other workers or to this one once it is back.
        log.error({ worker: s.slot, pid: worker.process.pid, code, signal, restartInMs: delay }, 'cluster.worker_exited');
        s.restartTimer = setTimeout(() => fork(s), delay);
      });
    };

    for (let i = 1; i <= n; i++) {
      const s: Slot = { slot: i, worker: undefined, ready: false, pending: new Pending(), startedAt: 0, quickExits: 0, restartTimer: undefined };
      slots.push(s);
      fork(s);
    }
    await allReady;
    started = true;

    const live = () => slots.filter((s): s is Slot & { worker: Worker } => s.worker !== undefined && s.ready);
    const askAll = async <O extends Op>(op: O, args: Requests[O]['args']) => {
      const answers = await Promise.all(live().map((s) => s.pending.ask(s.worker, op, args, ASK_MS).then((r) => ({ s, r }), () => undefined)));
      return answers.filter((a): a is { s: Slot & { worker: Worker }; r: Requests[O]['result'] } => a !== undefined);
    };
    /** The worker serving cpId now (the newest connection if a takeover is under way). */
    const find = async (cpId: string) => {
      let best: { s: Slot & { worker: Worker }; view: ClientView } | undefined;
      for (const { s, r } of await askAll('get', { cpId })) {
        if (r !== null && (best === undefined || r.connectedAt > best.view.connectedAt)) best = { s, view: r };
      }
      return best;
    };
    /** The newest entry per cpId over the workers' lists, newest first. */
    const newestFirst = (entries: DisconnectedCp[]) => {
      const byId = new Map<string, DisconnectedCp>();
      for (const d of entries) {
        const seen = byId.get(d.cpId);
        if (seen === undefined || d.disconnectedAt > seen.disconnectedAt) byId.set(d.cpId, d);
      }
      return [...byId.values()].sort((a, b) => (a.disconnectedAt < b.disconnectedAt ? 1 : a.disconnectedAt > b.disconnectedAt ? -1 : 0));
    };
    const clients: ClientDirectory = {
      list: async (q) => mergePages(q, (await askAll('list', q)).map((a) => a.r)),
      get: async (cpId) => (await find(cpId))?.view,
      kick: async (cpId) => (await askAll('kick', { cpId })).some((a) => a.r),
      call: async (cpId, action, messageId, payloadText) => {
        const at = await find(cpId);
        if (at === undefined) return undefined;
        // No deadline here: the API's own timeout answers 504 while the CALL stays in flight.
        return (await at.s.pending.ask(at.s.worker, 'call', { cpId, action, messageId, payloadText }, undefined).catch(() => null)) ?? undefined;
      },
      trace: async (cpId) => {
        const at = await find(cpId);
        if (at === undefined) return undefined;
        const stream = nextStream++;
        const { s } = at;
        const trace = new RemoteTrace(cpId, at.view.protocol, s.slot, () => {
          traces.delete(stream);
          if (s.worker?.isConnected()) void s.pending.ask(s.worker, 'trace_stop', { stream }, ASK_MS).catch(() => undefined);
        });
        traces.set(stream, trace);
        const opened = await s.pending.ask(at.s.worker, 'trace', { cpId, stream }, ASK_MS).catch(() => null);
        if (opened === null || opened === 'too_many') traces.delete(stream);
        return opened === null ? undefined : opened === 'too_many' ? 'too_many' : trace;
      },
      disconnected: async () => {
        const recent = newestFirst((await askAll('disconnected', {})).flatMap((a) => a.r));
        // One that reconnected, to any worker, is in the client list instead.
        const cpIds = recent.map((d) => d.cpId);
        const back = new Set((await askAll('connected', { cpIds })).flatMap((a) => a.r));
        return recent.filter((d) => !back.has(d.cpId));
      },
      lastDisconnect: async (cpId) => newestFirst((await askAll('last_disconnect', { cpId })).flatMap((a) => (a.r === null ? [] : [a.r])))[0],
    };
    const aggregatedRegistry = async () => {
      const parts = (await askAll('metrics', {})).map((a) => a.r as MetricObjectWithValues<MetricValue<string>>[]);
      for (const part of parts) for (const m of part) if (AGGREGATE_AS[m.name] !== undefined) (m as { aggregator: string }).aggregator = AGGREGATE_AS[m.name] as string;
      const own = (await metrics.registry.getMetricsAsJSON()).filter((m) => !WORKER_ONLY.has(m.name));
      return AggregatorRegistry.aggregate([...parts, own]);
    };
    const aggregated = {
      metrics: async () => (await aggregatedRegistry()).metrics(),
      stats: async () => statsOf(await (await aggregatedRegistry()).getMetricsAsJSON()),
    };
    const ready = () => {
      const checks = { workers: slots.every((s) => s.worker !== undefined && s.ready), broker: embedded?.isConnected() ?? true };
      return { ready: checks.workers && checks.broker, checks };
    };
    metrics.watchReadiness(() => ready().ready);

    let api: Awaited<ReturnType<typeof startApi>> | undefined;
    if (config.api.enabled) {
      // The API's CALL form and action list read the schema sets; nothing is compiled here (the
      // workers check the messages, and a bad json_schema_dir stops the start in them).
      const catalog = schemaCatalog(config);
      api = await startApi(ctx, { registry: new Registry<Connection>(), recentlyDisconnected: new RecentDisconnects(), metrics, catalog, ready, clients, aggregated });
    }

    const addresses: GatewayAddresses = {
      ...(firstAddresses?.ocpp ? { ocpp: firstAddresses.ocpp } : {}),
      ...(firstAddresses?.ocppTls ? { ocppTls: firstAddresses.ocppTls } : {}),
      ...(mqttAddress ? { mqtt: mqttAddress } : {}),
      ...(api ? { api: api.address } : {}),
    };
    log.info({ ocpp: addresses.ocpp ?? null, ocppTls: addresses.ocppTls ?? null, mqtt: addresses.mqtt ?? { url: redactUrl(config.mqtt.url), clientMode: config.mqtt.client_mode }, api: addresses.api ?? null, workers: n, pids: slots.map((s) => s.worker?.process.pid ?? null) }, 'gateway.started');

    let closing: Promise<void> | undefined;
    const close = () => {
      closing ??= (async () => {
        stopping = true;
        log.info({ workers: live().length }, 'gateway.stopping');
        const exits: Array<Promise<void>> = [];
        for (const s of slots) {
          clearTimeout(s.restartTimer);
          const w = s.worker;
          if (w === undefined) continue;
          exits.push(new Promise((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))));
          // Each worker closes its charge points (reason shutdown) and publishes their presence; one
          // still starting listens to nothing yet and just ends.
          if (s.ready && w.isConnected()) w.send({ tag: TAG, kind: 'shutdown' });
          else w.process.kill('SIGTERM');
        }
        const late = setTimeout(() => {
          for (const s of slots) s.worker?.process.kill('SIGKILL');
        }, config.shutdown_timeout + 1500);
        await Promise.all(exits);
        clearTimeout(late);
        if (api) await api.app.close();
        await embedded?.close();
        log.info({}, 'gateway.stopped');
        log.flush?.();
      })();
      return closing;
    };
    const reload = async () => {
      for (const s of live()) s.worker.process.kill('SIGHUP');
    };
    return { addresses, reload, close };
  } catch (err) {
    stopping = true;
    for (const s of slots) {
      clearTimeout(s.restartTimer);
      s.worker?.process.kill('SIGKILL');
    }
    for (const fn of cleanups.reverse()) await fn();
    if (err instanceof Error) err.message = redactText(err.message, configSecrets(config));
    throw err;
  }
}
