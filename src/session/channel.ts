// The channel: one charge point's OCPP-J state machine, pure. It takes inputs (frames from the CP,
// messages from the service, timer expiries) with the current time and returns actions for the
// connection to carry out. No sockets, no broker, no clock of its own. [SPEC §5]
import { DEFAULT_MAX_JSON_DEPTH, encodeCall, encodeCallError, encodeCallResult, exceedsJsonDepth, type CallErrorFrame, type CallResultFrame, type DecodeFailure, type Frame } from '../ocpp/codec.js';
import { CALL, CALLRESULTERROR, MAX_MESSAGE_ID_LENGTH, SEND, type MessageTypeId, type ProtocolProfile } from '../ocpp/protocols.js';
import { cutText } from '../ocpp/quote.js';
import { RecentAnswers } from './recent-answers.js';
import { SmallMap } from './small-map.js';
import type { GatewayErrorReason, RejectedReason } from '../errors.js';
import type { Direction, PayloadChecker } from '../validation/checks.js';
import type { SchemaKind } from '../validation/schema-source.js';

/** The {type} level of a topic. [SPEC §4] */
export type MessageKind = 'request' | 'response' | 'error' | 'send' | 'resulterror';

export interface ChannelOptions {
  readonly spec: ProtocolProfile;
  readonly awaitingTimeoutMs: number;
  readonly onUpstreamTimeout: 'error' | 'silent';
  readonly concurrentCalls: 'forward' | 'reject';
  readonly maxPendingUpstream: number;
  readonly maxQueueLength: number;
  readonly retryIntervalMs: number;
  readonly maxRetries: number;
  readonly maxBadMessages: number;
  readonly badMessagesWindowMs: number;
  /** Schema checks for this connection; undefined = none. [SPEC §6] */
  readonly checker: PayloadChecker | undefined;
  /** ocpp.max_json_depth, also applied to service payloads before they are parsed. */
  readonly maxJsonDepth?: number;
}

/** A payload that failed its schema, in the terms the outside world sees. */
export interface PayloadProblem {
  readonly code: string;
  readonly keyword: string;
  readonly path: string;
  readonly reason: string;
}

/** A message a service published on a dn topic. */
export interface ServiceMessage {
  readonly type: MessageKind;
  readonly action: string;
  readonly messageId: string;
  /** The MQTT payload as text. */
  readonly payloadText: string;
}

export type TimerKey = `up:${string}` | 'dn';

export type ChannelInput =
  | { readonly kind: 'cp_frame'; readonly frame: Frame }
  | { readonly kind: 'cp_bad_frame'; readonly failure: DecodeFailure }
  | { readonly kind: 'service'; readonly message: ServiceMessage }
  | { readonly kind: 'timer'; readonly timer: TimerKey }
  /** The publish of the CP's CALL with this id failed (broker unavailable). */
  | { readonly kind: 'publish_failed'; readonly messageId: string }
  | { readonly kind: 'disconnected' };

export type ChannelAction =
  | { readonly kind: 'send'; readonly text: string; readonly type: MessageKind; readonly action: string }
  /** For counters: a frame from the CP, with the action it concerns ("unknown" when none). */
  | { readonly kind: 'frame_in'; readonly type: MessageKind | 'malformed'; readonly action: string }
  | { readonly kind: 'round_trip'; readonly direction: Direction; readonly action: string; readonly ms: number }
  | { readonly kind: 'timeout'; readonly direction: Direction }
  /** For counters: a second CP CALL forwarded while one was pending; a downstream CALL re-sent. */
  | { readonly kind: 'counted'; readonly what: 'concurrent_forwarded' | 'retransmission' }
  | {
      readonly kind: 'publish';
      readonly type: MessageKind;
      readonly action: string;
      readonly messageId: string;
      readonly payloadText: string;
      /** Set on the publish of a CP CALL: its failure must come back as publish_failed. */
      readonly tracksCall?: true;
      /** Set on gateway-originated errors. */
      readonly gatewayReason?: GatewayErrorReason;
    }
  | { readonly kind: 'rejected'; readonly reason: RejectedReason; readonly detail: string; readonly messageId?: string; readonly action?: string }
  | { readonly kind: 'close'; readonly reason: 'too_many_bad_messages' }
  | { readonly kind: 'arm'; readonly timer: TimerKey; readonly at: number }
  | { readonly kind: 'disarm'; readonly timer: TimerKey }
  /** An accepted BootNotification set the heartbeat interval (seconds). */
  | { readonly kind: 'heartbeat_interval'; readonly seconds: number }
  /** For logs and counters: a payload failed validation (forwarded anyway in log_only mode). */
  | ({ readonly kind: 'validation_failed'; readonly direction: Direction; readonly action: string; readonly messageId: string; readonly forwarded: boolean } & PayloadProblem);

interface PendingUpstream { readonly action: string; readonly payloadText: string; readonly receivedAt: number }
interface DownstreamCall { readonly messageId: string; readonly action: string; readonly text: string }
interface InFlight extends DownstreamCall { attempts: number; readonly sentAt: number }

const KIND_OF_TYPE: Record<Frame['type'], MessageKind> = { 2: 'request', 3: 'response', 4: 'error', 5: 'resulterror', 6: 'send' };

/** Ids of the last CALLRESULTs sent to the CP, so a 2.1 CALLRESULTERROR can name the action (one each). */
const RECENT_ANSWERS = 16;

export class Channel {
  readonly #o: ChannelOptions;
  /** Pending CALLs from the CP: usually none or one (no Map then). */
  readonly #upstream = new SmallMap<PendingUpstream>();
  /** 2.1 only (the versions with CALLRESULTERROR), made on the first answer. */
  #recentAnswers: RecentAnswers | undefined;
  readonly #queue: DownstreamCall[] = [];
  #inFlight: InFlight | null = null;
  #badCount = 0;
  #badWindowStart = 0;
  #closed = false;

  constructor(options: ChannelOptions) {
    this.#o = options;
  }

  get pendingUpstream(): number { return this.#upstream.size; }
  get inFlightDownstream(): number { return this.#inFlight === null ? 0 : 1; }
  get queueLength(): number { return this.#queue.length; }

  /** A decoded frame from the CP: handle({ kind: 'cp_frame', frame }) without the input object (every frame comes here). */
  fromCp(frame: Frame, now: number): ChannelAction[] {
    const out: ChannelAction[] = [];
    this.#onCpFrame(frame, now, out);
    return out;
  }

  /** A service message: handle({ kind: 'service', message }) without the input object. */
  fromService(message: ServiceMessage, now: number): ChannelAction[] {
    const out: ChannelAction[] = [];
    this.#onService(message, now, out);
    return out;
  }

  handle(input: ChannelInput, now: number): ChannelAction[] {
    const out: ChannelAction[] = [];
    switch (input.kind) {
      case 'cp_frame': this.#onCpFrame(input.frame, now, out); break;
      case 'cp_bad_frame': this.#onBadFrame(input.failure, now, out); break;
      case 'service': this.#onService(input.message, now, out); break;
      case 'timer': this.#onTimer(input.timer, now, out); break;
      case 'publish_failed': this.#onPublishFailed(input.messageId, out); break;
      case 'disconnected': this.#onDisconnected(out); break;
    }
    return out;
  }

  // ---- from the charge point ------------------------------------------------------------------

  #onCpFrame(frame: Frame, now: number, out: ChannelAction[]): void {
    out.push({ kind: 'frame_in', type: KIND_OF_TYPE[frame.type], action: this.#actionOf(frame) });
    switch (frame.type) {
      case 2: return this.#onCpCall(frame.messageId, frame.action, frame.payload, frame.payloadText, now, out);
      case 3:
      case 4: return this.#onCpAnswer(frame, now, out);
      case 5: {
        // [OCPP-J 2.1 §4.2.4] the CP refused one of our recent CALLRESULTs: pass it on. One that refuses
        // nothing we sent is unanswerable, like a CALLRESULT for no pending CALL. [SPEC §6]
        const action = this.#recentAnswers?.actionOf(frame.messageId);
        if (action === undefined) return this.#unanswerable(frame, now, out);
        // A CALLRESULT is refused once: a repeat refuses nothing we sent (not published again, counted).
        this.#recentAnswers?.forget(frame.messageId);
        out.push({ kind: 'publish', type: 'resulterror', action, messageId: frame.messageId, payloadText: errorPayload(frame.errorCode, frame.errorDescription, frame.errorDetailsText) });
        return;
      }
      case 6: {
        // [OCPP-J 2.1 §4.2.5] SEND: unconfirmed, nothing pending, never answered. [SPEC §4] It is validated
        // like a CALL; one that fails is not published, only reported.
        const problem = this.#check('upstream', frame.action, 'req', frame.payload, frame.messageId, out);
        if (problem !== undefined) {
          out.push({ kind: 'rejected', reason: 'validation_failed', messageId: frame.messageId, action: frame.action, detail: `${problem.code}: ${describeProblem(problem)} (SEND, not answered)` });
          return;
        }
        out.push({ kind: 'publish', type: 'send', action: frame.action, messageId: frame.messageId, payloadText: frame.payloadText });
        return;
      }
    }
  }

  /** The action a frame from the CP concerns, for counters. */
  #actionOf(frame: Frame): string {
    if (frame.type === 2 || frame.type === 6) return frame.action;
    if (frame.type === 5) return this.#recentAnswers?.actionOf(frame.messageId) ?? 'unknown';
    return this.#inFlight?.messageId === frame.messageId ? this.#inFlight.action : 'unknown';
  }

  #onCpCall(messageId: string, action: string, payload: object, payloadText: string, now: number, out: ChannelAction[]): void {
    const codes = this.#o.spec.codes;
    const problem = this.#check('upstream', action, 'req', payload, messageId, out);
    if (problem !== undefined) {
      // [SPEC §6] invalid CALL: CALLERROR with the version's code, not published.
      out.push({ kind: 'send', type: 'error', action, text: this.#ownError(messageId, problem.code, describeProblem(problem), { keyword: problem.keyword, path: problem.path }) });
      out.push({ kind: 'rejected', reason: 'validation_failed', messageId, action, detail: `${problem.code}: ${describeProblem(problem)}` });
      return;
    }
    const existing = this.#upstream.get(messageId);
    if (existing !== undefined) {
      if (existing.action === action && existing.payloadText === payloadText) {
        // [SPEC §5] an identical retransmission of the pending CALL is not published twice, nor answered.
        out.push({ kind: 'rejected', reason: 'duplicate_call', messageId, action, detail: 'retransmission of the pending CALL' });
        return;
      }
      // [SPEC §6] [OCPP-J 2.0.1 §4.1.4] a messageId must not be reused for another CALL while the first is
      // unanswered: CALLERROR; the first CALL stays pending.
      const detail = `messageId of the pending ${existing.action} CALL reused for another CALL`;
      out.push({ kind: 'send', type: 'error', action, text: this.#ownError(messageId, codes.rpcFramework, detail, {}) });
      out.push({ kind: 'rejected', reason: 'duplicate_call', messageId, action, detail });
      return;
    }
    if (this.#upstream.size > 0 && (this.#o.concurrentCalls === 'reject' || this.#upstream.size >= this.#o.maxPendingUpstream)) {
      const detail = this.#o.concurrentCalls === 'reject' ? 'another CALL from this charge point is still awaiting its answer' : `more than ${this.#o.maxPendingUpstream} CALLs awaiting answers`;
      out.push({ kind: 'send', type: 'error', action, text: this.#ownError(messageId, codes.genericError, detail, {}) });
      out.push({ kind: 'rejected', reason: 'concurrent_call', messageId, action, detail });
      return;
    }
    if (this.#upstream.size > 0) out.push({ kind: 'counted', what: 'concurrent_forwarded' });
    this.#upstream.set(messageId, { action, payloadText, receivedAt: now });
    out.push({ kind: 'arm', timer: `up:${messageId}`, at: now + this.#o.awaitingTimeoutMs });
    out.push({ kind: 'publish', type: 'request', action, messageId, payloadText, tracksCall: true });
  }

  #onCpAnswer(frame: CallResultFrame | CallErrorFrame, now: number, out: ChannelAction[]): void {
    const inFlight = this.#inFlight;
    if (inFlight === null || inFlight.messageId !== frame.messageId) return this.#unanswerable(frame, now, out);
    this.#inFlight = null;
    out.push({ kind: 'disarm', timer: 'dn' });
    out.push({ kind: 'round_trip', direction: 'dnstream', action: inFlight.action, ms: now - inFlight.sentAt });
    const resultPayload = frame.type === 3 ? frame.payload : undefined;
    const problem = resultPayload === undefined ? undefined : this.#check('upstream', inFlight.action, 'conf', resultPayload, frame.messageId, out);
    if (problem !== undefined) {
      // [OCPP-J 2.1 §4.2.4] where the version has CALLRESULTERROR, the CP is told its CALLRESULT was refused.
      if (this.#o.spec.rules.invalidCallResult === 'callresulterror') {
        out.push({ kind: 'send', type: 'resulterror', action: inFlight.action, text: this.#ownError(frame.messageId, problem.code, describeProblem(problem), detailsOf(problem), 5) });
      }
      // [SPEC §6] an invalid CALLRESULT is not passed on as valid: the service gets an error that carries it.
      // The CP's payload goes in as the text it sent (bounded by ocpp.max_json_depth), not re-serialised.
      this.#gatewayError(out, inFlight, 'invalid_response', `the charge point's CALLRESULT is invalid: ${describeProblem(problem)}`, problem.code, detailsOf(problem), frame.type === 3 ? frame.payloadText : undefined);
      this.#sendNext(now, out);
      return;
    }
    out.push(
      frame.type === 3
        ? { kind: 'publish', type: 'response', action: inFlight.action, messageId: frame.messageId, payloadText: frame.payloadText }
        : { kind: 'publish', type: 'error', action: inFlight.action, messageId: frame.messageId, payloadText: errorPayload(frame.errorCode, frame.errorDescription, frame.errorDetailsText) },
    );
    this.#sendNext(now, out);
  }

  #onBadFrame(failure: DecodeFailure, now: number, out: ChannelAction[]): void {
    out.push({ kind: 'frame_in', type: 'malformed', action: 'unknown' });
    const answer = this.#answerToBadFrame(failure);
    if (answer !== undefined) {
      // [SPEC §6] the messageId when it can be read (also when it is too long), "-1" otherwise.
      out.push({ kind: 'send', type: 'error', action: 'unknown', text: this.#ownError(failure.messageId ?? '-1', answer, failure.detail, {}) });
    }
    // [SPEC §8] the answer echoes a too-long messageId whole (the CP must match it); the reports quote
    // its start, or one 200 KiB id would be logged and published again with every bad frame.
    const id = failure.messageId;
    const quoted = id === undefined ? undefined : cutText(id, MAX_MESSAGE_ID_LENGTH + 1);
    const detail = (answer === undefined ? `${failure.detail} (not answered)` : failure.detail) + (id !== undefined && quoted !== id ? `; messageId of ${id.length} characters, quoted cut` : '');
    out.push({ kind: 'rejected', reason: 'malformed_frame', detail, ...(quoted !== undefined ? { messageId: quoted } : {}) });
    this.#countBad(now, out);
  }

  /** The errorCode a malformed frame is answered with, or undefined when the version says to stay silent. */
  #answerToBadFrame(failure: DecodeFailure): string | undefined {
    const { codes, rules, messageTypes } = this.#o.spec;
    const type = failure.messageTypeId;
    if (failure.problem === 'unknown_message_type' || (type !== undefined && !messageTypes.has(type as MessageTypeId))) {
      // [OCPP-J 1.6 §4.1.3] [OCPP-J 2.1 §4.4] ignored; [OCPP-J 2.0.1 §4.1.3] answered MessageTypeNotSupported
      return rules.unknownMessageType === 'answer' ? codes.messageTypeNotSupported : undefined;
    }
    // [OCPP-J 1.6 §4.2.3] never answer a CALLRESULT or CALLERROR (or 2.1 CALLRESULTERROR) with a CALLERROR;
    // [OCPP-J 2.1 §4.2.5] a SEND is never answered, not even when malformed.
    if (type !== undefined && type !== CALL && messageTypes.has(type as MessageTypeId)) return undefined;
    return codes.rpcFramework;
  }

  /** A CALLRESULT/CALLERROR/CALLRESULTERROR that answers nothing pending: dropped, reported, counted. */
  #unanswerable(frame: CallResultFrame | CallErrorFrame, now: number, out: ChannelAction[]): void {
    const what = frame.type === 3 ? 'CALLRESULT' : frame.type === 4 ? 'CALLERROR' : 'CALLRESULTERROR';
    out.push({ kind: 'rejected', reason: 'unknown_message_id', messageId: frame.messageId, detail: `${what} for no pending CALL` });
    this.#countBad(now, out);
  }

  /** [SPEC §6] every bad frame counts, unanswerable ones included; max_bad_messages in the window closes. */
  #countBad(now: number, out: ChannelAction[]): void {
    if (this.#o.maxBadMessages === 0) return;
    if (now - this.#badWindowStart >= this.#o.badMessagesWindowMs) {
      this.#badWindowStart = now;
      this.#badCount = 0;
    }
    if (++this.#badCount >= this.#o.maxBadMessages) out.push({ kind: 'close', reason: 'too_many_bad_messages' });
  }

  // ---- from the service -----------------------------------------------------------------------

  #onService(msg: ServiceMessage, now: number, out: ChannelAction[]): void {
    if (msg.messageId.length === 0 || msg.messageId.length > MAX_MESSAGE_ID_LENGTH) {
      return this.#gatewayError(out, msg, 'invalid_message_id', `messageId must be 1 to ${MAX_MESSAGE_ID_LENGTH} characters`);
    }
    if (this.#closed) return this.#gatewayError(out, msg, 'not_connected', 'the charge point is not connected');
    const spec = this.#o.spec;
    if ((msg.type === 'send' && !spec.messageTypes.has(SEND)) || (msg.type === 'resulterror' && !spec.messageTypes.has(CALLRESULTERROR))) {
      return this.#gatewayError(out, msg, 'unsupported_type', `${msg.type} is not part of ${spec.name}`);
    }
    switch (msg.type) {
      case 'request':
      case 'send': {
        const payload = this.#parseObject(msg.payloadText);
        if (typeof payload === 'string') return this.#gatewayError(out, msg, 'invalid_payload', payload, spec.codes.formation);
        const problem = this.#check('dnstream', msg.action, 'req', payload, msg.messageId, out);
        if (problem !== undefined) return this.#gatewayError(out, msg, 'invalid_payload', describeProblem(problem), problem.code, detailsOf(problem));
        if (msg.type === 'send') {
          out.push({ kind: 'send', type: 'send', action: msg.action, text: encodeCall(msg.messageId, msg.action, msg.payloadText.trim(), 6) });
          return;
        }
        return this.#enqueue({ messageId: msg.messageId, action: msg.action, text: encodeCall(msg.messageId, msg.action, msg.payloadText.trim()) }, msg, now, out);
      }
      case 'response': {
        const pending = this.#upstream.get(msg.messageId);
        if (pending === undefined) return this.#gatewayError(out, msg, 'unknown_message_id', 'no CALL from the charge point is awaiting an answer with this messageId');
        const payload = this.#parseObject(msg.payloadText);
        if (typeof payload === 'string') return this.#gatewayError(out, { ...msg, action: pending.action }, 'invalid_payload', payload, spec.codes.formation);
        const problem = this.#check('dnstream', pending.action, 'conf', payload, msg.messageId, out);
        // The CALL stays pending: the service may still send a valid answer.
        if (problem !== undefined) return this.#gatewayError(out, { ...msg, action: pending.action }, 'invalid_payload', describeProblem(problem), problem.code, detailsOf(problem));
        this.#answered(msg.messageId, pending, now, out);
        this.#rememberAnswer(msg.messageId, pending.action);
        out.push({ kind: 'send', type: 'response', action: pending.action, text: encodeCallResult(msg.messageId, msg.payloadText.trim()) });
        const interval = bootInterval(pending.action, payload);
        if (interval !== undefined) out.push({ kind: 'heartbeat_interval', seconds: interval });
        return;
      }
      case 'error':
      case 'resulterror': {
        // A CALLERROR answers the CP's pending CALL; a CALLRESULTERROR refuses the CP's answer to one of
        // the service's CALLs, which the CP's pending CALLs (same id or not) have nothing to do with.
        const pending = msg.type === 'error' ? this.#upstream.get(msg.messageId) : undefined;
        if (msg.type === 'error' && pending === undefined) return this.#gatewayError(out, msg, 'unknown_message_id', 'no CALL from the charge point is awaiting an answer with this messageId');
        const parsed = this.#parseObject(msg.payloadText);
        const err = typeof parsed === 'string' ? `error ${parsed}` : errorFields(parsed, spec);
        if (typeof err === 'string') return this.#gatewayError(out, pending ? { ...msg, action: pending.action } : msg, 'invalid_payload', err, spec.codes.formation);
        if (pending !== undefined && msg.type === 'error') this.#answered(msg.messageId, pending, now, out);
        out.push({ kind: 'send', type: msg.type, action: pending?.action ?? msg.action, text: encodeCallError(msg.messageId, err.errorCode, err.errorDescription, err.errorDetails, msg.type === 'error' ? 4 : 5) });
        return;
      }
    }
  }

  #answered(messageId: string, pending: PendingUpstream, now: number, out: ChannelAction[]): void {
    this.#upstream.delete(messageId);
    out.push({ kind: 'disarm', timer: `up:${messageId}` });
    out.push({ kind: 'round_trip', direction: 'upstream', action: pending.action, ms: now - pending.receivedAt });
  }

  /** A CALLRESULT sent to the CP, which a 2.1 CP may refuse with a CALLRESULTERROR. [OCPP-J 2.1 §4.2.4] */
  #rememberAnswer(messageId: string, action: string): void {
    if (!this.#o.spec.messageTypes.has(CALLRESULTERROR)) return;
    (this.#recentAnswers ??= new RecentAnswers(RECENT_ANSWERS)).remember(messageId, action);
  }

  #enqueue(call: DownstreamCall, msg: ServiceMessage, now: number, out: ChannelAction[]): void {
    if (this.#inFlight?.messageId === call.messageId || this.#queue.some((q) => q.messageId === call.messageId)) {
      return this.#gatewayError(out, msg, 'duplicate_message_id', 'a CALL with this messageId is already queued or in flight');
    }
    if (this.#inFlight === null) {
      this.#transmit(call, now, out);
      return;
    }
    if (this.#queue.length >= this.#o.maxQueueLength) {
      return this.#gatewayError(out, msg, 'queue_full', `${this.#queue.length} CALLs already wait behind the one in flight`);
    }
    this.#queue.push(call);
  }

  #transmit(call: DownstreamCall, now: number, out: ChannelAction[]): void {
    this.#inFlight = { ...call, attempts: 1, sentAt: now };
    out.push({ kind: 'send', type: 'request', action: call.action, text: call.text });
    out.push({ kind: 'arm', timer: 'dn', at: now + this.#o.retryIntervalMs });
  }

  #sendNext(now: number, out: ChannelAction[]): void {
    const next = this.#queue.shift();
    if (next !== undefined) this.#transmit(next, now, out);
  }

  // ---- timers, failures, the end ----------------------------------------------------------------

  #onTimer(timer: TimerKey, now: number, out: ChannelAction[]): void {
    if (timer === 'dn') {
      const inFlight = this.#inFlight;
      if (inFlight === null) return;
      if (inFlight.attempts <= this.#o.maxRetries) {
        // [SPEC §5] re-send the same frame on the same connection.
        inFlight.attempts++;
        out.push({ kind: 'counted', what: 'retransmission' });
        out.push({ kind: 'send', type: 'request', action: inFlight.action, text: inFlight.text });
        out.push({ kind: 'arm', timer: 'dn', at: now + this.#o.retryIntervalMs });
        return;
      }
      this.#inFlight = null;
      out.push({ kind: 'timeout', direction: 'dnstream' });
      this.#gatewayError(out, inFlight, 'timeout', `no answer from the charge point after ${inFlight.attempts} attempt(s) of ${this.#o.retryIntervalMs} ms`);
      this.#sendNext(now, out);
      return;
    }
    const messageId = timer.slice(3);
    const pending = this.#upstream.get(messageId);
    if (pending === undefined) return;
    this.#upstream.delete(messageId);
    out.push({ kind: 'timeout', direction: 'upstream' });
    const detail = `no answer from the service within ${this.#o.awaitingTimeoutMs} ms`;
    if (this.#o.onUpstreamTimeout === 'error') {
      out.push({ kind: 'send', type: 'error', action: pending.action, text: this.#ownError(messageId, this.#o.spec.codes.internalError, detail, {}) });
    }
    this.#gatewayError(out, { messageId, action: pending.action }, 'timeout', detail);
  }

  #onPublishFailed(messageId: string, out: ChannelAction[]): void {
    const pending = this.#upstream.get(messageId);
    if (pending === undefined) return;
    this.#upstream.delete(messageId);
    out.push({ kind: 'disarm', timer: `up:${messageId}` });
    // [SPEC §5] never acknowledge what was not delivered.
    out.push({ kind: 'send', type: 'error', action: pending.action, text: this.#ownError(messageId, this.#o.spec.codes.internalError, 'the central system is unreachable', { gateway: { reason: 'broker_unavailable' } }) });
  }

  #onDisconnected(out: ChannelAction[]): void {
    if (this.#closed) return;
    this.#closed = true;
    const orphans = this.#inFlight === null ? this.#queue : [this.#inFlight, ...this.#queue];
    for (const call of orphans) this.#gatewayError(out, call, 'disconnected', 'the charge point disconnected before answering');
    if (this.#inFlight !== null) out.push({ kind: 'disarm', timer: 'dn' });
    this.#inFlight = null;
    this.#queue.length = 0;
    for (const id of this.#upstream.keys()) out.push({ kind: 'disarm', timer: `up:${id}` });
    this.#upstream.clear();
  }

  /** A CALLERROR (or CALLRESULTERROR) the gateway itself sends, its description within the version's bound. */
  #ownError(messageId: string, errorCode: string, description: string, details: object, type: 4 | 5 = 4): string {
    const max = this.#o.spec.rules.maxErrorDescriptionLength;
    return encodeCallError(messageId, errorCode, max === undefined ? description : cutText(description, max), details, type);
  }

  /** `cpPayloadText`: a CP payload to carry as errorDetails.gateway.payload, spliced in as sent. */
  #gatewayError(out: ChannelAction[], about: { messageId: string; action: string }, reason: GatewayErrorReason, description: string, errorCode = this.#o.spec.codes.genericError, extra: Record<string, unknown> = {}, cpPayloadText?: string): void {
    const gateway = JSON.stringify({ ...extra, reason });
    const details = cpPayloadText === undefined ? `{"gateway":${gateway}}` : `{"gateway":${gateway.slice(0, -1)},"payload":${cpPayloadText}}}`;
    out.push({
      kind: 'publish',
      type: 'error',
      action: about.action,
      messageId: about.messageId,
      payloadText: errorPayload(errorCode, description, details),
      gatewayReason: reason,
    });
  }

  /** A service's JSON object, or why it is not one. Nesting is bounded before parsing. */
  #parseObject(text: string): Record<string, unknown> | string {
    const maxDepth = this.#o.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;
    // The payload sits inside the frame's array: one level less than the frame allows.
    if (exceedsJsonDepth(text, maxDepth - 1)) return `payload nested deeper than ${maxDepth - 1} levels (ocpp.max_json_depth)`;
    return parseObject(text) ?? 'payload must be a JSON object';
  }

  /**
   * Validates a payload if this connection checks that direction. Returns the problem when the message
   * must be refused; in log_only mode, or for a response whose action has no schema, returns undefined.
   */
  #check(direction: Direction, action: string, kind: SchemaKind, payload: unknown, messageId: string, out: ChannelAction[]): PayloadProblem | undefined {
    const checker = this.#o.checker;
    const result = checker?.check(direction, action, kind, payload);
    if (result === undefined || result.ok) return undefined;
    let problem: PayloadProblem;
    if ('unknownAction' in result) {
      // A response to a CALL that was let through unchecked cannot be judged by its action.
      if (kind === 'conf') return undefined;
      problem = { code: this.#o.spec.codes.notImplemented, keyword: 'action', path: '', reason: `unknown action "${action}"` };
    } else problem = result.failure;
    const forwarded = checker?.logOnly === true;
    out.push({ kind: 'validation_failed', direction, action, messageId, forwarded, ...problem });
    return forwarded ? undefined : problem;
  }
}

function describeProblem(p: PayloadProblem): string {
  return p.path === '' ? p.reason : `${p.path}: ${p.reason}`;
}

function detailsOf(p: PayloadProblem): Record<string, unknown> {
  return { keyword: p.keyword, path: p.path, detail: p.reason };
}

/** The error payload of the topic layout; errorDetailsText is JSON text, passed on as it is. [SPEC §4] */
function errorPayload(errorCode: string, errorDescription: string, errorDetailsText: string): string {
  return `{"errorCode":${JSON.stringify(errorCode)},"errorDescription":${JSON.stringify(errorDescription)},"errorDetails":${errorDetailsText}}`;
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The fields of a service's error payload, or why they cannot go to the CP: the errorCode must be one
 * of the version's table and the description within its bound. [SPEC §4] [OCPP-J 1.6 §4.2.3]
 * [OCPP-J 2.0.1 §4.2.3] [OCPP-J 2.1 §4.2.3]
 */
function errorFields(v: Record<string, unknown>, spec: ProtocolProfile): { errorCode: string; errorDescription: string; errorDetails: object } | string {
  const { errorCode, errorDescription = '', errorDetails = {} } = v;
  if (typeof errorCode !== 'string' || errorCode === '') return 'errorCode must be a non-empty string';
  if (!spec.errorCodes.has(errorCode)) return `errorCode ${JSON.stringify(errorCode.slice(0, 64))} is not an error code of ${spec.name} (${[...spec.errorCodes].join(', ')})`;
  if (typeof errorDescription !== 'string') return 'errorDescription must be a string';
  const max = spec.rules.maxErrorDescriptionLength;
  if (max !== undefined && errorDescription.length > max) return `errorDescription is longer than ${max} characters (${spec.name})`;
  if (typeof errorDetails !== 'object' || errorDetails === null || Array.isArray(errorDetails)) return 'errorDetails must be a JSON object';
  return { errorCode, errorDescription, errorDetails };
}

/** The heartbeat interval an accepted BootNotification grants. [OCPP 1.6 §6.3] [OCPP 2.0.1 B01] */
function bootInterval(action: string, payload: Record<string, unknown>): number | undefined {
  if (action !== 'BootNotification' || payload['status'] !== 'Accepted') return undefined;
  const interval = payload['interval'];
  return typeof interval === 'number' && interval > 0 ? interval : undefined;
}
