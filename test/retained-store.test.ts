// The embedded broker's retained-message index (src/bridge/retained-store.ts): aedes-persistence's own
// conformance suite run against it, a differential test against the stock store's matching, pruning,
// and a real aedes broker with MQTT.js clients. [MQTT 3.1.1 §3.3.1.3 retained messages, §4.7 filters]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { RetainedTree, indexedMemoryPersistence, indexedMemoryStore, type AedesPacket } from '../src/bridge/retained-store.js';
import { until, within } from './support/harness.js';

const require = createRequire(import.meta.url);
const conformance = require('aedes-persistence/abstract.js') as (opts: object) => void;
const StockStore = require('aedes-persistence/asyncPersistence.js') as new () => {
  storeRetained(p: object): Promise<void>;
  createRetainedStream(pattern: string): { toArray(): Promise<unknown[]> };
  destroy(): Promise<void>;
};

// aedes-persistence's suite, as its own test-directAsync.js runs it on the stock memory store.
conformance({
  test: (name: string, fn: (t: unknown) => Promise<void>) => test(`aedes-persistence conformance: ${name}`, fn),
  persistence: () => indexedMemoryStore(),
  testAsync: true,
});

/** A small deterministic PRNG, so a failure names a seed that reproduces it. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** MQTT 3.1.1 §4.7 topic matching, written out plainly as the oracle: `+` one level (empty too), `#` the rest (also none). */
function mqttMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

test('RetainedTree matches every filter as MQTT says, and as the stock store does away from empty levels (differential, 40 seeds × 200 filters)', async () => {
  const WORDS = ['ocpp', 'CP1', 'CP2', 'up', 'dn', 'presence', '', 'a', '$SYS'];
  for (let seed = 1; seed <= 40; seed++) {
    const rnd = prng(seed);
    const pick = (): string => WORDS[Math.floor(rnd() * WORDS.length)]!;
    const stock = new StockStore();
    const tree = new RetainedTree();
    const topics = new Set<string>();
    for (let i = 0; i < 120; i++) {
      const levels = 1 + Math.floor(rnd() * 4);
      const topic = Array.from({ length: levels }, pick).join('/');
      // One in five clears the topic (empty payload), as MQTT does.
      const payload = rnd() < 0.2 ? Buffer.alloc(0) : Buffer.from(`m${i}`);
      const packet = { cmd: 'publish', topic, payload, qos: 0, retain: true };
      await stock.storeRetained(packet);
      if (payload.length === 0) {
        tree.delete(topic);
        topics.delete(topic);
      } else {
        tree.set(topic, { ...packet });
        topics.add(topic);
      }
    }
    assert.equal(tree.size, topics.size, `seed ${seed}: size`);
    for (let f = 0; f < 200; f++) {
      const levels = 1 + Math.floor(rnd() * 4);
      const words = Array.from({ length: levels }, () => {
        const r = rnd();
        return r < 0.25 ? '+' : pick();
      });
      if (rnd() < 0.3) words[words.length - 1] = '#';
      const filter = words.join('/');
      const show = (p: AedesPacket): string => `${p.topic}=${String(p.payload)}`;
      const got = [...tree.match(filter)].map(show).sort();
      const want = [...topics].filter((t) => mqttMatches(filter, t)).sort();
      assert.deepEqual([...tree.match(filter)].map((p) => p.topic).sort(), want, `seed ${seed}, filter ${JSON.stringify(filter)}: MQTT matching`);
      // The stock store's Qlobber does not let `+` match an empty level (aedes' live matcher,
      // mqemitter, does, as MQTT says): away from empty levels the two stores give the same messages.
      if (!filter.split('/').includes('')) {
        const stockGot = ((await stock.createRetainedStream(filter).toArray()) as AedesPacket[]).map(show).sort();
        assert.deepEqual(got.filter((g) => !g.slice(0, g.lastIndexOf('=')).split('/').includes('')), stockGot.filter((g) => !g.slice(0, g.lastIndexOf('=')).split('/').includes('')), `seed ${seed}, filter ${JSON.stringify(filter)}: stock store`);
      }
    }
    await stock.destroy();
  }
});

test('RetainedTree prunes cleared branches: churn of many topics leaves an empty tree', () => {
  const tree = new RetainedTree();
  for (let i = 0; i < 1000; i++) tree.set(`ocpp/CP${i}/presence`, { topic: `ocpp/CP${i}/presence`, payload: Buffer.from('x') });
  assert.equal([...tree.match('ocpp/+/presence')].length, 1000);
  assert.equal([...tree.match('ocpp/CP7/dn/+/+/+')].length, 0);
  for (let i = 0; i < 1000; i++) tree.delete(`ocpp/CP${i}/presence`);
  tree.delete('ocpp/never/set');
  assert.equal(tree.size, 0);
  assert.equal([...tree.match('#')].length, 0);
  // Nothing is left behind: a fresh tree and the churned one print the same (no empty levels).
  tree.set('a', { topic: 'a', payload: Buffer.from('1') });
  assert.deepEqual([...tree.match('#')].map((p) => p.topic), ['a']);
});

test('a real aedes broker with the indexed store delivers exactly the matching retained messages on SUBSCRIBE', async () => {
  const aedes = await Aedes.createBroker({ persistence: indexedMemoryPersistence() });
  const server = createServer(aedes.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const publisher = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 5000 });
  const subscriber = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 5000 });
  try {
    for (let i = 0; i < 50; i++) await publisher.publishAsync(`ocpp/CP${i}/presence`, `{"cp":${i}}`, { qos: 1, retain: true });
    await publisher.publishAsync('ocpp/CP3/presence', '', { qos: 1, retain: true }); // cleared
    const got: string[] = [];
    // The retained messages come right after the SUBACK; a live message published after them, on a
    // topic that was subscribed last, marks the end of what the SUBSCRIBE brought.
    const end = new Promise<void>((resolve) => {
      subscriber.on('message', (topic, payload, packet) => {
        if (topic === 'ocpp/CP5/dn/x/y/z') resolve();
        else {
          assert.equal(packet.retain, true);
          got.push(`${topic} ${payload.toString()}`);
        }
      });
    });
    await subscriber.subscribeAsync(['ocpp/CP1/presence', 'ocpp/CP3/presence', 'ocpp/CP4/#', 'ocpp/CP5/dn/+/+/+'], { qos: 1 });
    await until(() => got.length >= 2, 'the two retained messages arrive', 5000);
    await publisher.publishAsync('ocpp/CP5/dn/x/y/z', 'live', { qos: 1 });
    await within(end, 'the live message after the retained ones', 5000);
    assert.deepEqual(got.sort(), ['ocpp/CP1/presence {"cp":1}', 'ocpp/CP4/presence {"cp":4}']);
  } finally {
    await Promise.all([publisher.endAsync(), subscriber.endAsync()]);
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
