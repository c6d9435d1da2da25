// OCPP-J frame codec: text <-> frame, pure, no I/O. Payloads are carried as the exact text the sender
// wrote (payloadText), so what is bridged is what was sent: no re-serialisation, no lost digits.
import { MAX_ACTION_LENGTH, MAX_MESSAGE_ID_LENGTH, type MessageTypeId, type ProtocolProfile } from './protocols.js';

export interface CallFrame { readonly type: 2; readonly messageId: string; readonly action: string; readonly payload: object; readonly payloadText: string }
export interface CallResultFrame { readonly type: 3; readonly messageId: string; readonly payload: object; readonly payloadText: string }
export interface CallErrorFrame {
  readonly type: 4 | 5;
  readonly messageId: string;
  readonly errorCode: string;
  readonly errorDescription: string;
  readonly errorDetails: object;
  /** errorDetails exactly as the sender wrote it: passed on without re-serialising. */
  readonly errorDetailsText: string;
}
export interface SendFrame { readonly type: 6; readonly messageId: string; readonly action: string; readonly payload: object; readonly payloadText: string }
export type Frame = CallFrame | CallResultFrame | CallErrorFrame | SendFrame;

export type DecodeProblem =
  | 'not_json'
  | 'not_array'
  | 'bad_message_type'
  | 'unknown_message_type'
  | 'wrong_arity'
  | 'bad_message_id'
  | 'bad_action'
  | 'bad_payload'
  | 'bad_error_fields'
  | 'too_deep';

export interface DecodeFailure {
  readonly problem: DecodeProblem;
  readonly detail: string;
  /** The MessageTypeId, when the frame got far enough to have one. */
  readonly messageTypeId?: number;
  /** The messageId, when it could be read: any non-empty string, also one longer than 36 characters. */
  readonly messageId?: string;
}

export type DecodeResult = { ok: true; frame: Frame } | { ok: false; failure: DecodeFailure };

/** Arity of each frame kind. [OCPP-J 1.6 §4.2] [OCPP-J 2.1 §4.2] */
const ARITY: Record<MessageTypeId, number> = { 2: 4, 3: 3, 4: 5, 5: 5, 6: 4 };

function isObject(v: unknown): v is object {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What a `null` payload stands for: the empty payload. */
const EMPTY: object = Object.freeze({});

/**
 * A payload: a JSON object, or `null`, the other spelling of "no payload" (read as `{}` and carried as
 * `{}`). [SPEC §6] [OCPP-J 2.0.1 §4.2.1] Undefined for anything else.
 */
function objectOrNull(v: unknown): object | undefined {
  if (v === null) return EMPTY;
  return isObject(v) ? v : undefined;
}

function fail(problem: DecodeProblem, detail: string, messageTypeId?: number, messageId?: string): DecodeResult {
  const failure: DecodeFailure = {
    problem,
    detail,
    ...(messageTypeId !== undefined ? { messageTypeId } : {}),
    ...(messageId !== undefined ? { messageId } : {}),
  };
  return { ok: false, failure };
}

/**
 * Text of the last element of a top-level JSON array, exactly as written. Only called on text that
 * JSON.parse accepted as an array whose elements before the last are numbers and strings (the
 * MessageTypeId, messageId, action), so only that short prefix is scanned, not the payload.
 */
export function lastElementText(text: string, elements: number): string {
  let inString = false;
  let commas = 0;
  let start = -1;
  for (let i = text.indexOf('[') + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 44 && ++commas === elements - 1) {
      start = i + 1;
      break;
    }
  }
  return text.slice(start, text.lastIndexOf(']')).trim();
}

/**
 * Default of ocpp.max_json_depth: the deepest OCPP 1.6/2.0.1/2.1 message is about 8 levels including
 * the frame's own array; 32 leaves room for vendor DataTransfer data and keeps every recursive step
 * after decoding (schema checks, JSON.stringify) far from the stack limit. [SPEC §6]
 */
export const DEFAULT_MAX_JSON_DEPTH = 32;

/** Where a linear scan found nesting beyond the bound, and how much of the frame can still be read. */
interface DepthExcess {
  /** End of the frame's first two top-level elements (index of the comma after them), or -1. */
  readonly prefixEnd: number;
}

/**
 * Checks the nesting of arrays and objects in JSON text without parsing it: one pass, string
 * contents (with their escapes) skipped. Malformed text may scan as shallow; JSON.parse rejects it
 * afterwards. Returns undefined when the text stays within maxDepth (the frame's own array is 1).
 */
function depthExcess(text: string, maxDepth: number): DepthExcess | undefined {
  if (fewOpeners(text, maxDepth)) return undefined;
  let depth = 0;
  let firstComma = -1;
  let secondComma = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      // A string: jump to its closing quote (most of a JSON text is strings; indexOf is fast).
      let end = text.indexOf('"', i + 1);
      while (end !== -1 && isEscaped(text, end)) end = text.indexOf('"', end + 1);
      if (end === -1) return undefined; // unterminated: JSON.parse refuses it
      i = end;
    } else if (c === 91 || c === 123) {
      if (++depth > maxDepth) return { prefixEnd: secondComma >= 0 ? secondComma : firstComma };
    } else if ((c === 93 || c === 125) && depth > 0) depth--; // stray closers cannot hide depth
    else if (c === 44 && depth === 1) {
      if (firstComma < 0) firstComma = i;
      else if (secondComma < 0) secondComma = i;
    }
  }
  return undefined;
}

/** A quote preceded by an odd number of backslashes is part of the string. */
function isEscaped(text: string, quote: number): boolean {
  let backslashes = 0;
  for (let j = quote - 1; j >= 0 && text.charCodeAt(j) === 92; j--) backslashes++;
  return backslashes % 2 === 1;
}

/**
 * The fast path for the usual frame: nesting cannot exceed the number of `[` and `{` in the text
 * (strings included), and indexOf counts those far faster than a character loop walks the text.
 */
function fewOpeners(text: string, limit: number): boolean {
  let n = 0;
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) if (++n > limit) return false;
  for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1)) if (++n > limit) return false;
  return true;
}

/** True when JSON text nests arrays/objects deeper than maxDepth (linear scan, nothing parsed). */
export function exceedsJsonDepth(text: string, maxDepth: number): boolean {
  return depthExcess(text, maxDepth) !== undefined;
}

/**
 * A frame nested too deep: its MessageTypeId and messageId are read from the short, shallow prefix
 * before the excess (so the answer can carry the id, and an answer frame is never answered). [SPEC §6]
 */
function tooDeep(text: string, excess: DepthExcess, maxDepth: number): DecodeResult {
  let typeId: number | undefined;
  let messageId: string | undefined;
  if (excess.prefixEnd > 0) {
    try {
      // Everything before prefixEnd was within the bound, so this parse is shallow.
      const head: unknown = JSON.parse(`${text.slice(0, excess.prefixEnd)}]`);
      if (Array.isArray(head)) {
        const [t, id] = head as unknown[];
        if (typeof t === 'number' && Number.isInteger(t)) typeId = t;
        if (typeof id === 'string' && id.length > 0) messageId = id;
      }
    } catch {
      // The prefix is not JSON either: nothing can be read from the frame.
    }
  }
  return fail('too_deep', `JSON nested deeper than ${maxDepth} levels (ocpp.max_json_depth)`, typeId, messageId);
}

/**
 * Decodes one text frame for a connection that speaks `spec`. Nesting beyond maxDepth is refused
 * before JSON.parse, so nothing downstream ever recurses into an attacker's depth.
 */
export function decodeFrame(text: string, spec: ProtocolProfile, maxDepth = DEFAULT_MAX_JSON_DEPTH): DecodeResult {
  const excess = depthExcess(text, maxDepth);
  if (excess !== undefined) return tooDeep(text, excess, maxDepth);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return fail('not_json', `not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(value)) return fail('not_array', 'an OCPP-J message is a JSON array');
  const typeId: unknown = value[0];
  if (typeof typeId !== 'number' || !Number.isInteger(typeId)) {
    return fail('bad_message_type', 'MessageTypeId must be an integer');
  }
  const rawId: unknown = value[1];
  // Any non-empty string id is readable, also one that is too long: the answer echoes it so the CP can
  // match it. [SPEC §6] The frame size bounds its length.
  const readableId = typeof rawId === 'string' && rawId.length > 0 ? rawId : undefined;
  if (!spec.messageTypes.has(typeId as MessageTypeId)) {
    return fail('unknown_message_type', `MessageTypeId ${typeId} is not part of ${spec.name}`, typeId, readableId);
  }
  const type = typeId as MessageTypeId;
  if (value.length !== ARITY[type]) {
    return fail('wrong_arity', `MessageTypeId ${type} takes ${ARITY[type]} elements, got ${value.length}`, type, readableId);
  }
  if (readableId === undefined || readableId.length > MAX_MESSAGE_ID_LENGTH) {
    const why = typeof rawId !== 'string' ? 'must be a string' : rawId.length === 0 ? 'must not be empty' : `is longer than ${MAX_MESSAGE_ID_LENGTH} characters`;
    return fail('bad_message_id', `messageId ${why}`, type, readableId);
  }
  const messageId = readableId;
  switch (type) {
    case 2:
    case 6: {
      const action: unknown = value[2];
      if (typeof action !== 'string' || action.length === 0) return fail('bad_action', 'action must be a non-empty string', type, messageId);
      if (action.length > MAX_ACTION_LENGTH) return fail('bad_action', `action is longer than ${MAX_ACTION_LENGTH} characters`, type, messageId);
      const payload = objectOrNull(value[3]);
      if (payload === undefined) return fail('bad_payload', 'payload must be a JSON object (or null)', type, messageId);
      return { ok: true, frame: { type, messageId, action, payload, payloadText: payload === EMPTY ? '{}' : lastElementText(text, 4) } };
    }
    case 3: {
      const payload = objectOrNull(value[2]);
      if (payload === undefined) return fail('bad_payload', 'payload must be a JSON object (or null)', type, messageId);
      return { ok: true, frame: { type, messageId, payload, payloadText: payload === EMPTY ? '{}' : lastElementText(text, 3) } };
    }
    case 4:
    case 5: {
      const [, , errorCode, errorDescription, errorDetails] = value as unknown[];
      if (typeof errorCode !== 'string' || errorCode.length === 0) return fail('bad_error_fields', 'errorCode must be a non-empty string', type, messageId);
      if (typeof errorDescription !== 'string') return fail('bad_error_fields', 'errorDescription must be a string', type, messageId);
      // null errorDetails is read as {}, like a null payload: the CALLERROR still reaches the service.
      const details = objectOrNull(errorDetails);
      if (details === undefined) return fail('bad_error_fields', 'errorDetails must be a JSON object (or null)', type, messageId);
      return { ok: true, frame: { type, messageId, errorCode, errorDescription, errorDetails: details, errorDetailsText: details === EMPTY ? '{}' : lastElementText(text, 5) } };
    }
  }
}

/** A CALL (or 2.1 SEND) whose payload is already JSON text. */
export function encodeCall(messageId: string, action: string, payloadText: string, type: 2 | 6 = 2): string {
  return `[${type},${JSON.stringify(messageId)},${JSON.stringify(action)},${payloadText}]`;
}

export function encodeCallResult(messageId: string, payloadText: string): string {
  return `[3,${JSON.stringify(messageId)},${payloadText}]`;
}

export function encodeCallError(messageId: string, errorCode: string, errorDescription: string, errorDetails: object, type: 4 | 5 = 4): string {
  return JSON.stringify([type, messageId, errorCode, errorDescription, errorDetails]);
}
