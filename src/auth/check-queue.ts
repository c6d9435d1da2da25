// A scheduler for expensive credential checks (scrypt/pbkdf2 on libuv's thread pool, requests to an
// auth service): at most `maxInFlight` run at once and at most `maxQueued` wait. Waiting checks are
// kept in one FIFO per source (address) and started round-robin over the sources, so a burst of
// checks from one address delays a check from another address by about one check, not by the burst.
// A waiting check whose connection is gone (its AbortSignal fired) is removed at once and never runs.
// [SPEC §8]

export type CheckQueueRefusal = 'busy' | 'gone';

/** Why a check did not run: `busy` = no room in the queue; `gone` = its connection went away first. */
export class CheckNotRun extends Error {
  constructor(readonly reason: CheckQueueRefusal) {
    super(reason === 'busy' ? 'too many credential checks are waiting' : 'the connection was gone before its credential check ran');
  }
}

export interface CheckQueueOptions {
  readonly maxInFlight: number;
  readonly maxQueued: number;
}

interface Waiting {
  readonly source: string;
  readonly start: () => void;
  readonly refuse: (reason: CheckQueueRefusal) => void;
}

export class CheckQueue {
  readonly #o: CheckQueueOptions;
  #inFlight = 0;
  #queued = 0;
  #dropped = 0;
  #evicted = 0;
  /** source -> its waiting checks (a Set keeps insertion order: FIFO). Map order = round-robin order. */
  readonly #bySource = new Map<string, Set<Waiting>>();

  constructor(options: CheckQueueOptions) {
    if (!(options.maxInFlight >= 1)) throw new RangeError('maxInFlight must be at least 1');
    this.#o = options;
  }

  get inFlight(): number { return this.#inFlight; }
  get queued(): number { return this.#queued; }
  /** Checks removed from the queue because their connection was gone (never ran). */
  get dropped(): number { return this.#dropped; }
  /** Checks pushed out of a full queue by a check from a source with fewer waiting. */
  get evicted(): number { return this.#evicted; }

  /**
   * Runs `work` when a slot is free. Rejects with CheckNotRun('busy') when the queue is full, and with
   * CheckNotRun('gone') when `signal` fires while it waits. Once started, `work` is not interrupted
   * (it receives the signal and may stop early itself).
   */
  run<T>(source: string, signal: AbortSignal | undefined, work: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    if (signal?.aborted) {
      this.#dropped++;
      return Promise.reject(new CheckNotRun('gone'));
    }
    if (this.#inFlight < this.#o.maxInFlight && this.#queued === 0) return this.#execute(signal, work);
    if (this.#queued >= this.#o.maxQueued && !this.#evictFor(source)) return Promise.reject(new CheckNotRun('busy'));
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        if (!this.#remove(entry)) return;
        this.#dropped++;
        reject(new CheckNotRun('gone'));
      };
      const entry: Waiting = {
        source,
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          this.#execute(signal, work).then(resolve, reject);
        },
        refuse: (reason) => {
          signal?.removeEventListener('abort', onAbort);
          reject(new CheckNotRun(reason));
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      let waiting = this.#bySource.get(source);
      if (waiting === undefined) this.#bySource.set(source, (waiting = new Set()));
      waiting.add(entry);
      this.#queued++;
    });
  }

  async #execute<T>(signal: AbortSignal | undefined, work: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    this.#inFlight++;
    try {
      return await work(signal);
    } finally {
      this.#inFlight--;
      this.#startNext();
    }
  }

  /** Fills free slots from the sources in turn: take the first source's oldest check, move it last. */
  #startNext(): void {
    while (this.#inFlight < this.#o.maxInFlight && this.#queued > 0) {
      const first = this.#bySource.entries().next().value;
      if (first === undefined) return;
      const [source, waiting] = first;
      const entry = waiting.values().next().value as Waiting;
      waiting.delete(entry);
      this.#queued--;
      this.#bySource.delete(source);
      if (waiting.size > 0) this.#bySource.set(source, waiting);
      entry.start();
    }
  }

  #remove(entry: Waiting): boolean {
    const waiting = this.#bySource.get(entry.source);
    if (waiting === undefined || !waiting.delete(entry)) return false;
    this.#queued--;
    if (waiting.size === 0) this.#bySource.delete(entry.source);
    return true;
  }

  /**
   * The queue is full. A check from a source with fewer waiting checks than the busiest source takes
   * the place of that source's oldest waiting check (the one nearest its handshake timeout), so one
   * address filling the queue cannot keep others out. Returns false when the newcomer must be refused.
   */
  #evictFor(source: string): boolean {
    const own = this.#bySource.get(source)?.size ?? 0;
    let busiest: Set<Waiting> | undefined;
    for (const waiting of this.#bySource.values()) if (waiting.size > (busiest?.size ?? own)) busiest = waiting;
    if (busiest === undefined) return false;
    const oldest = busiest.values().next().value as Waiting;
    this.#remove(oldest);
    this.#evicted++;
    oldest.refuse('busy');
    return true;
  }
}
