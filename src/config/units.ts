// Human-friendly durations ("500ms", "30s", "5m", "1h" or a number of milliseconds) and sizes
// ("256KiB", "1MiB", "10kB" or a number of bytes), parsed by hand: no regex backtracking on input.

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE_UNITS: Record<string, number> = {
  b: 1, kb: 1000, mb: 1_000_000, gb: 1_000_000_000,
  kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3,
};

/** Splits "12.5MiB" into [12.5, "mib"]; undefined when the text is not number+unit. */
function splitQuantity(text: string): [number, string] | undefined {
  const trimmed = text.trim();
  let end = 0;
  while (end < trimmed.length) {
    const c = trimmed.charCodeAt(end);
    if ((c >= 48 && c <= 57) || c === 46) end++;
    else break;
  }
  if (end === 0) return undefined;
  const value = Number(trimmed.slice(0, end));
  if (!Number.isFinite(value)) return undefined;
  return [value, trimmed.slice(end).trim().toLowerCase()];
}

export function parseDuration(input: unknown): number | string {
  if (typeof input === 'number') {
    return Number.isFinite(input) && input >= 0 ? Math.round(input) : 'must be a non-negative number of milliseconds';
  }
  if (typeof input !== 'string') return 'must be a duration such as "500ms", "30s", "5m" or a number of milliseconds';
  const q = splitQuantity(input);
  const factor = q ? (q[1] === '' ? 1 : DURATION_UNITS[q[1]]) : undefined;
  if (!q || factor === undefined) return `"${input}" is not a duration (use e.g. "500ms", "30s", "5m")`;
  return Math.round(q[0] * factor);
}

export function parseSize(input: unknown): number | string {
  if (typeof input === 'number') {
    return Number.isInteger(input) && input >= 0 ? input : 'must be a non-negative whole number of bytes';
  }
  if (typeof input !== 'string') return 'must be a size such as "256KiB", "1MiB" or a number of bytes';
  const q = splitQuantity(input);
  const factor = q ? (q[1] === '' ? 1 : SIZE_UNITS[q[1]]) : undefined;
  if (!q || factor === undefined) return `"${input}" is not a size (use e.g. "256KiB", "1MiB")`;
  return Math.round(q[0] * factor);
}
