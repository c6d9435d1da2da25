// Load for the round-trip scenario: N bare-ws charge points, each with one CALL outstanding, and an
// MQTT.js service that answers every CALL. Counts round trips and their latencies for a fixed time.
import WebSocket from 'ws';
import mqtt from 'mqtt';
import { performance } from 'node:perf_hooks';

export interface RoundTripResult { roundTrips: number; seconds: number; latenciesMs: number[] }

export interface RoundTripOptions {
  ocppPort: number;
  mqttPort: number;
  cps: number;
  seconds: number;
  action: string;
  payload: object;
  answer: object;
}

export async function roundTrips(o: RoundTripOptions): Promise<RoundTripResult> {
  const svc = await mqtt.connectAsync(`mqtt://127.0.0.1:${o.mqttPort}`, { reconnectPeriod: 0 });
  (svc.stream as unknown as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
  const answer = JSON.stringify(o.answer);
  svc.on('message', (topic) => {
    // ocpp/{cpId}/up/request/{action}/{id} -> ocpp/{cpId}/dn/response/{action}/{id}
    const parts = topic.split('/');
    parts[2] = 'dn';
    parts[3] = 'response';
    svc.publish(parts.join('/'), answer, { qos: 1 });
  });
  await svc.subscribeAsync('ocpp/+/up/request/#', { qos: 1 });

  const payload = JSON.stringify(o.payload);
  const latencies: number[] = [];
  let running = true;
  let count = 0;
  const starters: Array<() => void> = [];
  const sockets: WebSocket[] = [];
  await Promise.all(Array.from({ length: o.cps }, (_, i) => new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${o.ocppPort}/ocpp/BENCH${i}`, ['ocpp1.6']);
    sockets.push(ws);
    let seq = 0;
    let sentAt = 0;
    const send = () => {
      sentAt = performance.now();
      ws.send(`[2,"${++seq}","${o.action}",${payload}]`);
    };
    starters.push(send);
    ws.on('open', () => resolve());
    ws.on('error', reject);
    ws.on('message', () => {
      latencies.push(performance.now() - sentAt);
      count++;
      if (running) send();
    });
  })));
  const started = performance.now();
  for (const start of starters) start();
  await new Promise((r) => setTimeout(r, o.seconds * 1000));
  running = false;
  const seconds = (performance.now() - started) / 1000;
  const done = count;
  for (const ws of sockets) ws.terminate();
  await svc.endAsync(true);
  return { roundTrips: done, seconds, latenciesMs: latencies.sort((a, b) => a - b) };
}
