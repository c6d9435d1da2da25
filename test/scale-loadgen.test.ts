// The scale bench's load generator (bench/lib/scale-loadgen.ts): its own WebSocket client on raw TCP
// sockets, spawned as bench/scale.ts spawns it (config in SCALE_LOADGEN, commands on stdin, JSON reports
// on stdout), against real peers on ephemeral ports: a `ws` server (which closes with 1002 on any
// unmasked client frame) and a hand-written one that reads the generator's frames byte by byte.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import type { LoadgenConfig, LoadgenReport } from '../bench/lib/scale-loadgen.js';
import { defer } from './support/cleanup.js';
import { within } from './support/harness.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LOADGEN = fileURLToPath(new URL('../bench/lib/scale-loadgen.ts', import.meta.url));
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** A spawned tsx process starts slowly on a busy 2-core machine. */
const START_MS = 60_000;
const WAIT_MS = 30_000;

interface Generator {
  child: ChildProcess;
  last: LoadgenReport | undefined;
  send(cmd: string): void;
  /** The first report (already received or future) for which `done` holds; rejects after `ms`. */
  report(done: (r: LoadgenReport) => boolean, what: string, ms?: number): Promise<LoadgenReport>;
}

/** Spawns the generator exactly as bench/scale.ts startLoadgen does and waits for its `ready` line. */
async function startGenerator(t: TestContext, cfg: LoadgenConfig): Promise<Generator> {
  const child = spawn(process.execPath, ['--import', 'tsx', LOADGEN], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, SCALE_LOADGEN: JSON.stringify(cfg) } });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  defer(t, async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  child.stdin?.on('error', () => undefined);
  let waiters: Array<{ done: (r: LoadgenReport) => boolean; resolve: (r: LoadgenReport) => void }> = [];
  const g: Generator = {
    child,
    last: undefined,
    send: (cmd) => child.stdin?.write(`${JSON.stringify({ cmd })}\n`),
    report(done, what, ms = WAIT_MS) {
      if (g.last !== undefined && done(g.last)) return Promise.resolve(g.last);
      const waiter = { done, resolve: (_r: LoadgenReport) => undefined as void };
      const arrived = new Promise<LoadgenReport>((resolve) => {
        waiter.resolve = resolve;
        waiters.push(waiter);
      });
      const gone = new Promise<never>((_resolve, reject) => child.once('exit', (code) => reject(new Error(`the load generator exited (${code}) waiting for ${what}`))));
      return within(Promise.race([arrived, gone]), `a report with ${what}`, ms).catch((err: Error) => {
        // The last report at the deadline, not at the call: what the generator had reached.
        throw new Error(`${err.message} (last report: ${JSON.stringify(g.last)})`);
      }).finally(() => {
        waiters = waiters.filter((w) => w !== waiter);
      });
    },
  };
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const r = JSON.parse(line) as LoadgenReport;
    g.last = r;
    waiters = waiters.filter((w) => {
      if (!w.done(r)) return true;
      w.resolve(r);
      return false;
    });
  });
  await g.report((r) => r.type === 'ready', 'type ready', START_MS);
  return g;
}

/** Stops the generator the way the bench does: a `final` report, then the process exits 0. */
async function stopGenerator(g: Generator): Promise<void> {
  const exited = new Promise<number | null>((resolve) => g.child.once('exit', (code) => resolve(code)));
  const final = g.report((r) => r.type === 'final', 'type final');
  g.send('stop');
  await final;
  assert.equal(await within(exited, 'the load generator to exit'), 0);
}

function listen(t: TestContext, server: Server | net.Server): Promise<number> {
  defer(t, () => new Promise<void>((resolve) => {
    server.close(() => resolve());
    if ('closeAllConnections' in server) server.closeAllConnections();
  }));
  return within(new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port))), 'the peer to listen');
}

const config = (port: number, n: number, heartbeatMs: number): LoadgenConfig => ({
  url: `ws://127.0.0.1:${port}/ocpp/`, from: 0, to: n, total: n, prefix: 'CP', addresses: ['127.0.0.1'],
  concurrency: n, heartbeatMs, epochMs: Date.now(), jitterMs: 20, reportMs: 100,
});

test('the load generator holds its CPs against a ws server: boot, heartbeats, fragments, a 64-bit frame, ping, close 4000, a 503', async (t) => {
  const http = createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (offered) => (offered.has('ocpp1.6') ? 'ocpp1.6' : false) });
  defer(t, () => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
  });
  const attempts = new Map<string, number>();
  const heartbeats = new Map<string, number>();
  const serverErrors: string[] = [];
  const serverCloseCodes: number[] = [];
  const pongs: string[] = [];
  /** Ids of the CALLs the generator answered with a CALLERROR (it implements none). */
  const answeredCalls: string[] = [];
  const big = JSON.stringify([2, 'big', 'DataTransfer', { vendorId: 'Bench', data: 'x'.repeat(70_000) }]);
  const fragmented = JSON.stringify([2, 'fragmented', 'DataTransfer', { vendorId: 'Bench', data: 'y'.repeat(300) }]);

  // What each CP meets once booted: CP0 a CALL in three frames, CP1 one CALL of > 65,535 bytes (a
  // 64-bit length, several TCP chunks), CP2 a ping, CP3 (first connection) a close with 4000.
  const afterBoot = (ws: WebSocket, cp: string, attempt: number) => {
    if (cp === 'CP0') {
      ws.send(fragmented.slice(0, 100), { fin: false });
      ws.send(fragmented.slice(100, 200), { fin: false });
      ws.send(fragmented.slice(200), { fin: true });
    } else if (cp === 'CP1') {
      ws.send(big);
    } else if (cp === 'CP2') {
      ws.ping('scale-ping');
    } else if (cp === 'CP3' && attempt === 1) {
      ws.close(4000, 'bench test');
    }
  };
  http.on('upgrade', (req, socket, head) => {
    const cp = (req.url ?? '').slice('/ocpp/'.length);
    const attempt = (attempts.get(cp) ?? 0) + 1;
    attempts.set(cp, attempt);
    if (cp === 'CP4' && attempt === 1) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      // ws reports a client's protocol violations (an unmasked frame: WS_ERR_EXPECTED_MASK) here, then closes with 1002.
      ws.on('error', (err) => serverErrors.push(`${cp}: ${String(err)}`));
      ws.on('close', (code) => serverCloseCodes.push(code));
      ws.on('pong', (data) => pongs.push(`${cp}:${data.toString()}`));
      ws.on('message', (data) => {
        let msg: [number, string, string?];
        try {
          msg = JSON.parse(data.toString()) as [number, string, string?];
        } catch {
          serverErrors.push(`${cp}: not JSON: ${data.toString().slice(0, 40)}`);
          return;
        }
        const [type, id, action] = msg;
        if (type === 2 && action === 'BootNotification') {
          ws.send(JSON.stringify([3, id, { status: 'Accepted', currentTime: new Date().toISOString(), interval: 1 }]));
          afterBoot(ws, cp, attempt);
        } else if (type === 2 && action === 'Heartbeat') {
          heartbeats.set(cp, (heartbeats.get(cp) ?? 0) + 1);
          ws.send(JSON.stringify([3, id, { currentTime: new Date().toISOString() }]));
        } else if (type === 4) {
          answeredCalls.push(id);
        }
      });
    });
  });
  const port = await listen(t, http);

  const g = await startGenerator(t, config(port, 5, 200));
  g.send('connect');
  const r = await g.report((x) => x.open === 5 && x.booted === 5 && x.phase.closeCodes['4000'] === 1
    && x.phase.connectErrorKinds['http_503'] === 1 && x.phase.heartbeatsAnswered >= 10 && x.phase.otherCalls === 2
    && pongs.length > 0 && [0, 1, 2, 3, 4].every((k) => (heartbeats.get(`CP${k}`) ?? 0) > 0), 'all 5 open and booted, the close, the 503, heartbeats, both CALLs answered and the pong');

  assert.deepEqual(pongs, ['CP2:scale-ping']);
  assert.deepEqual(answeredCalls.sort(), ['big', 'fragmented'], 'the fragmented and the 64-bit-length CALL arrived whole (the generator answered their ids)');
  assert.equal(r.phase.connectErrors, 1);
  assert.deepEqual(r.phase.connectErrorKinds, { http_503: 1 });
  assert.equal(attempts.get('CP4'), 2, 'the refused CP connected again');
  assert.equal(r.phase.disconnects, 1);
  assert.deepEqual(r.phase.closeCodes, { 4000: 1 });
  assert.equal(attempts.get('CP3'), 2, 'the closed CP reconnected');
  assert.equal(r.phase.heartbeatErrors, 0);
  assert.ok(Object.keys(r.phase.histogram).length > 0, 'heartbeat round trips are in the histogram');
  assert.ok(r.allOpenAt !== undefined && r.allBootedAt !== undefined);
  // Every client frame was masked: ws would have failed the socket and closed it with 1002.
  assert.deepEqual(serverErrors, []);
  assert.ok(!serverCloseCodes.includes(1002), `server close codes: ${serverCloseCodes.join(', ')}`);

  await stopGenerator(g);
});

/** Frames a client sends, parsed by hand (7- and 16-bit lengths suffice for the generator's messages). */
interface ClientFrame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  /** The payload as sent on the wire, and unmasked. */
  wire: Buffer;
  payload: Buffer;
}

function readClientFrames(socket: net.Socket, initial: Buffer, onFrame: (f: ClientFrame) => void): void {
  let buf = initial;
  const parse = () => {
    for (;;) {
      if (buf.length < 2) return;
      const masked = (buf[1]! & 0x80) !== 0;
      let len = buf[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        at = 4;
      }
      const maskAt = at;
      if (masked) at += 4;
      if (buf.length < at + len) return;
      const wire = Buffer.from(buf.subarray(at, at + len));
      const payload = Buffer.from(wire);
      if (masked) for (let k = 0; k < len; k++) payload[k] = payload[k]! ^ buf[maskAt + (k & 3)]!;
      const frame = { fin: (buf[0]! & 0x80) !== 0, opcode: buf[0]! & 0x0f, masked, wire, payload };
      buf = buf.subarray(at + len);
      onFrame(frame);
    }
  };
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    parse();
  });
  parse();
}

/** An unmasked server frame with a 7-bit length. */
const serverFrame = (opcode: number, payload: Buffer) => Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]);

test('the load generator masks its frames, answers a ping and a close, and refuses a 101 without ocpp1.6 (a hand-written peer)', async (t) => {
  let attempts = 0;
  const frames: Array<ClientFrame & { attempt: number }> = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    let head = Buffer.alloc(0);
    const onHead = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onHead);
      const request = head.toString('latin1', 0, end);
      const rest = head.subarray(end + 4);
      const attempt = ++attempts;
      const key = /\r\nsec-websocket-key: *([^\r]+)/i.exec(request)?.[1] ?? '';
      const accept = createHash('sha1').update(key + WS_GUID).digest('base64');
      assert.match(request, /^GET \/ocpp\/CP0 HTTP\/1\.1\r\n/);
      assert.match(request, /\r\nsec-websocket-protocol: *ocpp1\.6\r?$/im);
      // The first answer lacks the subprotocol: the generator must count a connect error and retry.
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${attempt === 1 ? '' : 'Sec-WebSocket-Protocol: ocpp1.6\r\n'}\r\n`);
      if (attempt === 1) return;
      readClientFrames(socket, rest, (f) => {
        frames.push({ ...f, attempt });
        const text = f.payload.toString();
        if (f.opcode === 1 && text.startsWith('[2,"b","BootNotification"')) {
          // The answer in three writes, split inside the header: the client must reassemble across chunks.
          const answer = serverFrame(1, Buffer.from(JSON.stringify([3, 'b', { status: 'Accepted', currentTime: new Date().toISOString(), interval: 60 }])));
          socket.write(answer.subarray(0, 1));
          setImmediate(() => {
            socket.write(answer.subarray(1, 9));
            setImmediate(() => {
              socket.write(answer.subarray(9));
              if (attempt === 2) socket.write(serverFrame(9, Buffer.from('raw-ping')));
            });
          });
        } else if (f.opcode === 0xa && attempt === 2) {
          socket.write(serverFrame(8, Buffer.from([4001 >> 8, 4001 & 0xff])));
        } else if (f.opcode === 8) {
          socket.end();
        }
      });
    };
    socket.on('data', onHead);
  });
  defer(t, () => {
    for (const s of sockets) s.destroy();
  });
  const port = await listen(t, server);

  const g = await startGenerator(t, config(port, 1, 60_000));
  g.send('connect');
  const r = await g.report((x) => x.booted === 1 && x.phase.closeCodes['4001'] === 1 && attempts >= 3, 'the CP closed with 4001 and booted again');

  assert.deepEqual(r.phase.connectErrorKinds, { no_subprotocol: 1 });
  const ofSecond = frames.filter((f) => f.attempt === 2);
  assert.deepEqual(ofSecond.map((f) => f.opcode), [1, 0xa, 8], 'BootNotification, the pong, the close answer');
  for (const f of frames) {
    assert.ok(f.masked, `opcode ${f.opcode} masked`);
    assert.ok(f.fin);
  }
  const boot = ofSecond[0]!;
  assert.match(boot.payload.toString(), /^\[2,"b","BootNotification",\{"chargePointVendor":"Bench"/);
  assert.notDeepEqual(boot.wire, boot.payload, 'the payload bytes on the wire are XORed with the mask');
  assert.equal(ofSecond[1]!.payload.toString(), 'raw-ping', 'the pong echoes the ping payload');
  assert.equal(ofSecond[2]!.payload.readUInt16BE(0), 4001, 'the close answer echoes the code');

  await stopGenerator(g);
});
