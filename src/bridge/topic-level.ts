// The one encoder for every topic level the gateway writes from client data (cpId, action,
// messageId), and its exact inverse. [SPEC §4]
//
// Percent-encoded, as %XX of the character's UTF-8 bytes:
//   - `/ + #`: they cannot stand inside one topic level [MQTT-4.7.1-1..3];
//   - `%`: so that decoding is exact;
//   - NUL and the other C0 controls (U+0000–U+001F), DEL (U+007F), C1 controls (U+0080–U+009F), the
//     non-characters U+FDD0–U+FDEF and U+xxFFFE/U+xxFFFF on every plane: MQTT says a topic SHOULD NOT
//     contain them [MQTT-1.5.3-2] and Mosquitto 2 disconnects a client whose topic does;
//   - lone surrogates: a topic must be well-formed UTF-8 [MQTT-1.5.3-1] and a lone surrogate has no
//     UTF-8 form. It is written as the three bytes its code point would take in UTF-8 (the
//     "generalised UTF-8" of WTF-8, e.g. U+D800 -> %ED%A0%80). A strict UTF-8 decoder refuses those
//     bytes, rightly: no well-formed string contains them; decodeLevel reads them back exactly.
// Everything else (letters of any script, `*-_=:|@.`, spaces, valid surrogate pairs) stays as it is.
// This runs for every published message: one pass of charCodeAt over the value, a table lookup per
// code unit below U+00A0, no regex, and no allocation when nothing needs encoding.

/** 1 = percent-encode this code unit (below U+00A0: C0, DEL, C1, / + # %). */
const ESCAPE_BELOW_A0 = new Uint8Array(0xa0);
for (let c = 0; c < 0x20; c++) ESCAPE_BELOW_A0[c] = 1;
for (let c = 0x7f; c < 0xa0; c++) ESCAPE_BELOW_A0[c] = 1;
for (const c of '/+#%') ESCAPE_BELOW_A0[c.charCodeAt(0)] = 1;

/** "%00" … "%FF", built once. */
const PERCENT_HEX: readonly string[] = Array.from({ length: 256 }, (_, b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`);

const isLead = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
const isTrail = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;
const isNonCharacter = (cp: number): boolean => (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe;

/**
 * How many code units at i form a character that must be encoded: 0 (keep one unit), 1 or 2; -2
 * for a valid surrogate pair that stays as it is (the caller skips both units). Only called for
 * c >= U+00A0.
 */
function classifyHigh(value: string, i: number, c: number): number {
  if (c < 0xd800) return 0;
  if (isLead(c)) {
    const next = i + 1 < value.length ? value.charCodeAt(i + 1) : 0;
    if (!isTrail(next)) return 1; // lone lead surrogate
    const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
    return (cp & 0xfffe) === 0xfffe ? 2 : -2;
  }
  if (isTrail(c)) return 1; // a trail surrogate reached here has no lead before it
  return isNonCharacter(c) ? 1 : 0;
}

function percentUtf8(cp: number): string {
  if (cp < 0x80) return PERCENT_HEX[cp] as string;
  if (cp < 0x800) return (PERCENT_HEX[0xc0 | (cp >> 6)] as string) + PERCENT_HEX[0x80 | (cp & 0x3f)];
  if (cp < 0x10000) return (PERCENT_HEX[0xe0 | (cp >> 12)] as string) + PERCENT_HEX[0x80 | ((cp >> 6) & 0x3f)] + PERCENT_HEX[0x80 | (cp & 0x3f)];
  return (PERCENT_HEX[0xf0 | (cp >> 18)] as string) + PERCENT_HEX[0x80 | ((cp >> 12) & 0x3f)] + PERCENT_HEX[0x80 | ((cp >> 6) & 0x3f)] + PERCENT_HEX[0x80 | (cp & 0x3f)];
}

/** Percent-encodes what must not stand in one topic level; returns `value` itself when nothing does. */
export function encodeLevel(value: string): string {
  const n = value.length;
  let i = 0;
  for (; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c < 0xa0) {
      if (ESCAPE_BELOW_A0[c] === 1) break;
    } else {
      const k = classifyHigh(value, i, c);
      if (k === -2) i++;
      else if (k > 0) break;
    }
  }
  return i === n ? value : encodeFrom(value, i);
}

function encodeFrom(value: string, start: number): string {
  let out = value.slice(0, start);
  let kept = start; // start of the run of code units kept as they are
  for (let i = start; i < value.length; i++) {
    const c = value.charCodeAt(i);
    let units: number;
    if (c < 0xa0) units = ESCAPE_BELOW_A0[c] === 1 ? 1 : 0;
    else {
      units = classifyHigh(value, i, c);
      if (units === -2) {
        i++;
        continue;
      }
    }
    if (units === 0) continue;
    if (kept < i) out += value.slice(kept, i);
    out += percentUtf8(units === 2 ? 0x10000 + ((c - 0xd800) << 10) + (value.charCodeAt(i + 1) - 0xdc00) : c);
    i += units - 1;
    kept = i + 1;
  }
  return kept < value.length ? out + value.slice(kept) : out;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

/**
 * The inverse of encodeLevel, also for levels a service encoded its own way: any %XX (either case)
 * is a byte; a run of them must be UTF-8 (lone surrogates in the three-byte form above are accepted).
 * undefined: a `%` not followed by two hex digits, or bytes that are not such UTF-8.
 */
export function decodeLevel(level: string): string | undefined {
  let pct = level.indexOf('%');
  if (pct === -1) return level;
  let out = '';
  let kept = 0;
  const n = level.length;
  while (pct !== -1) {
    out += level.slice(kept, pct);
    let i = pct;
    // One run of %XX: decode its bytes as (generalised) UTF-8; a character may not span two runs.
    let need = 0;
    let cp = 0;
    let min = 0;
    while (i < n && level.charCodeAt(i) === 0x25) {
      const hi = i + 2 < n ? hexValue(level.charCodeAt(i + 1)) : -1;
      const lo = hi === -1 ? -1 : hexValue(level.charCodeAt(i + 2));
      if (lo === -1) return undefined;
      const b = (hi << 4) | lo;
      i += 3;
      if (need > 0) {
        if ((b & 0xc0) !== 0x80) return undefined;
        cp = (cp << 6) | (b & 0x3f);
        if (--need > 0) continue;
        if (cp < min || cp > 0x10ffff) return undefined; // overlong or beyond Unicode
        out += String.fromCodePoint(cp);
      } else if (b < 0x80) out += String.fromCharCode(b);
      else if (b >= 0xc2 && b <= 0xdf) { need = 1; cp = b & 0x1f; min = 0x80; }
      else if (b >= 0xe0 && b <= 0xef) { need = 2; cp = b & 0x0f; min = 0x800; }
      else if (b >= 0xf0 && b <= 0xf4) { need = 3; cp = b & 0x07; min = 0x10000; }
      else return undefined;
    }
    if (need > 0) return undefined;
    kept = i;
    pct = level.indexOf('%', i);
  }
  return kept < n ? out + level.slice(kept) : out;
}

/** Whether a charge point id may be used at all: nothing encodeLevel would encode except `+` and `%`. [SPEC §3] */
export function cpIdProblem(cpId: string): string | undefined {
  if (cpId === '.' || cpId === '..') return `"${cpId}" is a URL dot-segment, which cannot be addressed in a URL path`;
  for (let i = 0; i < cpId.length; i++) {
    const c = cpId.charCodeAt(i);
    if (c === 0x2b || c === 0x25) continue; // + (OCPP 2.x identifierString) and % are percent-encoded in topics
    const units = c < 0xa0 ? ESCAPE_BELOW_A0[c] as number : classifyHigh(cpId, i, c);
    if (units === -2) i++;
    else if (units > 0) return `contains ${describe(cpId, i, units)}, which must not appear in an MQTT topic`;
  }
  return undefined;
}

function describe(value: string, i: number, units: number): string {
  const c = value.charCodeAt(i);
  if (c === 0x2f || c === 0x23) return `"${String.fromCharCode(c)}"`;
  const cp = units === 2 ? value.codePointAt(i) ?? c : c;
  const what = cp < 0x20 || (cp >= 0x7f && cp < 0xa0) ? 'a control character' : cp >= 0xd800 && cp <= 0xdfff ? 'a lone surrogate' : 'a Unicode non-character';
  return `${what} (U+${cp.toString(16).toUpperCase().padStart(4, '0')})`;
}
