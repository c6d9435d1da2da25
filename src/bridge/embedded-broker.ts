// The embedded broker: aedes in this process, serving MQTT over TCP and WebSocket to services. The
// gateway itself publishes and subscribes through aedes directly: no socket, no MQTT encoding. [SPEC §7]
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createHttpServer, STATUS_CODES, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { Aedes, type AedesPublishPacket } from 'aedes';
import { indexedMemoryPersistence } from './retained-store.js';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { BrokerMessageHandler, BrokerPort, PublishOptions } from './broker.js';
import { closeServer, listen } from '../transport/listen.js';
import { batchWrites } from './batch-writes.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OriginPolicy } from '../transport/web-guards.js';

/** sockaddr_un.sun_path holds 108 bytes on Linux (104 on BSD and macOS), the terminating NUL included. */
const MAX_UNIX_SOCKET_PATH = 103;

/** The embedded broker's login check: constant-time comparison of both fields (3.1.1 return code 4 on mismatch). */
function checkCredentials(expected: { readonly username: string; readonly password: string }) {
  const digest = (value: string | Buffer) => createHash('sha256').update(value).digest();
  const user = digest(expected.username);
  const pass = digest(expected.password);
  return (_client: unknown, username: Readonly<string | undefined>, password: Readonly<Buffer | undefined>, done: (error: (Error & { returnCode: 4 }) | null, success: boolean | null) => void): void => {
    const userOk = timingSafeEqual(digest(username ?? ''), user);
    const passOk = timingSafeEqual(digest(password ?? Buffer.alloc(0)), pass);
    if (username !== undefined && userOk && passOk) done(null, true);
    else done(Object.assign(new Error('bad user name or password'), { returnCode: 4 as const }), false);
  };
}

/** Answers a refused WebSocket upgrade with a plain HTTP status and closes the socket. */
function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  const body = `${reason}\n`;
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Ocpp-Gateway-Reason: ${reason}\r\n\r\n${body}`);
}

const MAX_INFLIGHT = 64;
const noop = () => undefined;

export interface EmbeddedBrokerOptions {
  readonly host: string;
  readonly port: number;
  readonly wsEnabled: boolean;
  readonly wsPort: number;
  readonly wsPath: string;
  readonly qos: 0 | 1 | 2;
  /** When set, every MQTT client (TCP and WebSocket) must log in with these. */
  readonly credentials?: { readonly username: string; readonly password: string } | undefined;
  /** Browser origins allowed on the WebSocket listener (mqtt.embedded.allowed_origins). [SPEC §3] */
  readonly allowedOrigins?: readonly string[];
  /** A WebSocket upgrade refused for its Origin (already answered 403): for the log and metrics. */
  readonly onOriginRefused?: (origin: string, remoteAddress: string | undefined) => void;
}

export interface EmbeddedBrokerAddresses {
  /** The address the listeners are bound to, as the OS reports it. */
  readonly host: string;
  readonly mqttPort: number;
  readonly wsPort: number | undefined;
}

export class EmbeddedBroker implements BrokerPort {
  readonly kind = 'embedded' as const;
  readonly #aedes: Aedes;
  readonly #tcp: NetServer;
  readonly #http: HttpServer | undefined;
  readonly #wss: WebSocketServer | undefined;
  readonly #qos: 0 | 1 | 2;
  readonly #sockets = new Set<Socket>();
  #internal: NetServer | undefined;
  #handler: BrokerMessageHandler = () => undefined;
  readonly #deliver = (packet: AedesPublishPacket, done: () => void): void => {
    this.#handler(packet.topic, packet.payload as Buffer);
    done();
  };
  addresses: EmbeddedBrokerAddresses = { host: '', mqttPort: 0, wsPort: undefined };
  /**
   * Publishes in flight inside aedes, and the ones waiting. aedes's mqemitter queues emits beyond 100
   * in flight (slow subscribers keep them in flight) and drains that queue by recursion; a burst of tens
   * of thousands (19,000 charge points dropping at once publish two each) overflowed the stack. Keeping
   * ours to MAX_INFLIGHT and feeding the rest from a backlog, on a fresh stack, bounds that queue.
   */
  #inflight = 0;
  readonly #backlog: Array<() => void> = [];
  #backlogHead = 0;
  #drainScheduled = false;

  private constructor(aedes: Aedes, options: EmbeddedBrokerOptions) {
    this.#aedes = aedes;
    this.#qos = options.qos;
    // Nagle off on every MQTT socket: with it on, small publishes wait ~40 ms for ACKs (DESIGN.md).
    this.#tcp = createNetServer({ noDelay: true }, (socket) => {
      this.#track(socket);
      batchWrites(socket);
      aedes.handle(socket);
    });
    if (options.wsEnabled) {
      this.#http = createHttpServer((_req, res) => res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket: upgrade required\n'));
      this.#http.on('connection', (socket: Socket) => this.#track(socket));
      const wss = new WebSocketServer({ noServer: true, path: options.wsPath });
      this.#wss = wss;
      const origins = new OriginPolicy(options.allowedOrigins ?? []);
      this.#http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        // [SPEC §3] a browser page must not reach the broker: any page the operator opens may try
        // ws://127.0.0.1:8083/mqtt. Browsers always send Origin; MQTT libraries outside one do not.
        const origin = req.headers.origin;
        if (!origins.allows(origin)) {
          refuseUpgrade(socket, 403, 'origin_not_allowed');
          options.onOriginRefused?.(origin ?? '', req.socket.remoteAddress);
          return;
        }
        wss.handleUpgrade(req, socket, head, (ws) => aedes.handle(createWebSocketStream(ws), req));
      });
    }
  }

  /**
   * [SPEC §7 Workers] a second MQTT listener for the gateway's own worker processes (ocpp.workers > 1),
   * with its own credentials, which only it accepts. A unix socket in a fresh directory only this user
   * may enter (mkdtemp, mode 0700): every message of every charge point crosses this link twice, and a
   * unix socket costs the kernel less per write than loopback TCP (`writev`, kernel time included, led
   * the primary's profile of a connect storm; docs/performance.md, Scale). Where the socket path would be
   * too long for the platform (a long TMPDIR), a free loopback TCP port instead. Returns the URL the
   * workers connect to (`mqtt+unix:///…/mqtt.sock` or `mqtt://127.0.0.1:PORT`).
   */
  async listenInternal(credentials: { readonly username: string; readonly password: string }): Promise<string> {
    const internal = new WeakSet<object>();
    const internalCheck = checkCredentials(credentials);
    type Authenticate = ReturnType<typeof checkCredentials>;
    const aedes = this.#aedes as unknown as { authenticate: Authenticate };
    const publicCheck = aedes.authenticate;
    aedes.authenticate = (client, username, password, done) => ((internal.has((client as { conn: object }).conn) ? internalCheck : publicCheck)(client, username, password, done));
    const server = createNetServer({ noDelay: true }, (socket) => {
      internal.add(socket);
      this.#track(socket);
      batchWrites(socket);
      this.#aedes.handle(socket);
    });
    this.#internal = server;
    const dir = mkdtempSync(join(tmpdir(), 'ocpp-gateway-'));
    const path = join(dir, 'mqtt.sock');
    if (Buffer.byteLength(path) <= MAX_UNIX_SOCKET_PATH) {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      });
      // The socket file goes with the listener (Node unlinks it on close); the directory after it.
      server.once('close', () => rmSync(dir, { recursive: true, force: true }));
      return `mqtt+unix://${path}`;
    }
    rmSync(dir, { recursive: true, force: true });
    return `mqtt://127.0.0.1:${(await listen(server, '127.0.0.1', 0, { what: 'internal MQTT listener for workers', key: 'ocpp.workers', flag: '--workers' })).port}`;
  }

  #track(socket: Socket): void {
    socket.setNoDelay(true);
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }

  static async start(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
    // Retained messages indexed by topic level: a SUBSCRIBE costs the levels it names, not one test
    // per retained presence message (src/bridge/retained-store.ts).
    const persistence = indexedMemoryPersistence();
    const aedes = await Aedes.createBroker(options.credentials ? { persistence, authenticate: checkCredentials(options.credentials) } : { persistence });
    const broker = new EmbeddedBroker(aedes, options);
    try {
      const tcp = await listen(broker.#tcp, options.host, options.port, {
        what: 'embedded MQTT broker', key: 'mqtt.embedded.port', flag: '--mqtt-port',
        hint: `or use the broker already running there with --mqtt-url mqtt://127.0.0.1:${options.port}`,
      });
      let wsPort: number | undefined;
      if (broker.#http) {
        wsPort = (await listen(broker.#http, options.host, options.wsPort, { what: 'embedded MQTT-over-WebSocket', key: 'mqtt.embedded.ws_port', flag: '--mqtt-ws-port' })).port;
      }
      broker.addresses = { host: tcp.address, mqttPort: tcp.port, wsPort };
    } catch (err) {
      await broker.close();
      throw err;
    }
    return broker;
  }

  publish(topic: string, payload: string, options?: PublishOptions): Promise<void> {
    const retain = options?.retain ?? false;
    return new Promise((resolve, reject) => {
      if (this.#inflight < MAX_INFLIGHT && this.#backlog.length === this.#backlogHead) this.#send(topic, payload, retain, resolve, reject);
      else this.#backlog.push(() => this.#send(topic, payload, retain, resolve, reject));
    });
  }

  #send(topic: string, payload: string, retain: boolean, resolve: () => void, reject: (err: Error) => void): void {
    this.#inflight++;
    this.#aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: this.#qos, retain, dup: false }, (err) => {
      this.#inflight--;
      if (this.#backlog.length !== this.#backlogHead) this.#scheduleDrain();
      if (err) reject(err);
      else resolve();
    });
  }

  #scheduleDrain(): void {
    if (this.#drainScheduled || this.#backlog.length === this.#backlogHead) return;
    this.#drainScheduled = true;
    setImmediate(() => {
      this.#drainScheduled = false;
      while (this.#inflight < MAX_INFLIGHT && this.#backlogHead < this.#backlog.length) {
        const run = this.#backlog[this.#backlogHead] as () => void;
        this.#backlog[this.#backlogHead++] = noop;
        run();
      }
      if (this.#backlogHead === this.#backlog.length) {
        this.#backlog.length = 0;
        this.#backlogHead = 0;
      } else this.#scheduleDrain();
    });
  }

  subscribe(filter: string): Promise<void> {
    return new Promise((resolve) => this.#aedes.subscribe(filter, this.#deliver, () => resolve()));
  }

  unsubscribe(filter: string): Promise<void> {
    return new Promise((resolve) => this.#aedes.unsubscribe(filter, this.#deliver, () => resolve()));
  }

  setMessageHandler(handler: BrokerMessageHandler): void {
    this.#handler = handler;
  }

  isConnected(): boolean {
    return !this.#aedes.closed;
  }

  onConnectionChange(): void {
    // In-process: connected for as long as it runs.
  }

  /** Connected MQTT clients (services), for the API. */
  get clientCount(): number {
    return this.#aedes.connectedClients;
  }

  async close(): Promise<void> {
    this.#wss?.close();
    const servers = [closeServer(this.#tcp), ...(this.#http ? [closeServer(this.#http)] : []), ...(this.#internal ? [closeServer(this.#internal)] : [])];
    for (const socket of this.#sockets) socket.destroy();
    await Promise.all(servers);
    await new Promise<void>((resolve) => this.#aedes.close(() => resolve()));
  }
}
