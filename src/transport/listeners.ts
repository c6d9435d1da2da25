// The sockets of one OCPP listener, built apart from the OCPP logic: the HTTP or HTTPS server (with a
// handshake timeout tight enough to cut a slowloris), the PROXY protocol front and the gateway's own
// TLS behind it, binding with an operator's error message, and TLS reload. What it hands on is an
// HTTP 'upgrade' (and 'request') to whatever is mounted on it, plus what it knows of the peer
// (the PROXY header's address, its own TLS's client certificate). [SPEC §2, §3, §8]
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket, type AddressInfo } from 'node:net';
import { Duplex as DuplexStream, type Duplex } from 'node:stream';
import { createSecureContext, Server as TlsServer, TLSSocket, type SecureContext } from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { ConnectionDrop } from '../errors.js';
import type { Clock } from '../session/clock.js';
import type { Logger } from '../obs/log.js';
import type { Metrics } from '../obs/metrics.js';
import { closeServer, listen } from './listen.js';
import { parseProxyHeader, V2_MAX } from './proxy-protocol.js';
import { readCaCertificates, readTlsFiles, verifyCertificate, watchTlsFiles, type TlsFiles } from './tls.js';
import { socketPeer, type UpgradeEntry, type UpgradePeer } from './peer.js';

export interface ListenerSpec extends UpgradeEntry {
  readonly host: string;
  readonly port: number;
  readonly tls?: TlsFiles & { readonly minVersion: 'TLSv1.2' | 'TLSv1.3'; readonly cnMustMatch: boolean };
}

/** What a listener hands its connections' HTTP exchanges to (an UpgradePipeline). */
export interface UpgradeHandler {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): unknown;
  handleRequest(req: IncomingMessage, res: ServerResponse): void;
}

export interface OcppListenerDeps {
  readonly config: Readonly<Config>;
  readonly spec: ListenerSpec;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: Metrics;
}

/** The ws:// or wss:// listener. Throws (a TLS file unreadable) when it cannot be built. */
export class OcppListener {
  readonly #d: OcppListenerDeps;
  readonly #server: Server | HttpsServer;
  /** With ocpp.proxy_protocol: the socket that listens, reading PROXY headers before HTTP/TLS. */
  readonly #proxyFront: NetServer | undefined;
  /** The socket HTTP sees -> the client address its PROXY header named. */
  readonly #proxiedAddresses = new WeakMap<object, string>();
  /** PROXY protocol + TLS: the gateway sets up TLS itself after the header (see #readProxyHeader). */
  #ownTls: { context: SecureContext; cas: X509Certificate[]; owner: TlsServer } | undefined;
  readonly #trustedProxies: ReadonlySet<string>;
  #unwatchTls: (() => void) | undefined;
  #handler: UpgradeHandler | undefined;
  /** What this listener knows of a client: PROXY addresses and its own TLS first, then the socket's. */
  readonly peer: UpgradePeer;

  constructor(deps: OcppListenerDeps) {
    this.#d = deps;
    const o = deps.config.ocpp;
    const onRequest = (req: IncomingMessage, res: ServerResponse) => this.#handler?.handleRequest(req, res);
    const tls = deps.spec.tls;
    // Node checks headersTimeout only every connectionsCheckingInterval (30 s by default): check
    // often enough that a slowloris is cut close to ocpp.handshake_timeout.
    const timing = { connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(o.handshake_timeout / 4))), headersTimeout: o.handshake_timeout, requestTimeout: o.handshake_timeout };
    if (tls && o.proxy_protocol) {
      this.#server = createServer(timing, onRequest);
      this.#ownTls = this.#loadOwnTls(tls);
      this.#unwatchTls = watchTlsFiles(tls, () => this.reloadTls());
    } else if (tls) {
      // Profile 3 asks for a certificate but does not fail the handshake: the upgrade answers why.
      this.#server = createHttpsServer({ ...timing, ...readTlsFiles(tls), minVersion: tls.minVersion, requestCert: deps.spec.profile === 3, rejectUnauthorized: false, handshakeTimeout: o.handshake_timeout }, onRequest);
      this.#unwatchTls = watchTlsFiles(tls, () => this.reloadTls());
    } else {
      this.#server = createServer(timing, onRequest);
    }
    this.#server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (this.#handler !== undefined) void this.#handler.handleUpgrade(req, socket, head);
      else socket.destroy();
    });
    this.#server.on('clientError', (_err, socket: Duplex) => socket.destroy());
    this.#server.on('tlsClientError', () => undefined);
    this.#trustedProxies = new Set(o.trusted_proxies);
    this.#proxyFront = o.proxy_protocol ? createNetServer({ noDelay: true }, (socket) => this.#readProxyHeader(socket)) : undefined;
    const socketSide = socketPeer(deps.config, deps.clock, deps.spec);
    this.peer = {
      remoteAddress: (req) => this.#proxiedAddresses.get(req.socket) ?? socketSide.remoteAddress(req),
      checkCertificate: (req, cpId) => {
        const own = this.#ownTls;
        if (own) return verifyCertificate((req.socket as TLSSocket).getPeerX509Certificate(), own.cas, cpId, o.tls.cn_must_match, deps.clock.now());
        return socketSide.checkCertificate(req, cpId);
      },
    };
  }

  /** Hands this listener's upgrades and plain requests to `handler`. */
  mount(handler: UpgradeHandler): void {
    this.#handler = handler;
  }

  async start(): Promise<AddressInfo> {
    const l = this.#d.spec;
    const front = this.#proxyFront ?? this.#server;
    return l.name === 'wss'
      ? listen(front, l.host, l.port, { what: 'OCPP wss:// listener', key: 'ocpp.tls.port', flag: '--set ocpp.tls.port=' })
      : listen(front, l.host, l.port, { what: 'OCPP WebSocket listener', key: 'ocpp.port', flag: '--ocpp-port' });
  }

  /**
   * Stops listening; the promise settles once every socket of the listener is gone, so close the
   * connections before awaiting it.
   */
  close(): Promise<void> {
    this.#unwatchTls?.();
    const closingFront = this.#proxyFront ? closeServer(this.#proxyFront) : Promise.resolve();
    const closing = this.#proxyFront ? closingFront : closeServer(this.#server);
    this.#server.closeIdleConnections();
    return closing;
  }

  #drop(socket: Socket, reason: ConnectionDrop, detail: string): void {
    this.#d.metrics.upgradeRefused(reason);
    this.#d.log.info({ reason, detail, peer: socket.remoteAddress, listener: this.#d.spec.name }, 'cp.connection_dropped');
    socket.destroy();
  }

  /** PROXY protocol: read the header, remember the client address, hand the rest to HTTP/TLS. */
  #readProxyHeader(socket: Socket): void {
    const peer = socket.remoteAddress ?? '';
    if (this.#trustedProxies.size > 0 && !this.#trustedProxies.has(peer)) return this.#drop(socket, 'untrusted_proxy', `${peer} is not in ocpp.trusted_proxies`);
    let buffered = Buffer.alloc(0);
    const timer = this.#d.clock.setTimeout(() => this.#drop(socket, 'bad_proxy_header', 'no complete PROXY header within ocpp.handshake_timeout'), this.#d.config.ocpp.handshake_timeout);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const header = parseProxyHeader(buffered.subarray(0, V2_MAX));
      if (header.state === 'incomplete') return;
      socket.off('data', onData);
      this.#d.clock.clearTimeout(timer);
      if (header.state === 'invalid') return this.#drop(socket, 'bad_proxy_header', header.detail);
      const rest = buffered.subarray(header.consumed);
      const own = this.#ownTls;
      if (own === undefined) {
        if (header.source) this.#proxiedAddresses.set(socket, header.source.address);
        if (rest.length > 0) socket.unshift(rest);
        this.#server.emit('connection', socket);
        return;
      }
      // TLS after the header: a native TLS socket would skip the bytes already read, so TLS runs on a
      // stream that replays them. Verification of client certificates is then the gateway's own.
      const secure = new TLSSocket(replayingStream(socket, rest), { isServer: true, secureContext: own.context, requestCert: this.#d.spec.profile === 3, rejectUnauthorized: false, server: own.owner } as ConstructorParameters<typeof TLSSocket>[1]);
      if (header.source) this.#proxiedAddresses.set(secure, header.source.address);
      const handshake = this.#d.clock.setTimeout(() => secure.destroy(), this.#d.config.ocpp.handshake_timeout);
      secure.once('secure', () => this.#d.clock.clearTimeout(handshake));
      secure.on('error', () => secure.destroy());
      secure.once('close', () => this.#d.clock.clearTimeout(handshake));
      this.#server.emit('connection', secure);
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
  }

  #loadOwnTls(tls: NonNullable<ListenerSpec['tls']>): { context: SecureContext; cas: X509Certificate[]; owner: TlsServer } {
    return { context: createSecureContext({ ...readTlsFiles(tls), minVersion: tls.minVersion }), cas: tls.caFile === '' ? [] : readCaCertificates(tls.caFile), owner: this.#ownTls?.owner ?? new TlsServer() };
  }

  /** Re-reads the certificate files (on change and SIGHUP); a bad set keeps the current one. */
  reloadTls(): void {
    const tls = this.#d.spec.tls;
    if (!tls) return;
    try {
      if (this.#ownTls) this.#ownTls = this.#loadOwnTls(tls);
      else if ('setSecureContext' in this.#server) this.#server.setSecureContext({ ...readTlsFiles(tls), minVersion: tls.minVersion });
      this.#d.log.info({ listener: 'wss', certFile: tls.certFile }, 'tls.reloaded');
    } catch (err) {
      this.#d.log.error({ listener: 'wss', err: (err as Error).message }, 'tls.reload_failed');
    }
  }
}

/** A stream that yields `first`, then whatever `raw` receives; writes go to `raw`. */
function replayingStream(raw: Socket, first: Buffer): DuplexStream {
  raw.pause();
  const stream = new DuplexStream({
    read() {
      raw.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      raw.write(chunk, cb);
    },
    final(cb) {
      raw.end();
      cb();
    },
    destroy(err, cb) {
      raw.destroy(err ?? undefined);
      cb(err);
    },
  });
  if (first.length > 0) stream.push(first);
  raw.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) raw.pause();
  });
  raw.on('end', () => stream.push(null));
  raw.on('close', () => stream.destroy());
  return stream;
}
