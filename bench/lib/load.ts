// The load generator: N charge points on bare `ws` (cheap, so it is not the bottleneck), spread over
// source addresses 127.0.0.2 ... so more than ~28k connections fit; and an MQTT.js service simulator
// that answers every CALL the gateway publishes, or sends CALLs to the charge points.
import WebSocket from 'ws';
import mqtt, { type MqttClient } from 'mqtt';
import { performance } from 'node:perf_hooks';

export const SOURCE_ADDRESSES = 20;
export const sourceAddress = (i: number) => `127.0.0.${2 + (i % SOURCE_ADDRESSES)}`;

export const METER_VALUES = { connectorId: 1, transactionId: 424242, meterValue: [{ timestamp: '2026-11-23T10:15:00.000Z', sampledValue: [
  { value: '123456.7', context: 'Sample.Periodic', measurand: 'Energy.Active.Import.Register', unit: 'Wh' },
  { value: '22080', measurand: 'Power.Active.Import', unit: 'W' },
  { value: '32.1', measurand: 'Current.Import', phase: 'L1', unit: 'A' }, { value: '31.9', measurand: 'Current.Import', phase: 'L2', unit: 'A' }, { value: '32.0', measurand: 'Current.Import', phase: 'L3', unit: 'A' },
  { value: '229.8', measurand: 'Voltage', phase: 'L1-N', unit: 'V' }, { value: '230.4', measurand: 'Voltage', phase: 'L2-N', unit: 'V' }, { value: '231.0', measurand: 'Voltage', phase: 'L3-N', unit: 'V' },
  { value: '57', measurand: 'SoC', unit: 'Percent' }, { value: '41.5', measurand: 'Temperature', unit: 'Celsius' },
] }] };
const METER_TEXT = JSON.stringify(METER_VALUES);
/** The same MeterValues with one sample: with Heartbeat, the small-message mix. */
export const METER_VALUES_ONE_SAMPLE = { ...METER_VALUES, meterValue: [{ timestamp: METER_VALUES.meterValue[0]!.timestamp, sampledValue: [METER_VALUES.meterValue[0]!.sampledValue[0]!] }] };
const METER_ONE_TEXT = JSON.stringify(METER_VALUES_ONE_SAMPLE);
const BOOT_TEXT = JSON.stringify({ chargePointVendor: 'Bench', chargePointModel: 'LoadGen' });

/** Answers every CALL on ocpp/+/up/request/#: MeterValues {}, Heartbeat/BootNotification with time. */
export async function startService(mqttPort: number): Promise<MqttClient> {
  const svc = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { reconnectPeriod: 0 });
  (svc.stream as unknown as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
  const boot = JSON.stringify({ status: 'Accepted', currentTime: '2026-11-23T10:00:00.000Z', interval: 300 });
  const heartbeat = JSON.stringify({ currentTime: '2026-11-23T10:00:00.000Z' });
  svc.on('message', (topic) => {
    const parts = topic.split('/');
    if (parts[2] !== 'up' || parts[3] !== 'request') return;
    const action = parts[4];
    parts[2] = 'dn';
    parts[3] = 'response';
    svc.publish(parts.join('/'), action === 'MeterValues' ? '{}' : action === 'BootNotification' ? boot : heartbeat, { qos: 1 });
  });
  await svc.subscribeAsync('ocpp/+/up/request/#', { qos: 1 });
  return svc;
}

export interface Fleet {
  sockets: WebSocket[];
  /** Called with (index, frame text) for every frame a charge point receives. */
  onFrame: (handler: (i: number, text: string) => void) => void;
  close(): void;
}

/** Connects N charge points, `concurrency` handshakes at a time. */
export async function connectFleet(port: number, n: number, prefix = 'CP', concurrency = 500): Promise<Fleet> {
  const sockets: WebSocket[] = new Array(n);
  let handler: (i: number, text: string) => void = () => undefined;
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      await new Promise<void>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/ocpp/${prefix}${i}`, ['ocpp1.6'], { localAddress: sourceAddress(i), perMessageDeflate: false });
        sockets[i] = ws;
        ws.once('open', () => resolve());
        ws.once('error', reject);
        ws.on('message', (data) => handler(i, data.toString()));
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return { sockets, onFrame: (h) => (handler = h), close: () => { for (const ws of sockets) ws?.terminate(); } };
}

export interface RoundTripResult { roundTrips: number; seconds: number; latenciesMs: number[] }

/**
 * One CALL outstanding per charge point for `seconds`: `send(i, seq)` starts charge point i's next
 * CALL; the returned `answered(i)` is called when its answer arrives.
 */
async function closedLoop(n: number, seconds: number, send: (i: number, seq: number) => void, wire: (answered: (i: number) => void) => void): Promise<RoundTripResult> {
  const sentAt = new Float64Array(n);
  const seq = new Uint32Array(n);
  const latencies: number[] = [];
  let running = true;
  let count = 0;
  const next = (i: number) => {
    sentAt[i] = performance.now();
    send(i, ++seq[i]!);
  };
  wire((i) => {
    latencies.push(performance.now() - sentAt[i]!);
    count++;
    if (running) next(i);
  });
  const started = performance.now();
  for (let i = 0; i < n; i++) next(i);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  running = false;
  const elapsed = (performance.now() - started) / 1000;
  const done = count;
  await new Promise((r) => setTimeout(r, 300)); // let the last answers land before the next phase
  return { roundTrips: done, seconds: elapsed, latenciesMs: latencies.sort((a, b) => a - b) };
}

/**
 * `alternate`: Heartbeat and MeterValues of 10 samples alternately; `small`: Heartbeat and MeterValues
 * of one sample alternately; `meter`: MeterValues of 10 samples only.
 */
export type Mix = 'alternate' | 'small' | 'meter';

/** Each charge point keeps one CALL outstanding (by `mix`) for `seconds`. */
export async function upstreamRoundTrips(fleet: Fleet, seconds: number, mix: Mix = 'alternate'): Promise<RoundTripResult> {
  const meter = mix === 'small' ? METER_ONE_TEXT : METER_TEXT;
  return closedLoop(
    fleet.sockets.length,
    seconds,
    (i, s) => fleet.sockets[i]!.send(mix !== 'meter' && s % 2 === 0 ? `[2,"${s}","Heartbeat",{}]` : `[2,"${s}","MeterValues",${meter}]`),
    (answered) => fleet.onFrame((i) => answered(i)),
  );
}

/** The service sends each charge point one CALL at a time (GetConfiguration); charge points answer. */
export async function downstreamRoundTrips(fleet: Fleet, mqttPort: number, seconds: number, prefix = 'CP'): Promise<RoundTripResult> {
  const svc = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { reconnectPeriod: 0 });
  (svc.stream as unknown as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
  fleet.onFrame((i, text) => {
    // [2,"id","GetConfiguration",{}] -> [3,"id",{...}]
    const a = text.indexOf('"') + 1;
    fleet.sockets[i]!.send(`[3,"${text.slice(a, text.indexOf('"', a))}",{"configurationKey":[{"key":"HeartbeatInterval","readonly":false,"value":"300"}]}]`);
  });
  await svc.subscribeAsync('ocpp/+/up/response/#', { qos: 1 });
  const result = await closedLoop(
    fleet.sockets.length,
    seconds,
    (i, s) => svc.publish(`ocpp/${prefix}${i}/dn/request/GetConfiguration/${s}`, '{}', { qos: 1 }),
    (answered) => svc.on('message', (topic) => answered(Number(topic.split('/')[1]!.slice(prefix.length)))),
  );
  await svc.endAsync(true);
  return result;
}

/** Every charge point sends a BootNotification; resolves when all are answered. */
export async function bootAll(fleet: Fleet): Promise<void> {
  let pending = fleet.sockets.length;
  await new Promise<void>((resolve) => {
    fleet.onFrame(() => {
      if (--pending === 0) resolve();
    });
    fleet.sockets.forEach((ws, i) => ws.send(`[2,"boot-${i}","BootNotification",${BOOT_TEXT}]`));
  });
}
