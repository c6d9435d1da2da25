// One charge point connection: the imperative shell around its Channel. It turns socket events into
// channel inputs and channel actions into I/O (send, publish, close, timers). [DESIGN: thin shell]
import type { WebSocket } from 'ws';
import type { Protocol } from '../config/schema.js';
import { CLOSE_REASONS, type CloseReason, type GatewayErrorReason, type RejectedReason } from '../errors.js';
import { decodeFrame } from '../ocpp/codec.js';
import { PROTOCOLS } from '../ocpp/protocols.js';
import { Channel, type ChannelAction, type ChannelOptions, type MessageKind, type ServiceMessage, type TimerKey } from '../session/channel.js';
import type { Clock } from '../session/clock.js';
import type { Logger } from '../obs/log.js';
import type { Metrics } from '../obs/metrics.js';
import type { FrameLog, FrameLogPolicy } from '../obs/frame-log.js';
import { CpBudgets, type CpBudgetLimits } from './cp-budgets.js';
import { keepaliveSweep, type KeepaliveMember, type KeepaliveSlot } from './keepalive.js';
import { noteFacts, type CpFacts } from '../session/cp-facts.js';
import { SmallMap } from '../session/small-map.js';
import type { DownstreamSink } from '../session/sink.js';

export interface ConnectionLimits extends CpBudgetLimits {
  readonly pingIntervalMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly keepaliveFollowHeartbeat: boolean;
  readonly maxOutboundBuffer: number;
  /** How long a closing connection waits for the peer's close frame before dropping the socket. */
  readonly closeGraceMs: number;
}

/** What a connection needs from the gateway around it. */
export interface ConnectionHost {
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** log.frames: which charge points have their frames logged (absent: none). */
  readonly frameLog?: FrameLogPolicy | undefined;
  publishUp(conn: Connection, type: MessageKind, action: string, messageId: string, payloadText: string, gatewayReason?: GatewayErrorReason): Promise<void>;
  /** event/rejected; `extra` adds fields to its body. Counted in this connection's in-flight publishes. */
  publishRejected(conn: Connection, reason: RejectedReason, detail: string, messageId?: string, action?: string, extra?: Record<string, unknown>): Promise<void>;
  /** Called once, when the connection is over (whoever closed it). */
  onTeardown(conn: Connection, reason: CloseReason, code: number): void;
}

export interface ConnectionInfo {
  readonly cpId: string;
  readonly protocol: Protocol;
  readonly remoteAddress: string;
  readonly username: string | undefined;
  /** When the authorization ends (ms since the epoch): the connection is closed with reason expired. */
  readonly expireAt?: number | undefined;
}

/** One frame as the live trace shows it. */
export interface TraceEvent {
  readonly direction: 'in' | 'out';
  readonly at: string;
  readonly text: string;
}

/** How a CALL sent through the API ended: the CP's answer, or a gateway error. */
export interface ApiCallOutcome {
  readonly type: 'response' | 'error';
  readonly payloadText: string;
  readonly gatewayReason: GatewayErrorReason | undefined;
}

/** Live-trace listeners per charge point, at most. */
export const MAX_TRACE_LISTENERS = 8;

/** Where an exception entered the connection: for the cp.internal_error line and its metric. */
export type ConnectionEntry = 'frame' | 'service' | 'timer' | 'publish' | 'socket' | 'close';

const WS_ERROR_REASONS: Record<string, CloseReason> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 'frame_too_large',
  WS_ERR_INVALID_UTF8: 'invalid_utf8',
};

export class Connection implements KeepaliveMember, DownstreamSink {
  readonly cpId: string;
  readonly protocol: Protocol;
  readonly remoteAddress: string;
  readonly username: string | undefined;
  readonly connectedAt: number;
  lastSeenAt: number;
  heartbeatInterval: number | undefined;
  /** What the CP told about itself (BootNotification, StatusNotification); made on the first such CALL. */
  facts: CpFacts | undefined;
  readonly counters = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0 };
  readonly channel: Channel;

  readonly #ws: WebSocket;
  readonly #host: ConnectionHost;
  readonly #limits: ConnectionLimits;
  /** Its CALL timers: usually none or one (no Map then). */
  readonly #timers = new SmallMap<unknown>();
  /** Its bucket in the shared keepalive sweep (no interval of its own). */
  #keepalive: KeepaliveSlot | undefined;
  #lastPingAt: number;
  /** What this charge point may make the gateway do: publishes in flight, frames per turn, events, log lines. */
  readonly #budgets: CpBudgets<Connection>;
  #closed = false;
  #wsErrorReason: CloseReason | undefined;
  #inBytes = 0;
  /** An exception closed (or hit) this connection: it is logged once. */
  #failed = false;
  readonly #maxJsonDepth: number | undefined;
  // Made on first use: most connections never have a trace listener, an API call or a close listener,
  // and an empty Map or Set costs ~200 bytes per connection (measured with heap snapshots).
  #traceListeners: Set<(e: TraceEvent) => void> | undefined;
  #apiCalls: Map<string, (outcome: ApiCallOutcome) => void> | undefined;
  #closedListeners: Set<() => void> | undefined;
  /** Present only for a charge point named in log.frames. */
  readonly #frameLog: FrameLog | undefined;

  constructor(ws: WebSocket, info: ConnectionInfo, channelOptions: Omit<ChannelOptions, 'spec'>, limits: ConnectionLimits, host: ConnectionHost) {
    this.cpId = info.cpId;
    this.protocol = info.protocol;
    this.remoteAddress = info.remoteAddress;
    this.username = info.username;
    this.#ws = ws;
    this.#host = host;
    this.#limits = limits;
    this.connectedAt = host.clock.now();
    this.lastSeenAt = this.connectedAt;
    this.#lastPingAt = this.connectedAt;
    this.channel = new Channel({ ...channelOptions, spec: PROTOCOLS[info.protocol] });
    this.#maxJsonDepth = channelOptions.maxJsonDepth;
    // The connection and its host themselves, one guard closure: no per-connection object of closures.
    this.#budgets = new CpBudgets<Connection>(this, host, (entry, work) => this.#guard(entry, work), ws, limits);
    this.#frameLog = host.frameLog?.open(this.cpId, host.log, {
      now: () => host.clock.now(), setTimeout: (fn, ms) => this.#setTimer(fn, ms), clearTimeout: (h) => host.clock.clearTimeout(h),
    }, (msg) => host.metrics.logSuppressed(msg));

    // [SPEC §8] every way into this connection goes through #guard.
    // The hot path: #guard's try/catch written out, so that a frame costs no closure. [SPEC §8]
    ws.on('message', (data, isBinary) => {
      try {
        this.#onMessage(data as Buffer, isBinary);
      } catch (err) {
        this.#internalError('frame', err);
      }
    });
    ws.on('pong', () => {
      this.lastSeenAt = this.#host.clock.now();
    });
    ws.on('error', (err: Error & { code?: string }) => this.#guard('socket', () => {
      this.#wsErrorReason = WS_ERROR_REASONS[err.code ?? ''];
      this.#budgets.line('debug', { cpId: this.cpId, err: err.message }, 'cp.socket_error');
    }));
    ws.on('close', (code) => this.#guard('close', () => {
      // After a bad frame (too large, not UTF-8) ws sends the CP the matching close code itself but
      // reports 1006 here, the CP's answer unread: the event names the code the CP got.
      const wsError = this.#wsErrorReason;
      this.#teardown(wsError ?? 'closed_by_cp', wsError === undefined ? code : (CLOSE_REASONS[wsError].code ?? code));
    }));
    this.#startKeepalive();
    if (info.expireAt !== undefined) this.#armExpiry(info.expireAt);
  }

  #expiry: unknown;

  /** A timer whose callback runs guarded: an exception in it closes this connection only. */
  #setTimer(fn: () => void, ms: number): unknown {
    return this.#host.clock.setTimeout(() => this.#guard('timer', fn), ms);
  }

  #armExpiry(at: number): void {
    // setTimeout holds at most ~24.8 days; longer waits re-arm.
    const delay = Math.min(Math.max(0, at - this.#host.clock.now()), 2 ** 31 - 1);
    this.#expiry = this.#setTimer(() => {
      if (this.#host.clock.now() >= at) this.close('expired');
      else this.#armExpiry(at);
    }, delay);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** A message a service published for this charge point. */
  fromService(message: ServiceMessage): void {
    // #guard written out (no closure per message). [SPEC §8]
    try {
      this.#run(this.channel.fromService(message, this.#host.clock.now()));
    } catch (err) {
      this.#internalError('service', err);
    }
  }

  /**
   * [SPEC §8] Crash isolation: the one place where work for this connection runs. An exception while
   * handling its input (a frame, a service message, a timer, a publish outcome) closes this connection
   * with 1011 internal_error, is counted and logged once, and goes no further: never the process.
   */
  #guard(entry: ConnectionEntry, work: () => void): void {
    try {
      work();
    } catch (err) {
      this.#internalError(entry, err);
    }
  }

  #internalError(entry: ConnectionEntry, err: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    // The last line of defence must not throw itself: the logger or the metrics may be what failed.
    try {
      this.#host.metrics.internalError(entry);
      const e = err instanceof Error ? err : new Error(String(err));
      this.#host.log.error({ cpId: this.cpId, entry, err: e.message, stack: e.stack }, 'cp.internal_error');
    } catch {
      // nothing more can be reported
    }
    try {
      this.close('internal_error');
    } catch {
      // ws refused to close (it is not open): make sure the socket goes.
      this.#ws.terminate();
    }
  }

  /**
   * Set when someone else now owns this charge point's presence (another gateway instance, or in
   * per_client mode the broker publishing the link's will): the teardown leaves presence alone.
   */
  presenceHandedOff = false;

  /** Closes from the gateway's side with the registry's code for `reason`. */
  close(reason: Exclude<CloseReason, 'closed_by_cp'>): void {
    if (this.#closed) return;
    const code = CLOSE_REASONS[reason].code;
    this.#ws.close(code, reason);
    const grace = this.#host.clock.setTimeout(() => this.#ws.terminate(), this.#limits.closeGraceMs);
    this.#ws.once('close', () => this.#host.clock.clearTimeout(grace));
    // Callers outside this connection (a replacement, a kick, a broker loss) must not inherit its failure.
    this.#guard('close', () => this.#teardown(reason, code));
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    if (this.#closed) return;
    // [SPEC §8] fairness: one charge point's burst is read a turn at a time, the others' frames in between.
    this.#budgets.frameRead();
    const now = this.#host.clock.now();
    this.lastSeenAt = now;
    this.counters.framesIn++;
    this.counters.bytesIn += data.length;
    this.#inBytes = data.length;
    if (this.#traceListeners !== undefined && this.#traceListeners.size > 0) this.#trace('in', isBinary ? `<binary ${data.length} bytes>` : data.toString('utf8'));
    this.#frameLog?.in(data, isBinary);
    if (isBinary) {
      this.#host.metrics.frame('in', 'binary', 'unknown', data.length);
      // [OCPP-J 1.6 §3] text frames only
      this.close('binary_frame');
      return;
    }
    const decoded = decodeFrame(data.toString('utf8'), PROTOCOLS[this.protocol], this.#maxJsonDepth);
    if (decoded.ok) this.facts = noteFacts(this.facts, decoded.frame, now);
    this.#run(decoded.ok ? this.channel.fromCp(decoded.frame, now) : this.channel.handle({ kind: 'cp_bad_frame', failure: decoded.failure }, now));
  }

  #run(actions: readonly ChannelAction[]): void {
    for (const action of actions) {
      switch (action.kind) {
        case 'send': this.#send(action.text, action.type, action.action); break;
        case 'frame_in': this.#host.metrics.frame('in', action.type, action.action, this.#inBytes); break;
        case 'round_trip': this.#host.metrics.roundTrip(action.direction, action.action, action.ms / 1000); break;
        case 'timeout': this.#host.metrics.timeout(action.direction); break;
        case 'counted': this.#host.metrics.counted(action.what); break;
        case 'publish': this.#publish(action); break;
        case 'rejected': this.#budgets.rejected(action.reason, action.detail, action.messageId, action.action); break;
        case 'close': this.close(action.reason); break;
        case 'arm': this.#arm(action.timer, action.at); break;
        case 'disarm': this.#disarm(action.timer); break;
        case 'heartbeat_interval': this.heartbeatInterval = action.seconds; break;
        case 'validation_failed': {
          const { kind: _kind, ...fields } = action;
          this.#host.metrics.validationFailure(action.direction, action.code);
          this.#budgets.line('info', { cpId: this.cpId, ...fields }, 'validation.failed');
          break;
        }
      }
    }
  }

  #send(text: string, type: MessageKind, action: string): void {
    if (this.#closed) return;
    if (this.#ws.bufferedAmount > this.#limits.maxOutboundBuffer) {
      this.close('slow_consumer');
      return;
    }
    const bytes = Buffer.byteLength(text);
    this.counters.framesOut++;
    this.counters.bytesOut += bytes;
    this.#host.metrics.frame('out', type, action, bytes);
    if (this.#traceListeners !== undefined && this.#traceListeners.size > 0) this.#trace('out', text);
    this.#frameLog?.out(text);
    this.#ws.send(text);
  }

  #trace(direction: 'in' | 'out', text: string): void {
    const event: TraceEvent = { direction, at: new Date(this.#host.clock.now()).toISOString(), text };
    for (const l of this.#traceListeners ?? []) l(event);
  }

  /** Called once when the connection is over. */
  onClosed(listener: () => void): void {
    if (this.#closed) listener();
    else (this.#closedListeners ??= new Set()).add(listener);
  }

  offClosed(listener: () => void): void {
    this.#closedListeners?.delete(listener);
  }

  /** Subscribes to the live frame trace; returns the unsubscribe function, or undefined when full. */
  addTraceListener(listener: (e: TraceEvent) => void): (() => void) | undefined {
    const listeners = (this.#traceListeners ??= new Set());
    if (listeners.size >= MAX_TRACE_LISTENERS) return undefined;
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  /**
   * A CALL from the HTTP API, through the same queue as MQTT CALLs. The promise settles with the CP's
   * answer or the gateway error about this CALL (queue_full, invalid_payload, timeout, disconnected).
   */
  callFromApi(action: string, messageId: string, payloadText: string): Promise<ApiCallOutcome> {
    const calls = (this.#apiCalls ??= new Map());
    const outcome = new Promise<ApiCallOutcome>((resolve) => calls.set(messageId, resolve));
    this.fromService({ type: 'request', action, messageId, payloadText });
    return outcome;
  }

  #publish(action: Extract<ChannelAction, { kind: 'publish' }>): void {
    if (this.#apiCalls !== undefined && this.#apiCalls.size > 0 && (action.type === 'response' || action.type === 'error')) {
      const settle = this.#apiCalls.get(action.messageId);
      if (settle !== undefined) {
        this.#apiCalls.delete(action.messageId);
        settle({ type: action.type, payloadText: action.payloadText, gatewayReason: action.gatewayReason });
      }
    }
    if (action.gatewayReason !== undefined) {
      this.#budgets.line('info', { cpId: this.cpId, messageId: action.messageId, action: action.action, reason: action.gatewayReason }, 'gateway.error');
    }
    this.#budgets.track(this.#host.publishUp(this, action.type, action.action, action.messageId, action.payloadText, action.gatewayReason), (err) => {
      this.#budgets.line('warn', { cpId: this.cpId, messageId: action.messageId, err: String(err) }, 'mqtt.publish_failed');
      if (action.tracksCall) this.#run(this.channel.handle({ kind: 'publish_failed', messageId: action.messageId }, this.#host.clock.now()));
    });
  }

  #arm(timer: TimerKey, at: number): void {
    this.#disarm(timer);
    const delay = Math.max(0, at - this.#host.clock.now());
    this.#timers.set(timer, this.#setTimer(() => {
      this.#timers.delete(timer);
      if (!this.#closed) this.#run(this.channel.handle({ kind: 'timer', timer }, this.#host.clock.now()));
    }, delay));
  }

  #disarm(timer: TimerKey): void {
    const handle = this.#timers.get(timer);
    if (handle === undefined) return;
    this.#host.clock.clearTimeout(handle);
    this.#timers.delete(timer);
  }

  /** Silence allowed before closing: keepalive_timeout, or 1.5 x the granted heartbeat interval if longer. */
  keepaliveTimeoutMs(): number {
    const base = this.#limits.keepaliveTimeoutMs;
    if (base === 0 || !this.#limits.keepaliveFollowHeartbeat || this.heartbeatInterval === undefined) return base;
    return Math.max(base, this.heartbeatInterval * 1500);
  }

  /** How often each connection is checked: the ping interval, or half the timeout if that is shorter. */
  #keepalivePeriod(): number {
    const { pingIntervalMs: ping, keepaliveTimeoutMs: timeout } = this.#limits;
    return ping > 0 ? (timeout > 0 ? Math.min(ping, timeout / 2) : ping) : timeout / 2;
  }

  /** [SPEC §3] Joins the gateway's one keepalive sweep (src/transport/keepalive.ts), not an interval of its own. */
  #startKeepalive(): void {
    if (this.#limits.pingIntervalMs === 0 && this.#limits.keepaliveTimeoutMs === 0) return;
    this.#keepalive = keepaliveSweep(this.#host.clock, this.#keepalivePeriod()).add(this);
  }

  /** Called by the sweep once per period: closes a connection silent too long, else pings when due. */
  keepaliveCheck(now: number): void {
    this.#guard('timer', () => {
      if (this.#closed) return;
      const allowed = this.keepaliveTimeoutMs();
      if (allowed > 0 && now - this.lastSeenAt >= allowed) {
        this.close('keepalive_timeout');
        return;
      }
      const ping = this.#limits.pingIntervalMs;
      if (ping > 0 && now - this.#lastPingAt >= ping) {
        this.#lastPingAt = now;
        this.#ws.ping();
      }
    });
  }

  #teardown(reason: CloseReason, code: number): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#keepalive !== undefined) keepaliveSweep(this.#host.clock, this.#keepalivePeriod()).remove(this.#keepalive, this);
    this.#keepalive = undefined;
    if (this.#expiry !== undefined) this.#host.clock.clearTimeout(this.#expiry);
    for (const handle of this.#timers.values()) this.#host.clock.clearTimeout(handle);
    this.#timers.clear();
    try {
      this.#budgets.flush();
      this.#frameLog?.flush();
      this.#run(this.channel.handle({ kind: 'disconnected' }, this.#host.clock.now()));
    } finally {
      // Even when the above threw (crash isolation reports it), the gateway lets go of this connection.
      this.#host.onTeardown(this, reason, code);
      const listeners = this.#closedListeners;
      this.#closedListeners = undefined;
      for (const l of [...(listeners ?? [])]) l();
    }
  }
}
