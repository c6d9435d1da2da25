// The embedded broker's persistence: aedes-persistence's in-memory store, with its retained messages
// kept in a topic-level tree instead of one flat map.
//
// Why: aedes looks up the retained messages of every SUBSCRIBE, and the stock memory store answers by
// testing every retained topic against the filter — O(retained) per subscription. The gateway keeps
// one retained presence message per charge point [docs/topics.md "Presence"], and in workers mode
// each worker subscribes once per charge point on the primary's broker, so a storm of N connections
// cost O(N²) on the primary (15,000 CPs: ~10⁸ topic tests). The tree walks only the levels a filter
// names: `ocpp/CP1/dn/+/+/+` visits `ocpp` → `CP1` → `dn` and stops, whatever the count of CPs.
//
// Matching follows MQTT 3.1.1 §4.7 as aedes' live matcher (mqemitter) does: `+` one level, an empty
// one too; `#` zero or more trailing levels, so `a/#` matches `a`. The stock store's Qlobber differs
// only in not letting `+` match an empty level; the differential test holds the tree to the MQTT rule
// and to the stock store everywhere else. (Gateway topics never have empty levels.)
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';

const require = createRequire(import.meta.url);

/** A stored PUBLISH as aedes hands it to the store (aedes-packet); only the topic and payload are read. */
export interface AedesPacket {
  readonly topic: string;
  readonly payload: { readonly length: number };
}

/** The parts of aedes-persistence's memory store (asyncPersistence.js) this file builds on. */
interface MemoryStore {
  storeRetained(packet: AedesPacket): Promise<void>;
  createRetainedStream(pattern: string): Readable;
  createRetainedStreamCombi(patterns: string[]): Readable;
}
type MemoryStoreClass = new (opts?: object) => MemoryStore;
type CallbackLayerClass = new (factory: (opts: object) => MemoryStore, opts?: object) => object;

// Deep paths of aedes-persistence (pinned in package.json; it has no "exports" map): the memory store
// class and the callback layer that aedes itself is given by `aedes-persistence`'s default export.
const MemoryPersistence = require('aedes-persistence/asyncPersistence.js') as MemoryStoreClass;
const { CallBackPersistence } = require('aedes-persistence/callBackPersistence.js') as { CallBackPersistence: CallbackLayerClass };

interface Level {
  packet: AedesPacket | undefined;
  readonly children: Map<string, Level>;
}

const newLevel = (): Level => ({ packet: undefined, children: new Map() });

/** Retained messages by topic level. Empty branches are pruned, so charge-point churn leaves nothing. */
export class RetainedTree {
  readonly #root: Level = newLevel();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  set(topic: string, packet: AedesPacket): void {
    let level = this.#root;
    for (const word of topic.split('/')) {
      let next = level.children.get(word);
      if (next === undefined) {
        next = newLevel();
        level.children.set(word, next);
      }
      level = next;
    }
    if (level.packet === undefined) this.#size++;
    level.packet = packet;
  }

  delete(topic: string): void {
    const words = topic.split('/');
    const path: Level[] = [this.#root];
    for (const word of words) {
      const next = path[path.length - 1]!.children.get(word);
      if (next === undefined) return;
      path.push(next);
    }
    const leaf = path[path.length - 1]!;
    if (leaf.packet === undefined) return;
    leaf.packet = undefined;
    this.#size--;
    for (let i = words.length; i > 0; i--) {
      const level = path[i]!;
      if (level.packet !== undefined || level.children.size > 0) break;
      path[i - 1]!.children.delete(words[i - 1]!);
    }
  }

  /** Every retained message whose topic matches the filter (MQTT wildcards `+` and `#`). */
  *match(filter: string): Generator<AedesPacket> {
    yield* matchFrom(this.#root, filter.split('/'), 0);
  }
}

function* matchFrom(level: Level, words: readonly string[], i: number): Generator<AedesPacket> {
  if (i === words.length) {
    if (level.packet !== undefined) yield level.packet;
    return;
  }
  const word = words[i]!;
  if (word === '#') {
    yield* everything(level);
    return;
  }
  if (word === '+') {
    for (const child of level.children.values()) yield* matchFrom(child, words, i + 1);
    return;
  }
  const child = level.children.get(word);
  if (child !== undefined) yield* matchFrom(child, words, i + 1);
}

function* everything(level: Level): Generator<AedesPacket> {
  if (level.packet !== undefined) yield level.packet;
  for (const child of level.children.values()) yield* everything(child);
}

/** aedes-persistence's memory store with retained messages looked up through a RetainedTree. */
class IndexedMemoryStore extends MemoryPersistence {
  readonly #tree = new RetainedTree();

  // Replaces the stock method (not called: its flat map would hold a second copy of every message).
  override async storeRetained(pkt: AedesPacket): Promise<void> {
    // The same rule as the stock store: an empty payload clears the topic's retained message.
    if (pkt.payload.length === 0) this.#tree.delete(pkt.topic);
    else this.#tree.set(pkt.topic, { ...pkt });
  }

  // Streams, as the stock store returns (its callback layer and its conformance suite read them so).
  override createRetainedStream(pattern: string): Readable {
    return Readable.from(this.#tree.match(pattern));
  }

  override createRetainedStreamCombi(patterns: string[]): Readable {
    const tree = this.#tree;
    return Readable.from((function* () {
      for (const p of patterns) yield* tree.match(p);
    })());
  }
}

/** A persistence for `Aedes.createBroker({ persistence })`: the stock memory store, retained indexed. */
export function indexedMemoryPersistence(): object {
  return new CallBackPersistence((opts) => new IndexedMemoryStore(opts));
}

/** The async store alone, for aedes-persistence's own conformance suite (test/retained-store.test.ts). */
export function indexedMemoryStore(): MemoryStore {
  return new IndexedMemoryStore();
}
