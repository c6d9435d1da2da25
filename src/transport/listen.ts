// Binding a listener, with the one-line error an operator needs when the port is taken. [SPEC §2]
import type { Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { StartupError } from '../errors.js';

export { StartupError } from '../errors.js';

export interface ListenTarget {
  /** What listens, for messages: "OCPP WebSocket". */
  readonly what: string;
  /** The config key and flag that move it. */
  readonly key: string;
  readonly flag: string;
  /** Extra advice when the port is taken. */
  readonly hint?: string;
}

export async function listen(server: Server, host: string, port: number, target: ListenTarget): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE') {
        reject(new StartupError(`${target.what}: port ${port} on ${host} is already in use (${target.key}); choose another with ${target.flag} PORT${target.hint ? `, ${target.hint}` : ''}`));
      } else if (err.code === 'EACCES') {
        reject(new StartupError(`${target.what}: no permission to listen on ${host}:${port} (${target.key}); choose another with ${target.flag} PORT`));
      } else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') {
        reject(new StartupError(`${target.what}: cannot listen on host ${host} (${err.code}); check the host setting`));
      } else reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
  return server.address() as AddressInfo;
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
