// One load-generator process of the `scale` scenario (bench/scale.ts, issue 16): it holds its share of
// idle charge points on bare `ws`, each bound to a chosen loopback source address, and reports to the
// parent over stdout JSON lines. Commands come on stdin, one JSON object per line:
//   {"cmd":"connect"}  open every CP (at most `concurrency` handshakes in flight), BootNotification each
//   {"cmd":"reset"}    start a new phase: the phase counters and the latency histogram restart
//   {"cmd":"stop"}     terminate every socket, send a last report, exit
// A CP whose socket closes (or whose connect fails) is reconnected at once after a small random jitter,
// and boots again. Heartbeats: CP i of n sends one every `heartbeatMs`, at phase i/n of the period (all
// load generators share the epoch, so the whole fleet's heartbeats are spread evenly); a CP sends its
// next one only once the previous one is answered (a due one skipped instead is counted `late`).
// Round-trip latencies (CP → gateway → MQTT service → gateway → CP) go into a log-scale histogram.
import WebSocket from 'ws';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

export interface LoadgenConfig {
  /** ws://host:port/path/ of the gateway, the cpId is appended. */
  url: string;
  /** Global indices [from, to) of this generator's CPs, out of `total`. */
  from: number;
  to: number;
  total: number;
  prefix: string;
  /** Source addresses; CP i binds to addresses[i % addresses.length]. */
  addresses: string[];
  concurrency: number;
  heartbeatMs: number;
  /** Shared epoch (ms since 1970) the heartbeat phases count from. */
  epochMs: number;
  /** Largest random delay before a reconnect, ms. */
  jitterMs: number;
  reportMs: number;
}

// ---- histogram: buckets of 2 % width over microseconds, sparse, mergeable across processes ----
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
export type Histogram = Record<number, number>;
export const bucketOf = (ms: number) => Math.max(0, Math.ceil(Math.log(Math.max(1, ms * 1000)) / LOG_GROWTH));
/** Upper bound of a bucket, ms. */
export const bucketMs = (b: number) => GROWTH ** b / 1000;
export function mergeHistograms(into: Histogram, from: Histogram): Histogram {
  for (const [k, v] of Object.entries(from)) into[Number(k)] = (into[Number(k)] ?? 0) + v;
  return into;
}
/** The p-th percentile (upper bound of its bucket, so within 2 %), ms; NaN when empty. */
export function histogramPercentile(h: Histogram, p: number): number {
  const keys = Object.keys(h).map(Number).sort((a, b) => a - b);
  const count = keys.reduce((a, k) => a + (h[k] ?? 0), 0);
  if (count === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * count));
  let seen = 0;
  for (const k of keys) {
    seen += h[k] ?? 0;
    if (seen >= rank) return bucketMs(k);
  }
  return bucketMs(keys[keys.length - 1]!);
}

/** Counters of one phase (since the last reset). */
export interface PhaseCounters {
  connectErrors: number;
  connectErrorKinds: Record<string, number>;
  disconnects: number;
  closeCodes: Record<string, number>;
  heartbeatsSent: number;
  heartbeatsAnswered: number;
  heartbeatErrors: number;
  heartbeatsLate: number;
  otherCalls: number;
  histogram: Histogram;
  maxLatencyMs: number;
}

export interface LoadgenReport {
  type: 'ready' | 'stats' | 'final';
  /** CPs of this generator. */
  cps: number;
  open: number;
  booted: number;
  /** Epoch ms: when all CPs were first open / first booted; undefined until then. */
  allOpenAt?: number | undefined;
  allBootedAt?: number | undefined;
  /** Epoch ms of the latest open / boot answer. */
  lastOpenAt?: number | undefined;
  lastBootAt?: number | undefined;
  phaseStartedAt: number;
  phase: PhaseCounters;
}

const newPhase = (): PhaseCounters => ({ connectErrors: 0, connectErrorKinds: {}, disconnects: 0, closeCodes: {}, heartbeatsSent: 0, heartbeatsAnswered: 0, heartbeatErrors: 0, heartbeatsLate: 0, otherCalls: 0, histogram: {}, maxLatencyMs: 0 });
const bump = (o: Record<string, number>, k: string) => (o[k] = (o[k] ?? 0) + 1);
const BOOT = JSON.stringify({ chargePointVendor: 'Bench', chargePointModel: 'Scale' });
const SLOT_MS = 100;

function run(cfg: LoadgenConfig): void {
  const n = cfg.to - cfg.from;
  const sockets: Array<WebSocket | undefined> = new Array(n);
  const isOpen = new Uint8Array(n);
  const isBooted = new Uint8Array(n);
  const hbOutstanding = new Uint8Array(n);
  const hbSentAt = new Float64Array(n);
  const hbSeq = new Uint32Array(n);
  let open = 0;
  let booted = 0;
  let allOpenAt: number | undefined;
  let allBootedAt: number | undefined;
  let lastOpenAt: number | undefined;
  let lastBootAt: number | undefined;
  let phase = newPhase();
  let phaseStartedAt = Date.now();
  let stopping = false;
  const queue: number[] = [];
  let inFlight = 0;

  // Heartbeat wheel: slot s of the period holds the local CPs whose phase falls in it.
  const slots = Math.max(1, Math.round(cfg.heartbeatMs / SLOT_MS));
  const wheel: number[][] = Array.from({ length: slots }, () => []);
  for (let j = 0; j < n; j++) wheel[Math.floor(((cfg.from + j) / cfg.total) * slots) % slots]!.push(j);

  const write = (type: LoadgenReport['type']) => {
    const r: LoadgenReport = { type, cps: n, open, booted, allOpenAt, allBootedAt, lastOpenAt, lastBootAt, phaseStartedAt, phase };
    process.stdout.write(`${JSON.stringify(r)}\n`);
  };

  const reconnectLater = (j: number) => {
    if (stopping) return;
    setTimeout(() => {
      queue.push(j);
      pump();
    }, Math.random() * cfg.jitterMs).unref();
  };

  const onMessage = (j: number, text: string) => {
    // [3,"h<seq>",{...}] heartbeat answer; [3,"b",{...}] boot answer; [4,...] CALLERROR; [2,...] a CALL
    if (text.startsWith('[3,"h')) {
      if (hbOutstanding[j] === 1 && text.startsWith(`[3,"h${hbSeq[j]}"`)) {
        hbOutstanding[j] = 0;
        const ms = performance.now() - hbSentAt[j]!;
        phase.heartbeatsAnswered++;
        bump(phase.histogram as Record<string, number>, String(bucketOf(ms)));
        if (ms > phase.maxLatencyMs) phase.maxLatencyMs = ms;
      }
    } else if (text.startsWith('[3,"b"')) {
      if (isBooted[j] === 0) {
        isBooted[j] = 1;
        booted++;
        lastBootAt = Date.now();
        if (booted === n && allBootedAt === undefined) allBootedAt = lastBootAt;
      }
    } else if (text.startsWith('[4,"h')) {
      hbOutstanding[j] = 0;
      phase.heartbeatErrors++;
    } else if (text.startsWith('[2,')) {
      // The gateway's service sent this CP a CALL; an idle CP does not implement any.
      phase.otherCalls++;
      const a = text.indexOf('"') + 1;
      sockets[j]?.send(`[4,"${text.slice(a, text.indexOf('"', a))}","NotImplemented","",{}]`);
    }
  };

  const connect = (j: number) => {
    const i = cfg.from + j;
    inFlight++;
    let opened = false;
    let settled = false;
    const ws = new WebSocket(`${cfg.url}${cfg.prefix}${i}`, ['ocpp1.6'], { localAddress: cfg.addresses[i % cfg.addresses.length], perMessageDeflate: false, handshakeTimeout: 30_000 });
    sockets[j] = ws;
    const settle = () => {
      if (settled) return;
      settled = true;
      inFlight--;
      pump();
    };
    ws.on('open', () => {
      opened = true;
      settle();
      isOpen[j] = 1;
      open++;
      lastOpenAt = Date.now();
      if (open === n && allOpenAt === undefined) allOpenAt = lastOpenAt;
      ws.send(`[2,"b","BootNotification",${BOOT}]`);
    });
    ws.on('message', (data) => onMessage(j, data.toString()));
    ws.on('error', (err: Error & { code?: string }) => {
      if (opened) return; // the close that follows counts it
      phase.connectErrors++;
      bump(phase.connectErrorKinds, err.code ?? err.message.slice(0, 60));
    });
    ws.on('close', (code) => {
      settle();
      if (sockets[j] === ws) sockets[j] = undefined;
      if (opened) {
        isOpen[j] = 0;
        open--;
        if (isBooted[j] === 1) {
          isBooted[j] = 0;
          booted--;
        }
        hbOutstanding[j] = 0;
        if (stopping) return;
        phase.disconnects++;
        bump(phase.closeCodes, String(code));
      }
      reconnectLater(j);
    });
  };

  function pump(): void {
    while (!stopping && inFlight < cfg.concurrency && queue.length > 0) connect(queue.shift()!);
  }

  let lastSlot = Math.floor((Date.now() - cfg.epochMs) / SLOT_MS);
  const tick = setInterval(() => {
    const now = Math.floor((Date.now() - cfg.epochMs) / SLOT_MS);
    for (let s = lastSlot + 1; s <= now; s++) {
      for (const j of wheel[((s % slots) + slots) % slots]!) {
        if (isBooted[j] !== 1) continue;
        if (hbOutstanding[j] === 1) {
          phase.heartbeatsLate++;
          continue;
        }
        hbOutstanding[j] = 1;
        hbSentAt[j] = performance.now();
        phase.heartbeatsSent++;
        sockets[j]?.send(`[2,"h${++hbSeq[j]!}","Heartbeat",{}]`);
      }
    }
    lastSlot = now;
  }, SLOT_MS);
  const report = setInterval(() => write('stats'), cfg.reportMs);

  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const { cmd } = JSON.parse(line) as { cmd: string };
    if (cmd === 'connect') {
      for (let j = 0; j < n; j++) queue.push(j);
      pump();
    } else if (cmd === 'reset') {
      phase = newPhase();
      phaseStartedAt = Date.now();
      write('stats');
    } else if (cmd === 'stop') {
      stopping = true;
      clearInterval(tick);
      clearInterval(report);
      for (const ws of sockets) ws?.terminate();
      write('final');
      process.stdout.write('', () => process.exit(0));
    }
  });
  // The parent gone (stdin closed) means stop: no orphan keeps sockets open.
  lines.on('close', () => process.exit(0));
  write('ready');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run(JSON.parse(process.env['SCALE_LOADGEN'] ?? process.argv[2] ?? '{}') as LoadgenConfig);
}
