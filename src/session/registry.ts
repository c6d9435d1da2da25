// Who is connected: cpId -> the current connection. Newest authenticated connection wins; a
// replaced connection may only remove itself, never its successor (the fence). [SPEC §3]
export interface RegisteredConnection {
  readonly cpId: string;
}

export class Registry<C extends RegisteredConnection> {
  readonly #byId = new Map<string, C>();

  /** Makes `conn` current for its cpId; returns the connection it replaces, if any. */
  claim(conn: C): C | undefined {
    const previous = this.#byId.get(conn.cpId);
    this.#byId.set(conn.cpId, conn);
    return previous === conn ? undefined : previous;
  }

  /** Removes `conn` if it is still current; false when a newer one took over. */
  release(conn: C): boolean {
    if (this.#byId.get(conn.cpId) !== conn) return false;
    this.#byId.delete(conn.cpId);
    return true;
  }

  isCurrent(conn: C): boolean {
    return this.#byId.get(conn.cpId) === conn;
  }

  get(cpId: string): C | undefined {
    return this.#byId.get(cpId);
  }

  get size(): number {
    return this.#byId.size;
  }

  values(): IterableIterator<C> {
    return this.#byId.values();
  }
}
