// Where the API finds charge points when they are not in its own process: with ocpp.workers > 1 the
// API runs in the primary and asks the workers over IPC (src/cluster/). [SPEC §7, §9]
import type { ApiCallOutcome, TraceEvent } from '../transport/connection.js';
import type { DisconnectedCp } from '../session/cp-facts.js';
import type { describeClient } from './http.js';

/** One connected charge point as the API shows it; `worker` = the pid of the worker process serving it. */
export type ClientView = ReturnType<typeof describeClient> & { worker?: number };

export interface ClientQuery {
  readonly page: number;
  readonly limit: number;
  readonly protocol?: string | undefined;
  readonly like?: string | undefined;
  /** ms since the epoch */
  readonly since?: number | undefined;
}

/** What a live trace reads from: a Connection, or a trace opened in a worker. */
export interface TraceSource {
  readonly cpId: string;
  readonly protocol: string;
  /** undefined: the charge point has its maximum of live traces. */
  addTraceListener(listener: (e: TraceEvent) => void): (() => void) | undefined;
  onClosed(listener: () => void): void;
  offClosed(listener: () => void): void;
}

export interface ClientDirectory {
  /** The page of the matches sorted by cpId, and how many match in all. */
  list(query: ClientQuery): Promise<{ data: ClientView[]; count: number }>;
  get(cpId: string): Promise<ClientView | undefined>;
  /** false: not connected. */
  kick(cpId: string): Promise<boolean>;
  /** undefined: not connected. */
  call(cpId: string, action: string, messageId: string, payloadText: string): Promise<ApiCallOutcome | undefined>;
  /** A live trace of the charge point; undefined: not connected; too_many: it has its maximum of traces. */
  trace(cpId: string): Promise<TraceSource | 'too_many' | undefined>;
  /** Recently disconnected charge points that are connected nowhere now, newest first. */
  disconnected(): Promise<DisconnectedCp[]>;
  /** A charge point's last disconnect (also when it has reconnected since). */
  lastDisconnect(cpId: string): Promise<DisconnectedCp | undefined>;
}

/** Merges sorted pages (each the first page*limit matches of one worker) into the page asked for. */
export function mergePages(query: ClientQuery, parts: ReadonlyArray<{ data: ClientView[]; count: number }>): { data: ClientView[]; count: number } {
  const all = parts.flatMap((p) => p.data);
  all.sort((a, b) => (a.cpId < b.cpId ? -1 : a.cpId > b.cpId ? 1 : 0));
  const count = parts.reduce((n, p) => n + p.count, 0);
  return { data: all.slice((query.page - 1) * query.limit, query.page * query.limit), count };
}
