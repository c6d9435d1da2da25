// Every counter the gateway keeps, as Prometheus metrics (prom-client, a registry of our own). The
// HTTP API's /api/v1/stats reads the same numbers. Names: ocpp_gateway_*. [SPEC §9]
import { collectDefaultMetrics, Counter, Gauge, Registry, type LabelValues, type Metric } from 'prom-client';
import { TallyHistogram, type HistogramChild } from './tally-histogram.js';
import { VERSION } from './version.js';

export interface MetricSources {
  connections(): number;
  /** Sums over all connections. */
  pending(): { upstream: number; downstream: number; queued: number };
  brokerConnected(): boolean;
  /** mqtt.client_mode per_client: broker links open now (one per charge point, and those still closing). */
  brokerLinks(): number;
}

/** The bounded credential checks (src/auth/check-gate.ts), read when metrics are collected. [SPEC §8] */
export interface AuthCheckSource {
  readonly inFlight: number;
  readonly queued: number;
  /** Queued checks dropped because their connection was gone (a running total). */
  readonly dropped: number;
  blockedSources(): number;
}

const NO_AUTH_CHECKS: AuthCheckSource = { inFlight: 0, queued: 0, dropped: 0, blockedSources: () => 0 };

/** A count kept on the hot path; `reported` is what prom-client has been given so far. */
interface Tally {
  readonly labels: Record<string, string>;
  count: number;
  reported: number;
}

/** Hands a tally's new counts to its prom-client counter (from the counter's collect()). */
function report(counter: Counter<string>, t: Tally): void {
  if (t.count === t.reported) return;
  counter.inc(t.labels, t.count - t.reported);
  t.reported = t.count;
}

/**
 * Process and runtime metrics (CPU, memory, file descriptors, event-loop lag, GC, heap) and the build
 * info: one set per process, shared by every gateway it runs (tests run hundreds), because prom-client's
 * default collectors each keep an event-loop monitor and a GC observer that are never released.
 */
let processMetrics: Registry | undefined;

function processRegistry(): Registry {
  if (processMetrics !== undefined) return processMetrics;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ocpp_gateway_' });
  new Gauge({ name: 'ocpp_gateway_build_info', help: 'Always 1; the labels say which gateway version runs on which Node.js version.', labelNames: ['version', 'node'], registers: [registry] })
    .set({ version: VERSION, node: process.versions.node }, 1);
  processMetrics = registry;
  return registry;
}

/** Distinct action label values kept; more (a CP inventing actions) are counted as "other". */
const MAX_ACTION_LABELS = 256;

type Direction = 'upstream' | 'dnstream';

export class Metrics {
  readonly registry = new Registry();
  readonly #actions = new Set<string>();
  readonly #connects: Counter;
  readonly #disconnects: Counter<'reason'>;
  readonly #refusals: Counter<'reason'>;
  readonly #refusedRequests: Counter<'listener' | 'reason'>;
  readonly #frames: Counter<'direction' | 'type' | 'action'>;
  readonly #bytes: Counter<'direction'>;
  readonly #rejected: Counter<'reason'>;
  readonly #rejectedSuppressed: Counter<'reason'>;
  readonly #logSuppressed: Counter<'event'>;
  readonly #internalErrors: Counter<'entry'>;
  #knownActions: ReadonlySet<string> | undefined;
  readonly #traceCuts: Counter;
  readonly #readPauses: Counter<'why'>;
  readonly #gatewayErrors: Counter<'reason'>;
  readonly #validation: Counter<'direction' | 'code'>;
  readonly #timeouts: Counter<'direction'>;
  readonly #queueDrops: Counter;
  readonly #counted: Counter<'what'>;
  readonly #publishes: Counter<'result'>;
  readonly #publishesRefused: Counter<'reason'>;
  readonly #roundTrip: TallyHistogram<'direction' | 'action'>;
  readonly #publishLatency: TallyHistogram;
  /**
   * Frames and bytes are counted in plain numbers on the hot path (every frame) and handed to
   * prom-client when it collects (a scrape, /api/v1/stats): its inc() allocates on every call.
   * direction -> type -> action -> tally.
   */
  readonly #frameTallies = new Map<string, Map<string, Map<string, Tally>>>();
  readonly #byteTallies = { in: { labels: { direction: 'in' }, count: 0, reported: 0 }, out: { labels: { direction: 'out' }, count: 0, reported: 0 } };
  /** Cached label children: prom-client's label lookup is too slow for every round trip. */
  readonly #roundTripChildren = new Map<string, HistogramChild>();
  readonly #publishOk: Tally = { labels: { result: 'ok' }, count: 0, reported: 0 };
  #authChecks: AuthCheckSource = NO_AUTH_CHECKS;
  #ready: () => boolean = () => false;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    for (const m of processRegistry().getMetricsAsArray()) this.registry.registerMetric(m as unknown as Metric);
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) => new Counter<L>({ name: `ocpp_gateway_${name}`, help, labelNames, registers });
    this.#connects = counter('connects_total', 'Charge point connections accepted.');
    this.#disconnects = counter('disconnects_total', 'Charge point connections ended, by reason.', ['reason']);
    this.#refusals = counter('upgrade_refusals_total', 'WebSocket upgrades refused, by reason.', ['reason']);
    this.#refusedRequests = counter('refused_requests_total', 'Browser-facing doors other than OCPP: HTTP API requests refused for their Host or Origin (listener api, reason host_not_allowed or cross_origin) and MQTT-over-WebSocket upgrades refused for their Origin (listener mqtt_ws, reason origin_not_allowed).', ['listener', 'reason']);
    const frameTallies = this.#frameTallies;
    const byteTallies = this.#byteTallies;
    this.#frames = new Counter({
      name: 'ocpp_gateway_frames_total', help: 'OCPP frames in (from charge points) and out (to charge points), by type and action.', labelNames: ['direction', 'type', 'action'], registers,
      collect() {
        for (const byType of frameTallies.values()) for (const byAction of byType.values()) for (const t of byAction.values()) report(this, t);
      },
    });
    this.#bytes = new Counter({
      name: 'ocpp_gateway_frame_bytes_total', help: 'Bytes of OCPP frames in and out.', labelNames: ['direction'], registers,
      collect() {
        report(this, byteTallies.in);
        report(this, byteTallies.out);
      },
    });
    this.#rejected = counter('rejected_messages_total', 'Messages from charge points not bridged (event/rejected), by reason.', ['reason']);
    this.#rejectedSuppressed = counter('rejected_events_suppressed_total', 'event/rejected messages not published because the charge point (or, for refused upgrades, the source address) spent ocpp.max_rejected_events (counted in rejected_messages_total or upgrade_refusals_total all the same), by reason.', ['reason']);
    this.#logSuppressed = counter('log_lines_suppressed_total', 'Log lines caused by a charge point and dropped beyond log.max_cp_lines, by event id.', ['event']);
    this.#internalErrors = counter('internal_errors_total', 'Exceptions while handling one connection\'s input (each closed that connection, 1011 internal_error), by where they entered: frame, service, timer, publish, socket, close.', ['entry']);
    this.#traceCuts = counter('trace_streams_cut_total', 'Live trace streams (GET /api/v1/clients/{cpId}/trace) cut because their listener did not read: more than 1 MiB waited to be written.');
    this.#readPauses = counter('read_pauses_total', 'Times reading from a charge point paused: publishes = ocpp.max_inflight_publishes of its publishes await the broker; frames = it sent ocpp.max_frames_per_turn frames in one event-loop turn; rate = it spent ocpp.max_frame_rate (with ocpp.frame_burst).', ['why']);
    this.#gatewayErrors = counter('gateway_errors_total', 'Gateway-originated errors published to services, by reason.', ['reason']);
    this.#validation = counter('validation_failures_total', 'Payloads that failed their schema, by direction and OCPP error code.', ['direction', 'code']);
    this.#timeouts = counter('timeouts_total', 'CALLs that got no answer in time: upstream (service too slow) and dnstream (charge point too slow).', ['direction']);
    this.#queueDrops = counter('queue_drops_total', 'Service CALLs refused because the charge point\'s queue was full.');
    this.#counted = counter('flow_events_total', 'concurrent_forwarded: a CP CALL forwarded while another of its CALLs was pending (upstream.concurrent_calls forward); retransmission: a downstream CALL re-sent (dnstream.max_retries).', ['what']);
    const publishOk = this.#publishOk;
    this.#publishes = new Counter({ name: 'ocpp_gateway_mqtt_publishes_total', help: 'Publishes to the broker, by result.', labelNames: ['result'], registers, collect() { report(this, publishOk); } });
    this.#publishesRefused = counter('publishes_refused_total', 'Publishes the broker refused, dropped instead of resent: connection_dropped (the broker dropped the connection each time the publish was outstanding), puback_0x.. (an MQTT 5 PUBACK reason code).', ['reason']);
    this.#roundTrip = new TallyHistogram({
      name: 'ocpp_gateway_round_trip_seconds',
      help: 'CALL to answer: upstream = a charge point CALL until the service\'s answer is sent to it; dnstream = a service CALL sent to the charge point until its answer.',
      labelNames: ['direction', 'action'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.#publishLatency = new TallyHistogram({ name: 'ocpp_gateway_mqtt_publish_seconds', help: 'Time until the broker took a publish (PUBACK at QoS 1).', buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers });
    new Gauge({ name: 'ocpp_gateway_connections', help: 'Charge points connected now.', registers, collect() { this.set(sources.connections()); } });
    new Gauge({
      name: 'ocpp_gateway_pending_calls', help: 'CALLs awaiting an answer now: upstream (from charge points), dnstream_inflight, dnstream_queued.', labelNames: ['state'], registers,
      collect() {
        const p = sources.pending();
        this.set({ state: 'upstream' }, p.upstream);
        this.set({ state: 'dnstream_inflight' }, p.downstream);
        this.set({ state: 'dnstream_queued' }, p.queued);
      },
    });
    new Gauge({ name: 'ocpp_gateway_broker_connected', help: '1 while the MQTT broker is reachable.', registers, collect() { this.set(sources.brokerConnected() ? 1 : 0); } });
    const ready = () => this.#ready();
    new Gauge({ name: 'ocpp_gateway_ready', help: '1 while GET /readyz answers 200 (OCPP listener up and broker connected), else 0.', registers, collect() { this.set(ready() ? 1 : 0); } });
    const authChecks = () => this.#authChecks;
    new Gauge({
      name: 'ocpp_gateway_auth_checks', help: 'Credential checks (password hashes, auth service requests) now: in_flight and queued (auth.max_checks_in_flight, auth.http.max_in_flight, auth.max_checks_queued).', labelNames: ['state'], registers,
      collect() {
        this.set({ state: 'in_flight' }, authChecks().inFlight);
        this.set({ state: 'queued' }, authChecks().queued);
      },
    });
    const droppedTally: Tally = { labels: {}, count: 0, reported: 0 };
    new Counter({
      name: 'ocpp_gateway_auth_checks_dropped_total', help: 'Queued credential checks dropped before they ran because their connection was gone (client left, handshake timeout).', registers,
      collect() {
        droppedTally.count = authChecks().dropped;
        report(this, droppedTally);
      },
    });
    new Gauge({ name: 'ocpp_gateway_auth_throttled_addresses', help: 'Addresses (IPv6: /64 prefixes) refused with auth_throttled now, after auth.failure_limit failed checks.', registers, collect() { this.set(authChecks().blockedSources()); } });
    new Gauge({ name: 'ocpp_gateway_broker_links', help: 'mqtt.client_mode per_client: broker connections of charge points open now (0 in shared mode).', registers, collect() { this.set(sources.brokerLinks()); } });
  }

  /** Where ocpp_gateway_ready reads from (the gateway's readiness, as /readyz). */
  watchReadiness(ready: () => boolean): void { this.#ready = ready; }

  /** Where the auth check gauges and the dropped counter read from (the gateway's CheckGate). */
  watchAuthChecks(source: AuthCheckSource): void { this.#authChecks = source; }

  /**
   * From now on only these actions (the enabled protocols' own) get a label of their own; any other is
   * "other", so a charge point's made-up actions cannot take the label slots real ones need.
   */
  limitActionLabels(known: ReadonlySet<string>): void {
    if (known.size > 0) this.#knownActions = known;
  }

  /** The action as a label value, bounded in number. */
  actionLabel(action: string): string {
    if (this.#knownActions !== undefined) return this.#knownActions.has(action) ? action : 'other';
    if (this.#actions.has(action)) return action;
    if (this.#actions.size >= MAX_ACTION_LABELS) return 'other';
    this.#actions.add(action);
    return action;
  }

  connected(): void { this.#connects.inc(); }
  disconnected(reason: string): void { this.#disconnects.inc({ reason }); }
  upgradeRefused(reason: string): void { this.#refusals.inc({ reason }); }
  requestRefused(listener: 'api' | 'mqtt_ws', reason: string): void { this.#refusedRequests.inc({ listener, reason }); }
  rejected(reason: string): void { this.#rejected.inc({ reason }); }
  rejectedSuppressed(reason: string): void { this.#rejectedSuppressed.inc({ reason }); }
  logSuppressed(event: string): void { this.#logSuppressed.inc({ event }); }
  internalError(entry: string): void { this.#internalErrors.inc({ entry }); }
  traceCut(): void { this.#traceCuts.inc(); }
  readPaused(why: 'publishes' | 'frames' | 'rate'): void { this.#readPauses.inc({ why }); }
  validationFailure(direction: Direction, code: string): void { this.#validation.inc({ direction, code }); }
  timeout(direction: Direction): void { this.#timeouts.inc({ direction }); }
  counted(what: 'concurrent_forwarded' | 'retransmission'): void { this.#counted.inc({ what }); }
  publishRefused(reason: string): void { this.#publishesRefused.inc({ reason }); }
  publishResult(ok: boolean, seconds: number): void {
    if (ok) {
      this.#publishOk.count++;
      this.#publishLatency.observe(seconds);
    } else this.#publishes.inc({ result: 'failed' });
  }

  gatewayError(reason: string): void {
    this.#gatewayErrors.inc({ reason });
    if (reason === 'queue_full') this.#queueDrops.inc();
  }

  frame(direction: 'in' | 'out', type: string, action: string, bytes: number): void {
    let byType = this.#frameTallies.get(direction);
    if (byType === undefined) this.#frameTallies.set(direction, (byType = new Map()));
    let byAction = byType.get(type);
    if (byAction === undefined) byType.set(type, (byAction = new Map()));
    let tally = byAction.get(action);
    if (tally === undefined) {
      // Actions without a label of their own (actionLabel), and any beyond MAX_ACTION_LABELS, share one
      // tally labelled "other".
      const label = byAction.size < MAX_ACTION_LABELS ? this.actionLabel(action) : 'other';
      const key = label === action ? action : '\u0000other';
      tally = byAction.get(key) ?? { labels: { direction, type, action: label }, count: 0, reported: 0 };
      byAction.set(key, tally);
    }
    tally.count++;
    this.#byteTallies[direction].count += bytes;
  }

  roundTrip(direction: Direction, action: string, seconds: number): void {
    const key = `${direction}\u0000${action}`;
    let child = this.#roundTripChildren.get(key);
    if (child === undefined) {
      child = this.#roundTrip.labels({ direction, action: this.actionLabel(action) });
      if (this.#roundTripChildren.size < MAX_ACTION_LABELS * 2) this.#roundTripChildren.set(key, child);
    }
    child.observe(seconds);
  }

  /** Counters as plain JSON for /api/v1/stats: {metric: {labels joined by ",": value}}. */
  async snapshot(): Promise<Record<string, number | Record<string, number>>> {
    return statsOf(await this.registry.getMetricsAsJSON());
  }
}

/** A registry's JSON (one process's, or the workers' aggregate) as /api/v1/stats shows it; histograms left out. */
export function statsOf(json: ReadonlyArray<{ name: string; type: unknown; values: unknown }>): Record<string, number | Record<string, number>> {
  const out: Record<string, number | Record<string, number>> = {};
  for (const m of json) {
    if (String(m.type) === 'histogram') continue;
    const name = m.name.replace(/^ocpp_gateway_/, '');
    const values = m.values as Array<{ value: number; labels: Record<string, string | number> }>;
    if (values.length === 1 && Object.keys(values[0]?.labels ?? {}).length === 0) out[name] = values[0]?.value ?? 0;
    else out[name] = Object.fromEntries(values.map((v) => [Object.values(v.labels).join(','), v.value]));
  }
  return out;
}
