// Hand-written, linear parsers for what a charge point sends in its upgrade request: the path, the
// Sec-WebSocket-Protocol list and the Authorization header. Pure; no regexes over client input.
import type { UpgradeRefusal } from '../errors.js';
import { cpIdProblem } from '../bridge/topic-level.js';
import { escapeControls } from '../api/escape.js';
import { cutText } from '../ocpp/quote.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; refusal: UpgradeRefusal; detail: string };

/**
 * cpId = the last path segment under `prefix`, percent-decoded. [SPEC §3]
 * "/ocpp/CP1?x=1" -> "CP1"; "/ocpp/site/CP1" -> "CP1"; "/other/CP1" -> path_not_found.
 * Refused (bad_cp_id): empty, too long, not UTF-8 after decoding (decodeURIComponent throws on a
 * percent-encoded lone surrogate such as %ED%A0%80), `/ #`, controls, non-characters, and the
 * dot-segments `.` and `..` (URL normalisation makes them unaddressable in the API). `+` is allowed:
 * OCPP 2.x identifierString permits `*-_=:+|@.`; it is percent-encoded in topic levels.
 */
export function parseCpIdFromPath(url: string | undefined, prefix: string, maxLength: number): Parsed<string> {
  const raw = url ?? '';
  const q = raw.indexOf('?');
  const path = q === -1 ? raw : raw.slice(0, q);
  const base = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (path !== base && !path.startsWith(`${base}/`)) return { ok: false, refusal: 'path_not_found', detail: `path must start with ${base}/` };
  const segment = path === base ? '' : path.slice(path.lastIndexOf('/') + 1);
  if (segment === '') return { ok: false, refusal: 'bad_cp_id', detail: 'the charge point id (last path segment) is empty' };
  let cpId: string;
  try {
    cpId = decodeURIComponent(segment);
  } catch {
    return { ok: false, refusal: 'bad_cp_id', detail: 'the charge point id is not valid percent-encoding' };
  }
  if (cpId.length > maxLength) return { ok: false, refusal: 'bad_cp_id', detail: `the charge point id is longer than ${maxLength} characters` };
  const problem = cpIdProblem(cpId);
  if (problem !== undefined) return { ok: false, refusal: 'bad_cp_id', detail: `the charge point id ${problem}` };
  return { ok: true, value: cpId };
}

/** The comma-separated tokens of a Sec-WebSocket-Protocol header (possibly repeated, joined by Node). */
export function parseProtocolList(header: string | undefined): string[] {
  if (header === undefined) return [];
  const out: string[] = [];
  for (const part of header.split(',')) {
    const token = part.trim();
    if (token !== '') out.push(token);
  }
  return out;
}

/**
 * No subprotocol in common. Not an upgrade refusal: [OCPP-J 1.6 §3] [OCPP-J 2.0.1 §3.1] the handshake
 * completes without Sec-WebSocket-Protocol and the gateway closes at once. [SPEC §3]
 */
export interface NoSubprotocol {
  readonly ok: false;
  readonly refusal: 'no_subprotocol';
  /** What was offered (bounded, quoted, escaped: it is client input) and what is supported. */
  readonly detail: string;
}

/** Offers named in a detail, and characters of each: the header may be kilobytes of anything. */
const SHOWN_OFFERS = 8;
const SHOWN_OFFER_CHARS = 40;

/** The client's offers for a log line or an event: each quoted and escaped, at most SHOWN_OFFERS of them. */
export function describeOffers(offered: readonly string[]): string {
  const shown = offered.slice(0, SHOWN_OFFERS).map((p) => escapeControls(JSON.stringify(cutText(p, SHOWN_OFFER_CHARS + 1))));
  return shown.join(', ') + (offered.length > SHOWN_OFFERS ? ` and ${offered.length - SHOWN_OFFERS} more` : '');
}

/**
 * The first protocol of the gateway's own preference list that the client offered; else the
 * configured default (assumed, not echoed). [SPEC §3]
 */
export function selectProtocol<P extends string>(offered: readonly string[], preference: readonly P[], fallback: P | undefined): { ok: true; value: { protocol: P; echo: boolean } } | NoSubprotocol {
  for (const p of preference) if (offered.includes(p)) return { ok: true, value: { protocol: p, echo: true } };
  if (fallback !== undefined) return { ok: true, value: { protocol: fallback, echo: false } };
  const what = offered.length === 0 ? 'no subprotocol was offered' : `none of the offered subprotocols (${describeOffers(offered)}) is supported`;
  return { ok: false, refusal: 'no_subprotocol', detail: `${what}; supported: ${preference.join(', ')}` };
}

export interface BasicCredentials {
  readonly username: string;
  /** Arbitrary bytes. [OCPP 2.0.1 A00.FR.2xx: the password may contain any octet] */
  readonly password: Buffer;
}

function isBase64(text: string): boolean {
  if (text.length % 4 !== 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const ok = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47 || (c === 61 && i >= text.length - 2);
    if (!ok) return false;
  }
  return true;
}

/**
 * HTTP Basic credentials, binary-safe. With `splitAfterCpId`, the username must be the cpId and the
 * password is every byte after "<cpId>:" (it may contain colons). [SPEC §8] [RFC 7617]
 * Returns undefined when there is no Authorization header; a refusal when it is malformed.
 */
export function parseBasicAuth(header: string | undefined, cpId: string, splitAfterCpId: boolean): Parsed<BasicCredentials> | undefined {
  if (header === undefined) return undefined;
  const space = header.indexOf(' ');
  if (space === -1 || header.slice(0, space).toLowerCase() !== 'basic') return { ok: false, refusal: 'unauthorized', detail: 'Authorization is not Basic' };
  const encoded = header.slice(space + 1).trim();
  if (!isBase64(encoded)) return { ok: false, refusal: 'unauthorized', detail: 'Basic credentials are not base64' };
  const bytes = Buffer.from(encoded, 'base64');
  if (splitAfterCpId) {
    const prefix = Buffer.from(`${cpId}:`, 'utf8');
    if (bytes.length < prefix.length || !bytes.subarray(0, prefix.length).equals(prefix)) {
      return { ok: false, refusal: 'unauthorized', detail: 'the Basic username is not the charge point id' };
    }
    return { ok: true, value: { username: cpId, password: bytes.subarray(prefix.length) } };
  }
  const colon = bytes.indexOf(0x3a);
  if (colon === -1) return { ok: false, refusal: 'unauthorized', detail: 'Basic credentials have no ":"' };
  return { ok: true, value: { username: bytes.subarray(0, colon).toString('utf8'), password: bytes.subarray(colon + 1) } };
}
