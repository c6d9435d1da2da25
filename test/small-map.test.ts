// SmallMap behaves as a Map (sizes, lookups, insertion order) over random operation sequences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SmallMap } from '../src/session/small-map.js';

test('[SPEC §5] SmallMap: 20,000 random operations give what a Map gives, in the same order', () => {
  let x = 12345;
  const r = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const keys = ['a', 'b', 'c', 'd', 'e'];
  const small = new SmallMap<number>();
  const map = new Map<string, number>();
  for (let i = 0; i < 20_000; i++) {
    const k = keys[Math.floor(r() * keys.length)] as string;
    const op = r();
    if (op < 0.45) { small.set(k, i); map.set(k, i); }
    else if (op < 0.85) assert.equal(small.delete(k), map.delete(k));
    else if (op < 0.98) assert.equal(small.get(k), map.get(k));
    else { small.clear(); map.clear(); }
    assert.equal(small.size, map.size);
    assert.equal(small.has(k), map.has(k));
    assert.deepEqual([...small.entries()], [...map.entries()]);
  }
});

test('[SPEC §5] SmallMap: deleting while iterating keys is safe', () => {
  const m = new SmallMap<number>();
  for (const k of ['x', 'y', 'z']) m.set(k, 1);
  for (const k of m.keys()) m.delete(k);
  assert.equal(m.size, 0);
  assert.deepEqual([...m.values()], []);
});
