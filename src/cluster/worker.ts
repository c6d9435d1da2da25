// One worker process of ocpp.workers > 1: it takes its configuration from the primary over IPC (the
// primary read the file and flags once; a restarted worker gets the same), runs a whole gateway on
// the shared OCPP port(s) (node:cluster hands the listening socket round-robin) with the API off, and
// answers the primary's questions about its charge points. [SPEC §7]
import type { Config } from '../config/schema.js';
import { describeClient, listClients } from '../api/http.js';
import type { ClientView } from '../api/client-directory.js';
import { StartupError } from '../errors.js';
import { startGateway, type Gateway } from '../gateway.js';
import { loggerFor, type Logger } from '../obs/log.js';
import type { Connection } from '../transport/connection.js';
import { TAG, isOurs, type FromWorker, type Op, type Requests, type ToWorker } from './ipc.js';

function send(message: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Waits for the primary's configuration, starts the gateway, serves the primary until told to stop. */
export async function runWorker(watchProcess: (log: Logger) => void): Promise<void> {
  const first = await new Promise<Extract<ToWorker, { kind: 'config' }>>((resolve) => {
    const take = (m: unknown) => {
      if (!isOurs<ToWorker>(m) || m.kind !== 'config') return;
      process.off('message', take);
      resolve(m);
    };
    process.on('message', take);
    void send({ tag: TAG, kind: 'hello' });
  });
  const config: Readonly<Config> = deepFreeze(first.config);
  // Every line of a worker says which slot and process wrote it.
  const log = loggerFor(config).child({ worker: first.slot, pid: process.pid });
  watchProcess(log);

  let gateway: Gateway;
  try {
    gateway = await startGateway({ config, log });
  } catch (err) {
    const lines = err instanceof StartupError ? err.message.split('\n') : [String((err as Error).stack ?? err)];
    await send({ tag: TAG, kind: 'startup_error', lines });
    process.exit(1);
  }

  const describe = (c: Connection): ClientView => ({ ...describeClient(c), worker: process.pid });
  /** Live traces the primary's API opened here, by stream id. */
  const traces = new Map<number, { c: Connection; unsubscribe: () => void; end: () => void }>();
  const answer = async (op: Op, args: unknown): Promise<unknown> => {
    switch (op) {
      case 'list': {
        // The first page*limit of this worker's matches: the primary merges the workers' and cuts the page.
        const q = args as Requests['list']['args'];
        return listClients(gateway.registry, { ...q, page: 1, limit: q.page * q.limit }, describe);
      }
      case 'get': {
        const c = gateway.registry.get((args as Requests['get']['args']).cpId);
        return c === undefined ? null : describe(c);
      }
      case 'kick': {
        const c = gateway.registry.get((args as Requests['kick']['args']).cpId);
        c?.close('kicked');
        return c !== undefined;
      }
      case 'call': {
        const a = args as Requests['call']['args'];
        const c = gateway.registry.get(a.cpId);
        return c === undefined ? null : await c.callFromApi(a.action, a.messageId, a.payloadText);
      }
      case 'trace': {
        const { cpId, stream } = args as Requests['trace']['args'];
        const c = gateway.registry.get(cpId);
        if (c === undefined) return null;
        const unsubscribe = c.addTraceListener((event) => void send({ tag: TAG, kind: 'trace', stream, event }));
        if (unsubscribe === undefined) return 'too_many';
        const end = () => {
          traces.delete(stream);
          unsubscribe();
          void send({ tag: TAG, kind: 'trace_end', stream });
        };
        traces.set(stream, { c, unsubscribe, end });
        c.onClosed(end);
        return { protocol: c.protocol };
      }
      case 'trace_stop': {
        const t = traces.get((args as Requests['trace_stop']['args']).stream);
        if (t === undefined) return false;
        traces.delete((args as Requests['trace_stop']['args']).stream);
        t.unsubscribe();
        t.c.offClosed(t.end);
        return true;
      }
      case 'disconnected':
        return gateway.recentlyDisconnected.list(Date.now());
      case 'last_disconnect':
        return gateway.recentlyDisconnected.get((args as Requests['last_disconnect']['args']).cpId, Date.now()) ?? null;
      case 'connected':
        return (args as Requests['connected']['args']).cpIds.filter((id) => gateway.registry.get(id) !== undefined);
      case 'metrics':
        return gateway.metrics.registry.getMetricsAsJSON();
    }
  };

  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: why }, 'gateway.signal');
    const force = setTimeout(() => process.exit(0), config.shutdown_timeout + 1000);
    force.unref();
    gateway.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('message', (m: unknown) => {
    if (!isOurs<ToWorker>(m)) return;
    if (m.kind === 'shutdown') stop('shutdown');
    else if (m.kind === 'request') {
      answer(m.op, m.args).then(
        (result) => send({ tag: TAG, kind: 'answer', id: m.id, result }),
        (err: unknown) => send({ tag: TAG, kind: 'answer', id: m.id, error: String(err) }),
      );
    }
  });
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  // The primary is gone (killed): nobody restarts us or answers the API; drain and leave.
  process.once('disconnect', () => stop('primary_gone'));
  process.on('SIGHUP', () => {
    log.info({ signal: 'SIGHUP' }, 'gateway.signal');
    void gateway.reload();
  });
  await send({ tag: TAG, kind: 'ready', addresses: gateway.addresses });
}
