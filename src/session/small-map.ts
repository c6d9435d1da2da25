// A string-keyed map for what usually holds zero or one entry: a charge point's pending CALLs (OCPP-J
// allows one in flight per direction) and its timers. The first entry lives in two fields, more go to
// a Map made when needed and dropped when it empties again: an idle connection holds no Map (an empty
// Map costs ~150 bytes; ~0.4 KiB per connection for the channel's and the connection's), and the usual
// round trip allocates none. Iteration order is insertion order, as Map's.
export class SmallMap<V> {
  #key: string | undefined;
  #value: V | undefined;
  #more: Map<string, V> | undefined;

  get size(): number {
    return (this.#key === undefined ? 0 : 1) + (this.#more?.size ?? 0);
  }

  get(key: string): V | undefined {
    if (this.#key === key) return this.#value;
    return this.#more?.get(key);
  }

  has(key: string): boolean {
    return this.#key === key || (this.#more?.has(key) ?? false);
  }

  set(key: string, value: V): void {
    if (this.#key === key) {
      this.#value = value;
      return;
    }
    if (this.#key === undefined && (this.#more === undefined || !this.#more.has(key))) {
      // The inline slot is free: it takes the entry only if that keeps insertion order (nothing after it).
      if (this.#more === undefined) {
        this.#key = key;
        this.#value = value;
        return;
      }
    }
    (this.#more ??= new Map()).set(key, value);
  }

  delete(key: string): boolean {
    if (this.#key === key) {
      this.#key = undefined;
      this.#value = undefined;
      // Keep insertion order: the oldest of the rest moves into the slot.
      const more = this.#more;
      if (more !== undefined) {
        const first = more.entries().next();
        if (!first.done) {
          more.delete(first.value[0]);
          this.#key = first.value[0];
          this.#value = first.value[1];
        }
        if (more.size === 0) this.#more = undefined;
      }
      return true;
    }
    const more = this.#more;
    if (more === undefined || !more.delete(key)) return false;
    if (more.size === 0) this.#more = undefined;
    return true;
  }

  clear(): void {
    this.#key = undefined;
    this.#value = undefined;
    this.#more = undefined;
  }

  *keys(): IterableIterator<string> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): IterableIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  *entries(): IterableIterator<[string, V]> {
    // A copy: callers may delete while they iterate.
    const list: Array<[string, V]> = [];
    if (this.#key !== undefined) list.push([this.#key, this.#value as V]);
    if (this.#more !== undefined) for (const e of this.#more) list.push(e);
    yield* list;
  }
}
