// The messages between the primary and its workers (ocpp.workers > 1) over node:cluster's IPC
// channel, and the request/answer pairing the primary uses to ask a worker something. [SPEC §7]
import type { Config } from '../config/schema.js';
import type { ClientQuery, ClientView } from '../api/client-directory.js';
import type { ApiCallOutcome, TraceEvent } from '../transport/connection.js';
import type { GatewayAddresses } from '../gateway.js';
import type { DisconnectedCp } from '../session/cp-facts.js';

/** Every message of ours carries this tag (prom-client and Node's own cluster messages do not). */
export const TAG = 'ocpp-gw';

/** What the primary asks a worker, and what the worker answers to each. */
export interface Requests {
  list: { args: ClientQuery; result: { data: ClientView[]; count: number } };
  get: { args: { cpId: string }; result: ClientView | null };
  kick: { args: { cpId: string }; result: boolean };
  call: { args: { cpId: string; action: string; messageId: string; payloadText: string }; result: ApiCallOutcome | null };
  /** Opens a live trace: its frames come as 'trace' messages with this stream id, then 'trace_end'. */
  trace: { args: { cpId: string; stream: number }; result: { protocol: string } | 'too_many' | null };
  trace_stop: { args: { stream: number }; result: boolean };
  /** The worker's recent disconnects, newest first. */
  disconnected: { args: Record<string, never>; result: DisconnectedCp[] };
  last_disconnect: { args: { cpId: string }; result: DisconnectedCp | null };
  /** Which of these cpIds the worker serves now. */
  connected: { args: { cpIds: string[] }; result: string[] };
  /** prom-client's getMetricsAsJSON() of the worker's registry. */
  metrics: { args: Record<string, never>; result: unknown[] };
}
export type Op = keyof Requests;

export type ToWorker =
  | { tag: typeof TAG; kind: 'config'; slot: number; config: Config }
  | { tag: typeof TAG; kind: 'shutdown' }
  | { tag: typeof TAG; kind: 'request'; id: number; op: Op; args: unknown };

export type FromWorker =
  /** The worker listens: the primary sends its configuration (a message sent earlier would be lost). */
  | { tag: typeof TAG; kind: 'hello' }
  | { tag: typeof TAG; kind: 'ready'; addresses: GatewayAddresses }
  | { tag: typeof TAG; kind: 'startup_error'; lines: string[] }
  | { tag: typeof TAG; kind: 'answer'; id: number; result?: unknown; error?: string }
  | { tag: typeof TAG; kind: 'trace'; stream: number; event: TraceEvent }
  | { tag: typeof TAG; kind: 'trace_end'; stream: number };

export function isOurs<T extends { tag: string }>(message: unknown): message is T {
  return typeof message === 'object' && message !== null && (message as { tag?: unknown }).tag === TAG;
}

/** The IPC end of one worker as the primary sees it (cluster.Worker has these). */
export interface WorkerEnd {
  send(message: ToWorker): boolean;
  isConnected(): boolean;
}

/**
 * Requests to one worker awaiting their answer. A worker that exits fails what it had pending
 * (failAll), so nothing waits for an answer that cannot come.
 */
export class Pending {
  #next = 1;
  readonly #waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout | undefined }>();

  ask<O extends Op>(worker: WorkerEnd, op: O, args: Requests[O]['args'], timeoutMs: number | undefined): Promise<Requests[O]['result']> {
    if (!worker.isConnected()) return Promise.reject(new Error('worker is not connected'));
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error(`worker did not answer ${op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      worker.send({ tag: TAG, kind: 'request', id, op, args });
    });
  }

  answered(message: { id: number; result?: unknown; error?: string }): void {
    const w = this.#waiting.get(message.id);
    if (w === undefined) return;
    this.#waiting.delete(message.id);
    clearTimeout(w.timer);
    if (message.error !== undefined) w.reject(new Error(message.error));
    else w.resolve(message.result);
  }

  failAll(why: string): void {
    for (const w of this.#waiting.values()) {
      clearTimeout(w.timer);
      w.reject(new Error(why));
    }
    this.#waiting.clear();
  }
}
