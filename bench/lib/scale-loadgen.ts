// One load-generator process of the `scale` scenario (bench/scale.ts, issue 16): it holds its share of
// idle charge points, each bound to a chosen loopback source address, and reports to the parent over
// stdout JSON lines. A CP is a minimal WebSocket client on a raw `node:net` socket (CpSocket below), not
// `ws`: a `ws` client cost about as much CPU per handshake as the gateway's side, so a large storm
// measured the generators as much as the gateway. Commands come on stdin, one JSON object per line:
//   {"cmd":"connect"}  open every CP (at most `concurrency` handshakes in flight), BootNotification each
//   {"cmd":"reset"}    start a new phase: the phase counters and the latency histogram restart
//   {"cmd":"stop"}     terminate every socket, send a last report, exit
// A CP whose socket closes (or whose connect fails) is reconnected at once after a small random jitter,
// and boots again. Heartbeats: CP i of n sends one every `heartbeatMs`, at phase i/n of the period (all
// load generators share the epoch, so the whole fleet's heartbeats are spread evenly); a CP sends its
// next one only once the previous one is answered (a due one skipped instead is counted `late`).
// Round-trip latencies (CP → gateway → MQTT service → gateway → CP) go into a log-scale histogram.
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
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

// ---- a charge point's WebSocket: RFC 6455, client side, only what an idle OCPP CP needs ----
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/**
 * Handshake keys (16 random bytes, base64) with the Sec-WebSocket-Accept each one expects, used in
 * turn: the answer is checked without a SHA-1 per handshake. Reusing a key across sockets is harmless
 * here — it only proves the server speaks WebSocket, it is no secret.
 */
const KEY_POOL = Array.from({ length: 256 }, () => {
  const key = randomBytes(16).toString('base64');
  return { key, accept: createHash('sha1').update(key + WS_GUID).digest('base64') };
});
let keyTurn = 0;
/**
 * Random masks, 4 bytes each, one per socket for all its frames. RFC 6455 asks for a fresh mask per
 * frame against cache poisoning by proxies; on loopback there is none, and the gateway only requires the
 * frames masked (it unmasks them, so the XOR below is real).
 */
const MASK_POOL = randomBytes(4 * 1024);
let maskTurn = 0;
const HEAD_END = Buffer.from('\r\n\r\n');
/** An answer head longer than this is not a WebSocket handshake worth waiting for. */
const MAX_HEAD = 16 * 1024;

const HANDSHAKE = 0;
const OPEN = 1;
/** A close frame received (or a protocol error): our close answer is sent, the TCP close is awaited. */
const CLOSING = 2;
/** The handshake failed; the socket is destroyed. */
const FAILED = 3;

/** One handler object shared by every socket of a generator (no closures per connection in the caller). */
export interface CpSocketEvents {
  open(s: CpSocket): void;
  message(s: CpSocket, text: string): void;
  /** The handshake failed: a socket error (its errno code), `http_<status>` for a non-101 answer, … */
  failed(s: CpSocket, kind: string): void;
  /**
   * The TCP socket closed, once, after `open` or `failed`: `code` from the server's close frame (1005
   * when it carried none), 1006 when the socket ended without one.
   */
  closed(s: CpSocket, code: number): void;
}

export interface CpSocketTarget {
  host: string;
  port: number;
  /** The Host header: host[:port]. */
  hostHeader: string;
  path: string;
  localAddress?: string | undefined;
  handshakeTimeoutMs: number;
}

/**
 * A WebSocket client on a raw TCP socket: one upgrade request (subprotocol ocpp1.6), the 101 answer
 * checked (status, subprotocol, Sec-WebSocket-Accept), then masked text frames out and server frames
 * parsed incrementally across TCP chunks (fragments, ping → pong, close → close answer).
 */
export class CpSocket {
  opened = false;
  #state = HANDSHAKE;
  #closeCode = 1006;
  readonly #sock: net.Socket;
  readonly #accept: string;
  readonly #mask: Buffer;
  /** Bytes received and not yet consumed (an incomplete head or frame), their total, and how many the next step needs. */
  #chunks: Buffer[] = [];
  #buffered = 0;
  #need = 0;
  /** The fragments of a message still waiting for its final frame. */
  #fragments: Buffer[] | undefined;

  constructor(readonly j: number, readonly events: CpSocketEvents, target: CpSocketTarget) {
    const { key, accept } = KEY_POOL[keyTurn]!;
    keyTurn = (keyTurn + 1) % KEY_POOL.length;
    this.#accept = accept;
    this.#mask = MASK_POOL.subarray(maskTurn, maskTurn + 4);
    maskTurn = (maskTurn + 4) % MASK_POOL.length;
    const sock = net.connect({ host: target.host, port: target.port, localAddress: target.localAddress, noDelay: true });
    this.#sock = sock;
    // The socket's inactivity timer, like ws's handshakeTimeout (a request timeout on the same socket);
    // it covers the TCP connect too, and is cleared at the 101.
    sock.setTimeout(target.handshakeTimeoutMs);
    // Written before the TCP connect completes: net queues it.
    sock.write(`GET ${target.path} HTTP/1.1\r\nHost: ${target.hostHeader}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n`);
    sock.on('data', (chunk: Buffer) => this.#onData(chunk));
    sock.on('timeout', () => this.#fail('handshake_timeout'));
    sock.on('error', (err: Error & { code?: string }) => this.#fail(err.code ?? err.message.slice(0, 60)));
    sock.on('close', () => {
      this.#fail('closed_before_101');
      this.events.closed(this, this.#closeCode);
    });
  }

  send(text: string): void {
    if (this.#state === OPEN) this.#writeFrame(0x1, text);
  }

  terminate(): void {
    this.#sock.destroy();
  }

  /** Counts a failed handshake once; after the 101 a socket error is only the 1006 close that follows. */
  #fail(kind: string): void {
    if (this.#state !== HANDSHAKE) return;
    this.#state = FAILED;
    this.events.failed(this, kind);
    this.#sock.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#state !== HANDSHAKE && this.#state !== OPEN) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    if (this.#buffered < this.#need) return;
    let buf = this.#chunks.length === 1 ? chunk : Buffer.concat(this.#chunks, this.#buffered);
    this.#chunks = [];
    this.#buffered = 0;
    this.#need = 0;
    if (this.#state === HANDSHAKE) {
      const end = buf.indexOf(HEAD_END);
      if (end < 0) {
        if (buf.length > MAX_HEAD) return this.#fail('head_too_large');
        this.#keep(buf, buf.length + 1);
        return;
      }
      if (!this.#handshake(buf.toString('latin1', 0, end + 2))) return;
      buf = buf.subarray(end + 4);
      if (buf.length === 0) return;
    }
    this.#parseFrames(buf);
  }

  #keep(rest: Buffer, need: number): void {
    this.#chunks = [rest];
    this.#buffered = rest.length;
    this.#need = need;
  }

  /** `head` is the status line and headers, each ending in CRLF. True when the upgrade succeeded. */
  #handshake(head: string): boolean {
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1];
    if (status !== '101') {
      this.#fail(status === undefined ? 'bad_response' : `http_${status}`);
      return false;
    }
    // Header names are case-insensitive, values not (the accept is base64): found in a lowered copy, read in the original.
    const lower = head.toLowerCase();
    const header = (name: string): string | undefined => {
      const at = lower.indexOf(`\r\n${name}:`);
      return at < 0 ? undefined : head.slice(at + name.length + 3, head.indexOf('\r\n', at + 2)).trim();
    };
    const protocol = header('sec-websocket-protocol');
    if (protocol !== 'ocpp1.6') {
      this.#fail(protocol === undefined ? 'no_subprotocol' : `subprotocol_${protocol.slice(0, 40)}`);
      return false;
    }
    if (header('sec-websocket-accept') !== this.#accept) {
      this.#fail('bad_accept');
      return false;
    }
    this.#state = OPEN;
    this.opened = true;
    this.#sock.setTimeout(0);
    this.events.open(this);
    return this.#state === OPEN;
  }

  #parseFrames(buf: Buffer): void {
    let off = 0;
    while (this.#state === OPEN) {
      const left = buf.length - off;
      if (left === 0) return;
      if (left < 2) return this.#keep(buf.subarray(off), 2);
      const b0 = buf[off]!;
      const b1 = buf[off + 1]!;
      if ((b1 & 0x80) !== 0) return this.#protocolError(1002); // a server's frames are never masked
      let len = b1 & 0x7f;
      let header = 2;
      if (len === 126) {
        if (left < 4) return this.#keep(buf.subarray(off), 4);
        len = buf.readUInt16BE(off + 2);
        header = 4;
      } else if (len === 127) {
        if (left < 10) return this.#keep(buf.subarray(off), 10);
        const high = buf.readUInt32BE(off + 2);
        // Beyond 2^53 is not a number; beyond a few MiB is no OCPP message either.
        if (high > 0) return this.#protocolError(1009);
        len = buf.readUInt32BE(off + 6);
        header = 10;
      }
      if (left < header + len) return this.#keep(buf.subarray(off), header + len);
      const payload = buf.subarray(off + header, off + header + len);
      off += header + len;
      this.#frame((b0 & 0x80) !== 0, b0 & 0x0f, payload);
    }
  }

  #frame(fin: boolean, opcode: number, payload: Buffer): void {
    switch (opcode) {
      case 0x0: // continuation
        if (this.#fragments === undefined) return this.#protocolError(1002);
        this.#fragments.push(payload);
        if (fin) {
          const whole = Buffer.concat(this.#fragments);
          this.#fragments = undefined;
          this.events.message(this, whole.toString());
        }
        return;
      case 0x1: // text
      case 0x2: // binary: no OCPP-J message, read as text as the `ws` client's toString() did
        if (this.#fragments !== undefined) return this.#protocolError(1002);
        if (fin) this.events.message(this, payload.toString());
        else this.#fragments = [payload];
        return;
      case 0x8: {
        // close: its code is what the generator reports; the answer echoes it, then our side of TCP ends.
        this.#closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        this.#state = CLOSING;
        this.#writeFrame(0x8, payload.subarray(0, payload.length >= 2 ? 2 : 0));
        this.#sock.end();
        return;
      }
      case 0x9: // ping → pong with the same payload
        this.#writeFrame(0xa, payload);
        return;
      case 0xa: // pong: nothing asked one
        return;
      default:
        this.#protocolError(1002);
    }
  }

  #protocolError(code: number): void {
    this.#closeCode = code;
    this.#state = CLOSING;
    this.#writeFrame(0x8, Buffer.from([code >> 8, code & 0xff]));
    this.#sock.end();
  }

  /** One final frame, masked as RFC 6455 requires of a client (the server closes with 1002 otherwise). */
  #writeFrame(opcode: number, payload: string | Buffer): void {
    const len = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    const header = len < 126 ? 2 : len < 65_536 ? 4 : 10;
    const frame = Buffer.allocUnsafe(header + 4 + len);
    frame[0] = 0x80 | opcode;
    if (header === 2) {
      frame[1] = 0x80 | len;
    } else if (header === 4) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(len, 2);
    } else {
      frame[1] = 0x80 | 127;
      frame.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
      frame.writeUInt32BE(len >>> 0, 6);
    }
    const mask = this.#mask;
    mask.copy(frame, header);
    const at = header + 4;
    if (typeof payload === 'string') frame.write(payload, at);
    else payload.copy(frame, at);
    for (let k = 0; k < len; k++) frame[at + k] = frame[at + k]! ^ mask[k & 3]!;
    this.#sock.write(frame);
  }
}

function run(cfg: LoadgenConfig): void {
  const n = cfg.to - cfg.from;
  const sockets: Array<CpSocket | undefined> = new Array(n);
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

  const url = new URL(cfg.url);
  const port = Number(url.port === '' ? 80 : url.port);
  // One handler object for every socket of this generator.
  const events: CpSocketEvents = {
    open(s) {
      const j = s.j;
      inFlight--;
      pump();
      isOpen[j] = 1;
      open++;
      lastOpenAt = Date.now();
      if (open === n && allOpenAt === undefined) allOpenAt = lastOpenAt;
      s.send(`[2,"b","BootNotification",${BOOT}]`);
    },
    message: (s, text) => onMessage(s.j, text),
    failed(_s, kind) {
      phase.connectErrors++;
      bump(phase.connectErrorKinds, kind);
    },
    closed(s, code) {
      const j = s.j;
      if (sockets[j] === s) sockets[j] = undefined;
      if (s.opened) {
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
      } else {
        inFlight--;
        pump();
      }
      reconnectLater(j);
    },
  };

  const connect = (j: number) => {
    const i = cfg.from + j;
    inFlight++;
    sockets[j] = new CpSocket(j, events, { host: url.hostname, port, hostHeader: url.host, path: `${url.pathname}${cfg.prefix}${i}`, localAddress: cfg.addresses[i % cfg.addresses.length], handshakeTimeoutMs: 30_000 });
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
