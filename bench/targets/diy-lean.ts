// The lean DIY bridge: what a careful Node engineer would write in one process instead of the gateway.
// ocpp-rpc's RPCServer (strict mode: every CALL and CALLRESULT validated against the OCPP 1.6 schemas)
// with aedes in the same process: CP CALLs go out with `aedes.publish` (QoS 1 to the service's QoS 1
// subscription), the service's answers and CALLs come back through one in-process `aedes.subscribe`,
// no MQTT client and no loopback hop of its own. Same topic contract as the gateway; noDelay on the
// broker's sockets (ws sets it on the charge points'). Prints {"ready": {ocppPort, mqttPort}} when
// listening.
import { createServer } from 'node:net';
import { Aedes, type AedesPublishPacket } from 'aedes';
import { diyBridge } from '../lib/diy-bridge.js';

const aedes = await Aedes.createBroker();
const broker = createServer({ noDelay: true }, (socket) => aedes.handle(socket));
await new Promise<void>((resolve) => broker.listen(0, '127.0.0.1', resolve));
const mqttPort = (broker.address() as { port: number }).port;

const publish = (topic: string, body: unknown) =>
  aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(JSON.stringify(body)), qos: 1, retain: false, dup: false }, () => undefined);
const bridge = diyBridge(publish);

await new Promise<void>((resolve) => aedes.subscribe('ocpp/+/dn/#', (packet: AedesPublishPacket, done: () => void) => {
  done();
  let body: unknown;
  try {
    body = JSON.parse((packet.payload as Buffer).toString());
  } catch {
    return;
  }
  bridge.route(packet.topic, body);
}, resolve));

const ocppPort = await bridge.listen();
process.stdout.write(`${JSON.stringify({ ready: { ocppPort, mqttPort } })}\n`);
process.on('SIGTERM', () => process.exit(0));
