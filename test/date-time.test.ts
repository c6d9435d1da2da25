// The fast `date-time` format gives ajv-formats' answer for every string: a differential test over
// valid, edge and mutated date-times. [SPEC §6]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import formatsPlugin from 'ajv-formats';
import { isDateTime } from '../src/validation/date-time.js';

const full = (formatsPlugin as unknown as { get(name: string, mode: 'full'): { validate(s: string): boolean } }).get('date-time', 'full');

/** A seeded generator, so a failure can be reproduced. */
function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >> 17; x ^= x << 5; x >>>= 0;
    return x / 2 ** 32;
  };
}

const EDGES = [
  '2026-12-02T18:00:00Z', '2026-12-02t18:00:00z', '2026-12-02 18:00:00Z', '2026-12-02\u00a018:00:00Z', '2026-12-02T18:00:00',
  '2024-02-29T00:00:00Z', '2023-02-29T00:00:00Z', '2000-02-29T00:00:00Z', '1900-02-29T00:00:00Z', '2026-04-31T00:00:00Z',
  '2026-12-31T23:59:60Z', '2026-12-31T23:59:60+00:00', '2026-12-31T22:59:60-01:00', '2026-06-30T23:59:60.5Z', '2026-12-02T24:00:00Z',
  '2026-12-02T18:60:00Z', '2026-12-02T18:00:60Z', '2026-12-02T18:00:00.Z', '2026-12-02T18:00:00.123456789Z', '2026-12-02T18:00:00+01',
  '2026-12-02T18:00:00+0100', '2026-12-02T18:00:00+01:00', '2026-12-02T18:00:00+24:00', '2026-12-02T18:00:00+01:60', '2026-12-02T18:00:00+1:00',
  '2026-00-02T18:00:00Z', '2026-13-02T18:00:00Z', '2026-12-00T18:00:00Z', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z',
  '2026-12-02T18:00:00ZZ', '2026-12-02T18:00:00Zt', '2026-12-02TT18:00:00Z', '', 'T', '2026-12-02', '18:00:00Z', '٢٠٢٦-12-02T18:00:00Z',
  '2026-12-02T18:00:00.1+01:00', '2026-12-02T18:00:00.1-23:59', '2026-12-02T18:00:00+01:0', '2026-12-02T18:00:00+01:000',
];

test('[SPEC §6] date-time: the fast format answers as ajv-formats for edge cases', () => {
  for (const s of EDGES) assert.equal(isDateTime(s), full.validate(s), JSON.stringify(s));
});

test('[SPEC §6] date-time: the fast format answers as ajv-formats for 200,000 generated and mutated strings', () => {
  const r = rng(20261202);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const pad = (n: number, w: number) => String(n).padStart(w, '0');
  const alphabet = '0123456789-:.TtZz+- \u00a0\u2003x9/';
  let fast = 0;
  for (let i = 0; i < 200_000; i++) {
    let s = `${pad(Math.floor(r() * 10000), 4)}-${pad(Math.floor(r() * 14), 2)}-${pad(Math.floor(r() * 33), 2)}${pick(['T', 't', ' '])}` +
      `${pad(Math.floor(r() * 26), 2)}:${pad(Math.floor(r() * 62), 2)}:${pad(Math.floor(r() * 62), 2)}` +
      `${pick(['', '.', `.${Math.floor(r() * 1000)}`])}${pick(['Z', 'z', '', `+${pad(Math.floor(r() * 26), 2)}`, `-${pad(Math.floor(r() * 26), 2)}:${pad(Math.floor(r() * 62), 2)}`, `+${pad(Math.floor(r() * 24), 2)}${pad(Math.floor(r() * 60), 2)}`])}`;
    const edits = Math.floor(r() * 3);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(r() * (s.length + 1));
      const op = r();
      if (op < 0.4) s = s.slice(0, at) + pick([...alphabet]) + s.slice(at + 1);
      else if (op < 0.7) s = s.slice(0, at) + pick([...alphabet]) + s.slice(at);
      else s = s.slice(0, at) + s.slice(at + 1);
    }
    const expected = full.validate(s);
    assert.equal(isDateTime(s), expected, JSON.stringify(s));
    if (expected) fast++;
  }
  assert.ok(fast > 10_000, `enough valid strings were generated (${fast})`);
});
