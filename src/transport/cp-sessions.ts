// What happens to a charge point once its upgrade succeeded, whichever listener (or mounted HTTP
// server) took it: the Connection is built from the config, claimed in the registry (the newer one
// wins), bound to its MQTT attachment, announced (event/connected, retained presence, takeover), and
// at its teardown released, announced and let go in the fenced order. [SPEC §3, §4, §7]
// Shared by every listener: one registry, one admission count, one set of attachments.
import type { Config, Protocol } from '../config/schema.js';
import type { CloseReason } from '../errors.js';
import type { Attachment, Bridge } from '../bridge/bridge.js';
import type { Clock } from '../session/clock.js';
import type { Registry } from '../session/registry.js';
import type { RecentDisconnects } from '../session/cp-facts.js';
import type { Logger } from '../obs/log.js';
import { FrameLogPolicy } from '../obs/frame-log.js';
import type { Metrics } from '../obs/metrics.js';
import type { MessageChecks } from '../validation/checks.js';
import type { WebSocket } from 'ws';
import type { Admission } from './admission.js';
import { Connection, type ConnectionHost, type ConnectionLimits } from './connection.js';

/** A charge point the upgrade pipeline let through, with what it presented. */
export interface AdmittedCp {
  readonly cpId: string;
  readonly protocol: Protocol;
  readonly remoteAddress: string;
  readonly username: string | undefined;
  /** When the authorization ends (ms since the epoch), if the auth provider said. */
  readonly expireAt: number | undefined;
}

export interface CpSessionsDeps {
  readonly config: Readonly<Config>;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly bridge: Bridge;
  readonly registry: Registry<Connection>;
  readonly admission: Admission;
  readonly checks: MessageChecks;
  /** Where a charge point is remembered after it disconnects (the dashboard's list). */
  readonly recentlyDisconnected?: RecentDisconnects | undefined;
  /** False while the broker is unreachable. */
  readonly brokerReady: () => boolean;
}

/** The per-connection limits of SPEC §8, from the config. */
export function connectionLimits(config: Readonly<Config>): ConnectionLimits {
  const o = config.ocpp;
  return {
    pingIntervalMs: o.ws_ping_interval,
    keepaliveTimeoutMs: o.keepalive_timeout,
    keepaliveFollowHeartbeat: o.keepalive_follow_heartbeat,
    maxOutboundBuffer: o.max_outbound_buffer,
    maxInflightPublishes: o.max_inflight_publishes,
    maxFramesPerTurn: o.max_frames_per_turn,
    maxFrameRate: o.max_frame_rate,
    frameBurst: o.frame_burst,
    maxRejectedEvents: o.max_rejected_events,
    rejectedEventsWindowMs: o.rejected_events_window,
    maxCpLogLines: config.log.max_cp_lines,
    cpLogWindowMs: config.log.cp_lines_window,
    closeGraceMs: 5000,
  };
}

export class CpSessions {
  readonly #d: CpSessionsDeps;
  readonly #host: ConnectionHost;
  readonly #limits: ConnectionLimits;
  readonly #attachments = new WeakMap<Connection, Attachment>();
  #accepting = true;

  constructor(deps: CpSessionsDeps) {
    this.#d = deps;
    this.#limits = connectionLimits(deps.config);
    this.#host = {
      clock: deps.clock,
      log: deps.log,
      metrics: deps.metrics,
      frameLog: FrameLogPolicy.from(deps.config.log),
      publishUp: (conn, type, action, messageId, payloadText, reason) => deps.bridge.publishUp(conn, type, action, messageId, payloadText, reason),
      publishRejected: (conn, reason, detail, messageId, action, extra) => deps.bridge.publishRejected(conn, reason, detail, messageId, action, extra),
      onTeardown: (conn, reason, code) => this.#onTeardown(conn, reason, code),
    };
  }

  get limits(): ConnectionLimits {
    return this.#limits;
  }

  get registry(): Registry<Connection> {
    return this.#d.registry;
  }

  /** False once the gateway is shutting down: every listener refuses new charge points. */
  get accepting(): boolean {
    return this.#accepting;
  }

  stopAccepting(): void {
    this.#accepting = false;
  }

  /** After the 101: the connection starts, takes over its cpId, and is announced. `listener`: for the log. */
  accept(ws: WebSocket, admitted: AdmittedCp, attachment: Attachment, listener: string): Connection {
    const { config, registry, bridge, metrics, log } = this.#d;
    const conn = new Connection(
      ws,
      { cpId: admitted.cpId, protocol: admitted.protocol, remoteAddress: admitted.remoteAddress, username: admitted.username, expireAt: admitted.expireAt },
      {
        awaitingTimeoutMs: config.upstream.awaiting_timeout,
        onUpstreamTimeout: config.upstream.on_timeout,
        concurrentCalls: config.upstream.concurrent_calls,
        maxPendingUpstream: config.upstream.max_pending,
        maxQueueLength: config.dnstream.max_mqueue_len,
        retryIntervalMs: config.dnstream.retry_interval,
        maxRetries: config.dnstream.max_retries,
        maxBadMessages: config.ocpp.max_bad_messages,
        badMessagesWindowMs: config.ocpp.bad_messages_window,
        maxJsonDepth: config.ocpp.max_json_depth,
        checker: this.#d.checks.forConnection(admitted.protocol, admitted.cpId),
      },
      this.#limits,
      this.#host,
    );
    this.#attachments.set(conn, attachment);
    const previous = registry.claim(conn);
    previous?.close('replaced');
    metrics.connected();
    log.info({ cpId: conn.cpId, protocol: conn.protocol, remoteAddress: conn.remoteAddress, listener, replaced: previous !== undefined }, 'cp.connected');
    attachment.bind(conn, (loss) => {
      // per_client: the broker ended this charge point's link. A takeover (another connection with the
      // same client id) means it is served elsewhere now; anything else closes it so that it reconnects.
      // Presence: a live broker publishes the link's will (or the new owner publishes online); only
      // with the broker gone does the teardown publish offline itself (queued until it is back).
      if (loss === 'taken_over' || this.#d.brokerReady()) conn.presenceHandedOff = true;
      conn.close(loss === 'taken_over' ? 'replaced' : 'broker_disconnected');
    });
    if (conn.closed) return conn;
    const connectedAt = new Date(conn.connectedAt).toISOString();
    bridge.publishEvent(conn.cpId, 'connected', { cpId: conn.cpId, protocol: conn.protocol, remoteAddress: conn.remoteAddress, username: conn.username ?? null, connectedAt }, conn.protocol, conn).catch(() => undefined);
    bridge.publishPresence(conn.cpId, true, conn.protocol, conn.connectedAt, conn).catch(() => undefined);
    bridge.announceTakeover(conn);
    return conn;
  }

  /** Another instance accepted this charge point more recently: close ours, fenced. [SPEC §7] */
  takeOver(cpId: string, connectedAt: number, instanceId: string): void {
    const conn = this.#d.registry.get(cpId);
    this.#d.bridge.markTakenOver(cpId, this.#d.clock.now());
    if (conn === undefined || conn.connectedAt > connectedAt) return;
    this.#d.log.info({ cpId, by: instanceId }, 'cluster.taken_over');
    conn.presenceHandedOff = true;
    conn.close('replaced');
  }

  /** Closes every connected charge point (of every listener: they share the registry). */
  closeAll(reason: 'shutdown' | 'kicked'): void {
    for (const conn of [...this.#d.registry.values()]) conn.close(reason);
  }

  #onTeardown(conn: Connection, reason: CloseReason, code: number): void {
    const { registry, bridge, metrics, log, clock, admission } = this.#d;
    const wasCurrent = registry.release(conn);
    admission.releaseAddress(conn.remoteAddress);
    metrics.disconnected(reason);
    const now = clock.now();
    log.info({ cpId: conn.cpId, reason, code }, 'cp.disconnected');
    this.#d.recentlyDisconnected?.add(conn, reason, code, now);
    bridge.publishEvent(conn.cpId, 'disconnected', { cpId: conn.cpId, protocol: conn.protocol, reason, code, disconnectedAt: new Date(now).toISOString() }, conn.protocol, conn).catch(() => undefined);
    // The fence: only the current connection may mark the charge point offline, and not when another
    // instance serves it now.
    if (wasCurrent && !conn.presenceHandedOff) bridge.publishPresence(conn.cpId, false, conn.protocol, now, conn).catch(() => undefined);
    // After the publishes above: a per_client link flushes them before its DISCONNECT.
    this.#attachments.get(conn)?.release();
    this.#attachments.delete(conn);
  }
}
