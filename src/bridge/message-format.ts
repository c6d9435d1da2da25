// How OCPP messages look on MQTT: where the type, action and messageId travel (topic levels, or an
// envelope in the payload) — the default layout of SPEC §4, or the EMQX 5 OCPP gateway's. [SPEC §4]
import type { MessageKind, ServiceMessage } from '../session/channel.js';
import { encodeLevel, decodeLevel, type TopicLayout } from './topics.js';
import { DEFAULT_MAX_JSON_DEPTH, exceedsJsonDepth } from '../ocpp/codec.js';

export type ParsedDownstream =
  | { readonly cpId: string; readonly message: ServiceMessage }
  /** Addressed to a charge point but unreadable; reported with whatever could be read. */
  | { readonly cpId: string; readonly invalid: string; readonly messageId?: string; readonly action?: string };

export interface MessageFormat {
  up(cpId: string, type: MessageKind, action: string, messageId: string, protocol: string, payloadText: string): { topic: string; payload: string };
  dnFilter(cpId: string): string;
  /** One filter that matches every charge point's downstream topics (the embedded broker's single subscription). */
  dnWildcard(): string;
  /** undefined: not a downstream topic of this format. */
  parseDn(topic: string, payload: Buffer): ParsedDownstream | undefined;
}

/** The default layout: type, action and messageId are topic levels; the payload is the OCPP payload. */
export class TopicFormat implements MessageFormat {
  constructor(private readonly layout: TopicLayout) {}

  up(cpId: string, type: MessageKind, action: string, messageId: string, protocol: string, payloadText: string) {
    return { topic: this.layout.up(cpId, type, action, messageId, protocol), payload: payloadText };
  }

  dnFilter(cpId: string): string {
    return this.layout.dnFilter(cpId);
  }

  dnWildcard(): string {
    return this.layout.dnWildcard();
  }

  parseDn(topic: string, payload: Buffer): ParsedDownstream | undefined {
    const dn = this.layout.parseDn(topic);
    if (dn === undefined) return undefined;
    return { cpId: dn.cpId, message: { type: dn.type, action: dn.action, messageId: dn.messageId, payloadText: payload.toString('utf8') } };
  }
}

const TYPE_IDS: Record<MessageKind, number> = { request: 2, response: 3, error: 4, resulterror: 5, send: 6 };
const KINDS: Record<number, MessageKind> = { 2: 'request', 3: 'response', 4: 'error', 5: 'resulterror', 6: 'send' };

/**
 * The EMQX 5 OCPP gateway's layout: CALLs from the charge point on cp/{cpId}, its replies on
 * cp/{cpId}/Reply, everything to it on cs/{cpId}; JSON envelopes {MessageTypeId, UniqueId, Action,
 * Payload} or {…, ErrorCode, ErrorDescription, ErrorDetails}. Gateway errors are CALLERROR envelopes
 * on the reply topic with ErrorDetails.gateway.
 */
export class Emqx5Format implements MessageFormat {
  /** `maxJsonDepth`: ocpp.max_json_depth; the envelope adds one level around the payload. */
  constructor(private readonly mountpoint: string, private readonly maxJsonDepth = DEFAULT_MAX_JSON_DEPTH) {}

  up(cpId: string, type: MessageKind, action: string, messageId: string, _protocol: string, payloadText: string) {
    const base = `${this.mountpoint}cp/${encodeLevel(cpId)}`;
    const topic = type === 'request' || type === 'send' ? base : `${base}/Reply`;
    const head = `{"MessageTypeId":${TYPE_IDS[type]},"UniqueId":${JSON.stringify(messageId)},"Action":${JSON.stringify(action)}`;
    if (type === 'error' || type === 'resulterror') {
      const e = JSON.parse(payloadText) as { errorCode: string; errorDescription: string; errorDetails: unknown };
      return { topic, payload: `${head},"ErrorCode":${JSON.stringify(e.errorCode)},"ErrorDescription":${JSON.stringify(e.errorDescription)},"ErrorDetails":${JSON.stringify(e.errorDetails)}}` };
    }
    return { topic, payload: `${head},"Payload":${payloadText}}` };
  }

  dnFilter(cpId: string): string {
    return `${this.mountpoint}cs/${encodeLevel(cpId)}`;
  }

  dnWildcard(): string {
    return `${this.mountpoint}cs/+`;
  }

  parseDn(topic: string, payload: Buffer): ParsedDownstream | undefined {
    const prefix = `${this.mountpoint}cs/`;
    if (!topic.startsWith(prefix) || topic.indexOf('/', prefix.length) !== -1) return undefined;
    const cpId = decodeLevel(topic.slice(prefix.length));
    if (cpId === undefined) return undefined;
    let e: Record<string, unknown>;
    const text = payload.toString('utf8');
    // [SPEC §6] nesting bounded before parsing, as for charge point frames: the envelope is re-serialised below.
    if (exceedsJsonDepth(text, this.maxJsonDepth + 1)) return { cpId, invalid: `the envelope is nested deeper than ocpp.max_json_depth (${this.maxJsonDepth}) + 1 levels` };
    try {
      const v: unknown = JSON.parse(text);
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return { cpId, invalid: 'the envelope must be a JSON object' };
      e = v as Record<string, unknown>;
    } catch {
      return { cpId, invalid: 'the envelope is not JSON' };
    }
    const messageId = typeof e['UniqueId'] === 'string' ? e['UniqueId'] : undefined;
    const action = typeof e['Action'] === 'string' ? e['Action'] : '';
    const type = typeof e['MessageTypeId'] === 'number' ? KINDS[e['MessageTypeId']] : undefined;
    const where = { ...(messageId !== undefined ? { messageId } : {}), ...(action !== '' ? { action } : {}) };
    if (messageId === undefined) return { cpId, invalid: 'UniqueId must be a string', ...where };
    if (type === undefined) return { cpId, invalid: 'MessageTypeId must be 2, 3, 4 (or 5, 6 for OCPP 2.1)', ...where };
    if ((type === 'request' || type === 'send') && action === '') return { cpId, invalid: 'a CALL needs its Action', ...where };
    const payloadText = type === 'error' || type === 'resulterror'
      ? JSON.stringify({ errorCode: e['ErrorCode'], errorDescription: e['ErrorDescription'] ?? '', errorDetails: e['ErrorDetails'] ?? {} })
      : JSON.stringify(e['Payload'] ?? null);
    return { cpId, message: { type, action: action === '' ? 'unknown' : action, messageId, payloadText } };
  }
}
