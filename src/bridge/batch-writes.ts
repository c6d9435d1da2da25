// Socket write batching for MQTT connections that carry many charge points' traffic.
import type { Socket } from 'node:net';

/**
 * Writes to one MQTT socket within one turn of the event loop leave in one writev. A service
 * connection carries the traffic of every charge point, and each arrives in its own I/O callback:
 * mqtt-packet corks only until the next tick, so without this each callback was its own syscall
 * (writev was a third of the gateway's CPU in the round-trip profile). Used for the embedded broker's
 * client sockets and for the shared connection to an external broker. setImmediate flushes after the
 * I/O phase of the same turn: no timer, no added wait beyond that turn.
 */
export function batchWrites(socket: Socket): void {
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  let corked = false;
  const flush = () => {
    corked = false;
    if (!socket.destroyed) socket.uncork();
  };
  socket.write = ((...args: unknown[]) => {
    if (!corked) {
      corked = true;
      socket.cork();
      setImmediate(flush);
    }
    return write(...args);
  }) as typeof socket.write;
}
