// The DIY bridge with an MQTT.js hop (the bench's first DIY target, kept as a second row): ocpp-rpc's
// RPCServer + aedes + an MQTT.js connection from the same process to its own aedes, the same topic
// contract. That connection is one extra loopback hop a bridge in one process need not make; the lean
// DIY (diy-lean.ts) publishes into aedes directly. noDelay everywhere, strict mode on.
// Prints {"ready": {ocppPort, mqttPort}} on stdout when listening.
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { diyBridge } from '../lib/diy-bridge.js';

const aedes = await Aedes.createBroker();
const broker = createServer({ noDelay: true }, (socket) => aedes.handle(socket));
await new Promise<void>((resolve) => broker.listen(0, '127.0.0.1', resolve));
const mqttPort = (broker.address() as { port: number }).port;

const bus = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: `diy-${randomBytes(3).toString('hex')}` });
(bus.stream as unknown as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);

const bridge = diyBridge((topic, body) => bus.publish(topic, JSON.stringify(body), { qos: 1 }));
bus.on('message', (topic, payload) => bridge.route(topic, JSON.parse(payload.toString()) as unknown));
await bus.subscribeAsync('ocpp/+/dn/#', { qos: 1 });

const ocppPort = await bridge.listen();
process.stdout.write(`${JSON.stringify({ ready: { ocppPort, mqttPort } })}\n`);
process.on('SIGTERM', () => process.exit(0));
