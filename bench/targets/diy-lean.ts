// The lean DIY bridge: what a careful Node engineer would write in one process instead of the gateway.
// ocpp-rpc's RPCServer (strict mode: every CALL and CALLRESULT validated against the OCPP 1.6 schemas)
// with aedes in the same process: CP CALLs go out with `aedes.publish` (QoS 1 to the service's QoS 1
// subscription), the service's answers and CALLs come back through one in-process `aedes.subscribe`,
// no MQTT client and no loopback hop of its own. Same topic contract as the gateway; noDelay on the
// broker's sockets (ws sets it on the charge points'). Prints {"ready": {ocppPort, mqttPort}} when
// listening.
import { createServer } from 'node:net';
import { Aedes, type AedesPublishPacket } from 'aedes';
import { RPCServer } from 'ocpp-rpc';

const aedes = await Aedes.createBroker();
const broker = createServer({ noDelay: true }, (socket) => aedes.handle(socket));
await new Promise<void>((resolve) => broker.listen(0, '127.0.0.1', resolve));
const mqttPort = (broker.address() as { port: number }).port;

type Waiter = { resolve: (v: unknown) => void; reject: (e: Error) => void };
const upstream = new Map<string, Waiter>(); // `${cpId}/${messageId}` -> the CP's CALL waiting for the service
const clients = new Map<string, any>(); // ocpp-rpc ships no types for its client

const publish = (topic: string, body: unknown) =>
  aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(JSON.stringify(body)), qos: 1, retain: false, dup: false }, () => undefined);

await new Promise<void>((resolve) => aedes.subscribe('ocpp/+/dn/#', (packet: AedesPublishPacket, done: () => void) => {
  done();
  // ocpp/{cpId}/dn/{type}/{action}/{messageId}
  const [, cpId, , type, action, messageId] = packet.topic.split('/') as [string, string, string, string, string, string];
  let body: unknown;
  try {
    body = JSON.parse((packet.payload as Buffer).toString());
  } catch {
    return;
  }
  if (type === 'response' || type === 'error') {
    const key = `${cpId}/${messageId}`;
    const waiter = upstream.get(key);
    if (!waiter) return;
    upstream.delete(key);
    if (type === 'response') waiter.resolve(body);
    else waiter.reject(Object.assign(new Error('service error'), { rpcErrorCode: (body as { errorCode: string }).errorCode }));
    return;
  }
  const client = clients.get(cpId);
  if (!client || type !== 'request') return;
  client.call(action, body).then(
    (result: unknown) => publish(`ocpp/${cpId}/up/response/${action}/${messageId}`, result),
    (err: { rpcErrorCode?: string; message: string }) => publish(`ocpp/${cpId}/up/error/${action}/${messageId}`, { errorCode: err.rpcErrorCode ?? 'GenericError', errorDescription: err.message, errorDetails: {} }),
  );
}, resolve));

const server = new RPCServer({ protocols: ['ocpp1.6'], strictMode: true } as ConstructorParameters<typeof RPCServer>[0]);
server.on('client', (client: any) => {
  const cpId: string = client.identity;
  clients.set(cpId, client);
  client.on('close', () => { if (clients.get(cpId) === client) clients.delete(cpId); });
  client.handle(({ method, params, messageId }: { method: string; params: unknown; messageId: string }) => new Promise((resolve, reject) => {
    upstream.set(`${cpId}/${messageId}`, { resolve, reject });
    publish(`ocpp/${cpId}/up/request/${method}/${messageId}`, params);
  }));
});
const http = await server.listen(0, '127.0.0.1');
const ocppPort = (http.address() as { port: number }).port;
process.stdout.write(`${JSON.stringify({ ready: { ocppPort, mqttPort } })}\n`);
process.on('SIGTERM', () => process.exit(0));
