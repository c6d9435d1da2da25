// The zero-logic pipe: a ws server and an in-process aedes, no OCPP logic at all. A CALL's messageId
// and action are cut out of the text and the payload is published as is; a dn/response is framed
// back. It measures the broker hop alone. Prints {"ready": {...}} when listening.
import '../../src/obs/quiet-debug.js'; // the broker hop as the gateway runs it (see batchWrites below)
import { createServer } from 'node:net';
import { Aedes, type AedesPublishPacket } from 'aedes';
import { WebSocketServer, type WebSocket } from 'ws';
import { batchWrites } from '../../src/bridge/batch-writes.js';

const aedes = await Aedes.createBroker();
// The broker hop done as the gateway does it (writes batched per event-loop turn), so that the
// difference to the gateway is the OCPP logic alone.
const broker = createServer({ noDelay: true }, (socket) => {
  batchWrites(socket);
  aedes.handle(socket);
});
await new Promise<void>((resolve) => broker.listen(0, '127.0.0.1', resolve));
const sockets = new Map<string, WebSocket>();

aedes.subscribe('ocpp/+/dn/#', (packet: AedesPublishPacket, done: () => void) => {
  const [, cpId, , , , messageId] = packet.topic.split('/');
  sockets.get(cpId as string)?.send(`[3,"${messageId}",${(packet.payload as Buffer).toString()}]`);
  done();
}, () => undefined);

const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'ocpp1.6' });
wss.on('connection', (ws, req) => {
  const cpId = (req.url ?? '').split('/').pop() as string;
  sockets.set(cpId, ws);
  ws.on('close', () => sockets.delete(cpId));
  ws.on('message', (data) => {
    const text = data.toString();
    // [2,"id","Action",{...}]
    const a = text.indexOf('"') + 1;
    const b = text.indexOf('"', a);
    const c = text.indexOf('"', b + 1) + 1;
    const d = text.indexOf('"', c);
    const payload = text.slice(text.indexOf(',', d) + 1, text.lastIndexOf(']'));
    aedes.publish({ cmd: 'publish', topic: `ocpp/${cpId}/up/request/${text.slice(c, d)}/${text.slice(a, b)}`, payload: Buffer.from(payload), qos: 1, retain: false, dup: false }, () => undefined);
  });
});
await new Promise<void>((resolve) => wss.once('listening', resolve));
process.stdout.write(`${JSON.stringify({ ready: { ocppPort: (wss.address() as { port: number }).port, mqttPort: (broker.address() as { port: number }).port } })}\n`);
process.on('SIGTERM', () => process.exit(0));
