// The `date-time` format (RFC 3339 §5.6, time zone required) with a fast path for the shape charge
// points send ("2026-12-02T18:00:00Z", "...T18:00:00.123+01:00"): one pass of character codes, no
// regular expressions, no split. It answers true only where ajv-formats' full `date-time` does; any
// other string (another separator, a leap second, a malformed one) goes to ajv-formats itself, so
// the result is always ajv-formats' (test/date-time.test.ts compares them). ajv-formats cost ~2 µs
// of every round trip in the gateway's profile. [SPEC §6]
import formatsPlugin from 'ajv-formats';

type FormatDefinition = { validate: (s: string) => boolean; compare?: (a: string, b: string) => number | undefined };
const full = (formatsPlugin as unknown as { get(name: string, mode: 'full'): FormatDefinition }).get('date-time', 'full');

const DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The digit value of one character, or -1. */
function digit(s: string, i: number): number {
  const c = s.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : -1;
}

/** Two digits as a number, or -1. */
function two(s: string, i: number): number {
  const a = digit(s, i);
  const b = digit(s, i + 1);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
}

/** True when `s` has the usual shape and is a valid date-time; false means "ask ajv-formats". */
function usualAndValid(s: string): boolean {
  if (s.length < 20 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return false;
  const t = s.charCodeAt(10);
  if (t !== 84 && t !== 116) return false; // T or t
  const y1 = two(s, 0);
  const y2 = two(s, 2);
  const month = two(s, 5);
  const day = two(s, 8);
  const hour = two(s, 11);
  const minute = two(s, 14);
  const second = two(s, 17);
  if (y1 < 0 || y2 < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return false;
  const year = y1 * 100 + y2;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : (DAYS[month] as number))) return false;
  let i = 19;
  if (s.charCodeAt(i) === 46) { // "." and at least one digit
    i++;
    const start = i;
    while (digit(s, i) >= 0) i++;
    if (i === start) return false;
  }
  const z = s.charCodeAt(i);
  if (z === 90 || z === 122) return i + 1 === s.length; // Z or z
  if (z !== 43 && z !== 45) return false; // + or -
  const offsetHours = two(s, i + 1);
  if (offsetHours < 0 || offsetHours > 23) return false;
  i += 3;
  if (i === s.length) return true;
  if (s.charCodeAt(i) === 58) i++;
  const offsetMinutes = two(s, i);
  return offsetMinutes >= 0 && offsetMinutes <= 59 && i + 2 === s.length;
}

export function isDateTime(s: string): boolean {
  return usualAndValid(s) || full.validate(s);
}

/** For Ajv.addFormat: ajv-formats' definition with the fast validate. */
export const DATE_TIME_FORMAT: FormatDefinition = { ...full, validate: isDateTime };
