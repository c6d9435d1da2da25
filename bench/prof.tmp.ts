import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { connectFleet, startService, upstreamRoundTrips } from './lib/load.js';
const child = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir=/tmp/prof', 'bin/ocpp-gateway.js', '--ocpp-host', '127.0.0.1', '--ocpp-port', '0', '--mqtt-port', '0', '--mqtt-ws-port', '0', '--api-port', '0', '--log-level', 'info', '--set', 'mqtt.embedded.host=127.0.0.1', '--set', 'ocpp.max_connect_rate=1000000', '--set', 'ocpp.connect_burst=1000000', '--set', 'ocpp.max_connections_per_address=1000000'], { stdio: ['ignore', 'pipe', 'inherit'] });
const lines = createInterface({ input: child.stdout! });
let e: any;
for await (const line of lines) { e = JSON.parse(line); if (e.msg === 'gateway.started') break; }
lines.on('line', () => undefined);
const svc = await startService(e.mqtt.port);
const fleet = await connectFleet(e.ocpp.port, 200);
await upstreamRoundTrips(fleet, 1);
const r = await upstreamRoundTrips(fleet, 8);
console.log('rps', Math.round(r.roundTrips / r.seconds));
fleet.close(); await svc.endAsync(true);
child.kill('SIGTERM'); await new Promise(r => child.once('exit', r));
process.exit(0);
