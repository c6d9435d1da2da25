// The floor: a bare ws server that answers every CALL at once with a constant result. No MQTT, no
// validation: the most any OCPP server could do on this machine with this load generator.
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'ocpp1.6' });
wss.on('connection', (ws) => {
  ws.on('message', (data) => {
    const text = data.toString();
    const a = text.indexOf('"') + 1;
    ws.send(`[3,"${text.slice(a, text.indexOf('"', a))}",{}]`);
  });
});
await new Promise<void>((resolve) => wss.once('listening', resolve));
process.stdout.write(`${JSON.stringify({ ready: { ocppPort: (wss.address() as { port: number }).port, mqttPort: 0 } })}\n`);
process.on('SIGTERM', () => process.exit(0));
