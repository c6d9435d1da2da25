// The DIY bridge with an MQTT.js hop (the bench's first DIY target, kept as a second row): ocpp-rpc's
// RPCServer + aedes + an MQTT.js connection from the same process to its own aedes, the same topic
// contract. That connection is one extra loopback hop a bridge in one process need not make; the lean
// DIY (diy-lean.ts) publishes into aedes directly. noDelay everywhere, strict mode on.
// Prints {"ready": {ocppPort, mqttPort}} on stdout when listening.
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { RPCServer } from 'ocpp-rpc';

const aedes = await Aedes.createBroker();
const broker = createServer({ noDelay: true }, (socket) => aedes.handle(socket));
await new Promise<void>((resolve) => broker.listen(0, '127.0.0.1', resolve));
const mqttPort = (broker.address() as { port: number }).port;

const bus = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: `diy-${randomBytes(3).toString('hex')}` });
(bus.stream as unknown as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);

type Waiter = { resolve: (v: unknown) => void; reject: (e: Error) => void };
const upstream = new Map<string, Waiter>(); // `${cpId}/${messageId}` -> the handler waiting for the service's answer
const clients = new Map<string, InstanceType<typeof RPCServer> extends never ? never : any>();

bus.on('message', (topic, payload) => {
  // ocpp/{cpId}/dn/{type}/{action}/{messageId}
  const [, cpId, , type, action, messageId] = topic.split('/') as [string, string, string, string, string, string];
  const body: unknown = JSON.parse(payload.toString());
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
    (result: unknown) => bus.publish(`ocpp/${cpId}/up/response/${action}/${messageId}`, JSON.stringify(result), { qos: 1 }),
    (err: { rpcErrorCode?: string; message: string }) => bus.publish(`ocpp/${cpId}/up/error/${action}/${messageId}`, JSON.stringify({ errorCode: err.rpcErrorCode ?? 'GenericError', errorDescription: err.message, errorDetails: {} }), { qos: 1 }),
  );
});
await bus.subscribeAsync('ocpp/+/dn/#', { qos: 1 });

const server = new RPCServer({ protocols: ['ocpp1.6'], strictMode: true } as ConstructorParameters<typeof RPCServer>[0]);
server.on('client', (client: any) => {
  const cpId: string = client.identity;
  clients.set(cpId, client);
  client.on('close', () => { if (clients.get(cpId) === client) clients.delete(cpId); });
  client.handle(({ method, params, messageId }: { method: string; params: unknown; messageId: string }) => new Promise((resolve, reject) => {
    upstream.set(`${cpId}/${messageId}`, { resolve, reject });
    bus.publish(`ocpp/${cpId}/up/request/${method}/${messageId}`, JSON.stringify(params), { qos: 1 });
  }));
});
const http = await server.listen(0, '127.0.0.1');
const ocppPort = (http.address() as { port: number }).port;
process.stdout.write(`${JSON.stringify({ ready: { ocppPort, mqttPort } })}\n`);
process.on('SIGTERM', () => process.exit(0));
