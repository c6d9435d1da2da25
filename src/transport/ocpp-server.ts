// One OCPP WebSocket listener (ws:// or wss://) and its upgrade pipeline:
//   rate -> path -> origin -> address limit -> readiness/capacity -> subprotocol -> certificate
//   (profile 3) -> Basic credentials (profiles 1, 2) -> auth provider -> downstream subscription
//   -> 101 -> registry.
// Every refusal is an HTTP status from the error registry, a log line, a counter and (when the cpId
// is known) an event/rejected. [SPEC §3, §8] No subprotocol in common is not a refusal: once
// authenticated, the client gets a 101 without Sec-WebSocket-Protocol and is closed at once (1002),
// reported like a refusal. [OCPP-J 1.6 §3] [OCPP-J 2.0.1 §3.1]
import { createServer, STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config, Protocol } from '../config/schema.js';
import { CLOSE_REASONS, UPGRADE_REFUSALS, type UpgradeRefusal } from '../errors.js';
import type { AuthProvider } from '../auth/provider.js';
import type { MessageChecks } from '../validation/checks.js';
import type { Attachment, Bridge } from '../bridge/bridge.js';
import { LinkRefused } from '../bridge/client-link.js';
import type { Clock } from '../session/clock.js';
import type { Registry } from '../session/registry.js';
import type { RecentDisconnects } from '../session/cp-facts.js';
import { configSecrets, redactText, type Logger } from '../obs/log.js';
import { FrameLogPolicy } from '../obs/frame-log.js';
import type { Metrics } from '../obs/metrics.js';
import type { Admission } from './admission.js';
import { Connection, type ConnectionHost, type ConnectionLimits } from './connection.js';
import { parseBasicAuth, parseCpIdFromPath, parseProtocolList, selectProtocol } from './handshake.js';
import { closeServer, listen } from './listen.js';
import { checkClientCertificate, checkForwardedCertificate, readCaCertificates, readTlsFiles, verifyCertificate, watchTlsFiles, type CertificateCheck, type ClientCertificate, type TlsFiles } from './tls.js';
import { createSecureContext, Server as TlsServer, TLSSocket as TlsSocketClass, type SecureContext } from 'node:tls';
import { Duplex as DuplexStream } from 'node:stream';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { X509Certificate } from 'node:crypto';
import { parseProxyHeader, V2_MAX } from './proxy-protocol.js';
import type { ConnectionDrop } from '../errors.js';
import { OriginPolicy } from './web-guards.js';
import type { RefusalReports } from './refusal-reports.js';
import { sourceKey } from '../auth/check-gate.js';

export interface ListenerSpec {
  readonly name: 'ws' | 'wss';
  readonly host: string;
  readonly port: number;
  /** OCPP security profile: 0 = as the auth provider decides, 1/2 = Basic required, 3 = client certificate required. */
  readonly profile: 0 | 1 | 2 | 3;
  readonly tls?: TlsFiles & { readonly minVersion: 'TLSv1.2' | 'TLSv1.3'; readonly cnMustMatch: boolean };
}

export interface OcppServerDeps {
  readonly config: Readonly<Config>;
  readonly listener: ListenerSpec;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly bridge: Bridge;
  readonly registry: Registry<Connection>;
  /** Where a charge point is remembered after it disconnects (the dashboard's list). */
  readonly recentlyDisconnected?: RecentDisconnects;
  readonly auth: AuthProvider;
  readonly checks: MessageChecks;
  readonly admission: Admission;
  /** Shared by every listener: how many refused upgrades per source address get a log line and an event. */
  readonly refusalReports: RefusalReports;
  /** False while the broker is unreachable: new charge points are refused with 503. */
  readonly brokerReady: () => boolean;
}

class Refusal extends Error {
  constructor(readonly refusal: UpgradeRefusal, readonly detail: string, readonly cpId?: string) {
    super(detail);
  }
}

interface Admitted {
  cpId: string;
  protocol: Protocol;
  echo: boolean;
  username: string | undefined;
  /** Kept only until the broker link is made (per_client); never stored on the connection. */
  password: Buffer | undefined;
  remoteAddress: string;
  expireAt: number | undefined;
}

/** Authenticated, but no subprotocol in common and no ocpp.default_protocol. [SPEC §3] */
interface Unagreed {
  unagreed: true;
  cpId: string;
  remoteAddress: string;
  detail: string;
}

export class OcppServer {
  readonly #d: OcppServerDeps;
  readonly #server: Server | HttpsServer;
  /** With ocpp.proxy_protocol: the socket that listens, reading PROXY headers before HTTP/TLS. */
  readonly #proxyFront: NetServer | undefined;
  /** The socket HTTP sees -> the client address its PROXY header named. */
  readonly #proxiedAddresses = new WeakMap<object, string>();
  readonly #forwardedCas: readonly X509Certificate[];
  /** PROXY protocol + TLS: the gateway sets up TLS itself after the header (see #readProxyHeader). */
  #ownTls: { context: SecureContext; cas: X509Certificate[]; owner: TlsServer } | undefined;
  readonly #wss: WebSocketServer;
  readonly #chosenProtocol = new WeakMap<IncomingMessage, string | false>();
  readonly #host: ConnectionHost;
  readonly #attachments = new WeakMap<Connection, Attachment>();
  readonly #limits: ConnectionLimits;
  readonly #trustedProxies: ReadonlySet<string>;
  readonly #origins: OriginPolicy;
  /** Configured secrets, kept out of refusal details (they go to the client, the log and MQTT). [SPEC §8] */
  readonly #secrets: readonly string[];
  #unwatchTls: (() => void) | undefined;
  #accepting = true;

  constructor(deps: OcppServerDeps) {
    this.#d = deps;
    const o = deps.config.ocpp;
    const onRequest = (req: IncomingMessage, res: import('node:http').ServerResponse) => {
      const inside = parseCpIdFromPath(req.url, o.path, o.max_id_length).ok;
      res.writeHead(inside ? 426 : 404, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      res.end(inside ? 'OCPP-J endpoint: connect with a WebSocket upgrade\n' : 'not found\n');
    };
    const tls = deps.listener.tls;
    // Node checks headersTimeout only every connectionsCheckingInterval (30 s by default): check
    // often enough that a slowloris is cut close to ocpp.handshake_timeout.
    const timing = { connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(o.handshake_timeout / 4))), headersTimeout: o.handshake_timeout, requestTimeout: o.handshake_timeout };
    if (tls && o.proxy_protocol) {
      this.#server = createServer(timing, onRequest);
      this.#ownTls = this.#loadOwnTls(tls);
      this.#unwatchTls = watchTlsFiles(tls, () => this.reloadTls());
    } else if (tls) {
      // Profile 3 asks for a certificate but does not fail the handshake: the upgrade answers why.
      this.#server = createHttpsServer({ ...timing, ...readTlsFiles(tls), minVersion: tls.minVersion, requestCert: deps.listener.profile === 3, rejectUnauthorized: false, handshakeTimeout: o.handshake_timeout }, onRequest);
      this.#unwatchTls = watchTlsFiles(tls, () => this.reloadTls());
    } else {
      this.#server = createServer(timing, onRequest);
    }
    this.#server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.#onUpgrade(req, socket, head));
    this.#server.on('clientError', (_err, socket: Duplex) => socket.destroy());
    this.#server.on('tlsClientError', () => undefined);
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: o.max_frame_size,
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: (_offered, req) => this.#chosenProtocol.get(req) ?? false,
    });
    this.#trustedProxies = new Set(o.trusted_proxies);
    this.#origins = new OriginPolicy(o.allowed_origins);
    this.#secrets = configSecrets(deps.config);
    this.#proxyFront = o.proxy_protocol ? createNetServer({ noDelay: true }, (socket) => this.#readProxyHeader(socket)) : undefined;
    this.#forwardedCas = deps.listener.name === 'ws' && deps.listener.profile === 3 ? readCaCertificates(deps.config.ocpp.tls.ca_file) : [];
    this.#limits = {
      pingIntervalMs: o.ws_ping_interval,
      keepaliveTimeoutMs: o.keepalive_timeout,
      keepaliveFollowHeartbeat: o.keepalive_follow_heartbeat,
      maxOutboundBuffer: o.max_outbound_buffer,
      maxInflightPublishes: o.max_inflight_publishes,
      maxFramesPerTurn: o.max_frames_per_turn,
      maxFrameRate: o.max_frame_rate,
      frameBurst: o.frame_burst,
      maxRejectedEvents: o.max_rejected_events,
      rejectedEventsWindowMs: o.rejected_events_window,
      maxCpLogLines: deps.config.log.max_cp_lines,
      cpLogWindowMs: deps.config.log.cp_lines_window,
      closeGraceMs: 5000,
    };
    this.#host = {
      clock: deps.clock,
      log: deps.log,
      metrics: deps.metrics,
      frameLog: FrameLogPolicy.from(deps.config.log),
      publishUp: (conn, type, action, messageId, payloadText, reason) => deps.bridge.publishUp(conn, type, action, messageId, payloadText, reason),
      publishRejected: (conn, reason, detail, messageId, action, extra) => deps.bridge.publishRejected(conn, reason, detail, messageId, action, extra),
      onTeardown: (conn, reason, code) => this.#onTeardown(conn, reason, code),
    };
  }

  async start(): Promise<AddressInfo> {
    const l = this.#d.listener;
    const front = this.#proxyFront ?? this.#server;
    return l.name === 'wss'
      ? listen(front, l.host, l.port, { what: 'OCPP wss:// listener', key: 'ocpp.tls.port', flag: '--set ocpp.tls.port=' })
      : listen(front, l.host, l.port, { what: 'OCPP WebSocket listener', key: 'ocpp.port', flag: '--ocpp-port' });
  }

  #drop(socket: Socket, reason: ConnectionDrop, detail: string): void {
    this.#d.metrics.upgradeRefused(reason);
    this.#d.log.info({ reason, detail, peer: socket.remoteAddress, listener: this.#d.listener.name }, 'cp.connection_dropped');
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
      const secure = new TlsSocketClass(replayingStream(socket, rest), { isServer: true, secureContext: own.context, requestCert: this.#d.listener.profile === 3, rejectUnauthorized: false, server: own.owner } as ConstructorParameters<typeof TlsSocketClass>[1]);
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
    const tls = this.#d.listener.tls;
    if (!tls) return;
    try {
      if (this.#ownTls) this.#ownTls = this.#loadOwnTls(tls);
      else if ('setSecureContext' in this.#server) this.#server.setSecureContext({ ...readTlsFiles(tls), minVersion: tls.minVersion });
      this.#d.log.info({ listener: 'wss', certFile: tls.certFile }, 'tls.reloaded');
    } catch (err) {
      this.#d.log.error({ listener: 'wss', err: (err as Error).message }, 'tls.reload_failed');
    }
  }

  #remoteAddress(req: IncomingMessage): string {
    const proxied = this.#proxiedAddresses.get(req.socket);
    if (proxied !== undefined) return proxied;
    const peer = req.socket.remoteAddress ?? '';
    const forwarded = req.headers['x-forwarded-for'];
    if (forwarded === undefined || !this.#trustedProxies.has(peer)) return peer;
    const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
    return first === undefined || first === '' ? peer : first;
  }

  async #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { config, clock, log, admission } = this.#d;
    socket.on('error', () => socket.destroy());
    // Whom a refusal is charged to (its log line and event): the client's address, IPv6 by its /64.
    const source = sourceKey(this.#remoteAddress(req));
    let finished = false;
    // Fires when this upgrade can no longer succeed (client left, handshake timeout): a credential
    // check still queued for it is dropped instead of hashed. [SPEC §8]
    const gone = new AbortController();
    const onClose = () => gone.abort();
    // The HTTP server keeps half-open sockets: a client that hangs up (FIN) ends its side, no 'close'.
    socket.once('end', onClose);
    socket.once('close', onClose);
    // A client that reset the connection before its request was handled: no 'close' is coming.
    if (socket.destroyed) gone.abort();
    const timer = clock.setTimeout(() => {
      gone.abort();
      if (!finished) this.#refuse(socket, source, new Refusal('handshake_timeout', `no completed upgrade within ${config.ocpp.handshake_timeout} ms`));
      finished = true;
    }, config.ocpp.handshake_timeout);
    let attachment: Attachment | undefined;
    let claimedAddress: string | undefined;
    try {
      const verdict = admission.takeAttempt(source);
      if (verdict === 'address_rate_limited') throw new Refusal(verdict, `more than ${config.ocpp.max_connect_rate_per_address} upgrade attempts per second from this address`);
      if (verdict === 'rate_limited') throw new Refusal(verdict, `more than ${config.ocpp.max_connect_rate} upgrade attempts per second`);
      const remoteAddress = this.#remoteAddress(req);
      const admitted = await this.#admit(req, remoteAddress, () => {
        if (!admission.claimAddress(remoteAddress)) return false;
        claimedAddress = remoteAddress;
        return true;
      }, gone.signal);
      if (finished || gone.signal.aborted || socket.destroyed) throw new Refusal('handshake_timeout', 'the client left or the handshake timed out during authentication', admitted.cpId);
      if ('unagreed' in admitted) {
        finished = true;
        clock.clearTimeout(timer);
        socket.off('end', onClose).off('close', onClose);
        claimedAddress = undefined; // released when this socket closes
        this.#closeUnagreed(req, socket, head, source, admitted);
        return;
      }
      try {
        attachment = await this.#d.bridge.attach(admitted.cpId, admitted.protocol, { username: admitted.username, password: admitted.password });
      } catch (err) {
        // per_client: the broker's CONNACK (or SUBACK) decides. [SPEC §7]
        if (err instanceof LinkRefused) throw new Refusal(err.kind === 'unauthorized' ? 'unauthorized' : 'not_ready', err.message, admitted.cpId);
        throw err;
      }
      if (finished || gone.signal.aborted || socket.destroyed) throw new Refusal('handshake_timeout', 'the client left or the handshake timed out while subscribing', admitted.cpId);
      finished = true;
      clock.clearTimeout(timer);
      socket.off('end', onClose).off('close', onClose);
      this.#chosenProtocol.set(req, admitted.echo ? admitted.protocol : false);
      let upgraded = false;
      const held = attachment;
      this.#wss.handleUpgrade(req, socket, head, (ws) => {
        upgraded = true;
        this.#accept(ws, admitted, held);
      });
      if (!upgraded) {
        // ws refused it (bad handshake headers) or the socket closed.
        held.release();
        admission.releaseAddress(remoteAddress);
      }
    } catch (err) {
      attachment?.release();
      if (claimedAddress !== undefined) admission.releaseAddress(claimedAddress);
      clock.clearTimeout(timer);
      socket.off('end', onClose).off('close', onClose);
      if (err instanceof Refusal) {
        // After the timer answered 408 (not knowing the cpId), only the event naming the cpId is still due.
        if (!finished) this.#refuse(socket, source, err);
        else if (err.refusal === 'handshake_timeout') this.#refuse(socket, source, err, true);
      } else {
        log.error({ err: String(err) }, 'cp.upgrade_failed');
        this.#refuse(socket, source, new Refusal('not_ready', 'internal error during the upgrade'));
      }
      finished = true;
    }
  }

  async #admit(req: IncomingMessage, remoteAddress: string, claimAddress: () => boolean, gone: AbortSignal): Promise<Admitted | Unagreed> {
    const o = this.#d.config.ocpp;
    const listener = this.#d.listener;
    if (!this.#accepting) throw new Refusal('shutting_down', 'the gateway is shutting down');
    const id = parseCpIdFromPath(req.url, o.path, o.max_id_length);
    if (!id.ok) throw new Refusal(id.refusal, id.detail);
    const cpId = id.value;
    const origin = req.headers.origin;
    // [SPEC §3] a browser page (any site the operator visits) must not open a charge point session:
    // with the list empty no Origin passes; charge points send none.
    if (!this.#origins.allows(origin)) {
      throw new Refusal('origin_not_allowed', `origin ${JSON.stringify(origin).slice(0, 200)} is not in ocpp.allowed_origins`, cpId);
    }
    if (!claimAddress()) throw new Refusal('too_many_from_address', `${o.max_connections_per_address} connections from ${remoteAddress} already`, cpId);
    if (!this.#d.brokerReady()) throw new Refusal('not_ready', 'the MQTT broker is not reachable', cpId);
    if (this.#d.registry.size >= o.max_connections && this.#d.registry.get(cpId) === undefined) {
      throw new Refusal('too_many_connections', `${o.max_connections} charge points are connected (ocpp.max_connections)`, cpId);
    }
    const fallback = o.default_protocol === '' ? undefined : (o.default_protocol as Protocol);
    const preference = o.protocols as Protocol[];
    // No subprotocol in common does not end the upgrade here: the client is authenticated first, so
    // that only an authenticated client ever gets a 101 (see #closeUnagreed).
    const chosen = selectProtocol(parseProtocolList(req.headers['sec-websocket-protocol']), preference, fallback);

    let certificate: ClientCertificate | undefined;
    if (listener.profile === 3) {
      const check = this.#checkCertificate(req, cpId);
      const cnMustMatch = this.#d.config.ocpp.tls.cn_must_match;
      this.#d.log.info({ cpId, cn: check.certificate?.cn ?? null, fingerprint: check.certificate?.fingerprint256 ?? null, cnMustMatch, ok: check.ok, listener: listener.name }, 'cp.certificate_checked');
      if (!check.ok) throw new Refusal(check.refusal, check.detail, cpId);
      certificate = check.certificate;
    }

    const basic = parseBasicAuth(req.headers.authorization, cpId, this.#d.config.auth.username_must_match);
    if (basic !== undefined && !basic.ok) throw new Refusal(basic.refusal, basic.detail, cpId);
    if (basic === undefined && (listener.profile === 1 || listener.profile === 2)) {
      throw new Refusal('credentials_required', `security profile ${listener.profile} requires HTTP Basic credentials`, cpId);
    }
    const decision = await this.#d.auth.authenticate({
      cpId,
      // None agreed: the auth service is told so (null); the connection is closed right after the
      // handshake whatever it answers.
      protocol: chosen.ok ? chosen.value.protocol : null,
      remoteAddress,
      listener: listener.name,
      ...(basic?.ok ? { username: basic.value.username, password: basic.value.password } : {}),
      ...(certificate ? { certificate } : {}),
    }, gone);
    // auth_busy / auth_throttled / handshake_timeout: the credentials were not checked. [SPEC §8]
    if (!decision.allow) throw new Refusal(decision.refusal ?? 'unauthorized', decision.detail, cpId);
    if (!chosen.ok) return { unagreed: true, cpId, remoteAddress, detail: chosen.detail };
    return { cpId, protocol: chosen.value.protocol, echo: chosen.value.echo, username: basic?.ok ? basic.value.username : undefined, password: basic?.ok ? basic.value.password : undefined, remoteAddress, expireAt: decision.expireAt };
  }

  /** Profile 3: the TLS client certificate, or (ws:// behind a TLS-terminating proxy) the forwarded one. */
  #checkCertificate(req: IncomingMessage, cpId: string): CertificateCheck {
    const o = this.#d.config.ocpp;
    if (this.#ownTls) return verifyCertificate((req.socket as TLSSocket).getPeerX509Certificate(), this.#ownTls.cas, cpId, o.tls.cn_must_match, this.#d.clock.now());
    if (this.#d.listener.tls) return checkClientCertificate(req.socket as TLSSocket, cpId, o.tls.cn_must_match);
    const fromProxy = this.#trustedProxies.has(req.socket.remoteAddress ?? '');
    const header = fromProxy ? req.headers[o.client_cert_header.toLowerCase()] : undefined;
    return checkForwardedCertificate(Array.isArray(header) ? header[0] : header, this.#forwardedCas, cpId, o.tls.cn_must_match, this.#d.clock.now());
  }

  /** `answered`: the client already got this refusal (the handshake timer's 408): publish the event only. */
  #refuse(socket: Duplex, source: string, r: Refusal, answered = false): void {
    const status = UPGRADE_REFUSALS[r.refusal].status;
    // A detail may quote an error that quotes a URL with its password (the auth service's, say), and
    // the body goes to whoever knocked.
    const detail = redactText(r.detail, this.#secrets);
    this.#report(source, r.refusal, r.cpId, detail, { status }, !answered);
    if (answered || socket.destroyed) return;
    const body = `${r.refusal}: ${detail}\n`;
    const auth = status === 401 ? 'WWW-Authenticate: Basic realm="ocpp-gateway", charset="UTF-8"\r\n' : '';
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nX-Ocpp-Gateway-Reason: ${r.refusal}\r\n${auth}\r\n${body}`,
    );
    socket.once('finish', () => socket.destroy());
  }

  /**
   * A refusal's counter (`first`: not counted yet), then its cp.upgrade_refused line (`first` only)
   * and event/rejected, these two budgeted per source address; the answer and the counter are not.
   */
  #report(source: string, reason: UpgradeRefusal | 'no_subprotocol', cpId: string | undefined, detail: string, answer: { status: number; code?: number }, first: boolean): void {
    const { metrics, log, bridge } = this.#d;
    if (first) metrics.upgradeRefused(reason);
    if (this.#d.refusalReports.allow(source, reason)) {
      if (first) log.info({ cpId, source, reason, ...answer, detail, listener: this.#d.listener.name }, 'cp.upgrade_refused');
      if (cpId !== undefined) bridge.publishEvent(cpId, 'rejected', { cpId, reason, ...answer, detail }).catch(() => undefined);
    } else metrics.rejectedSuppressed(reason);
  }

  /**
   * [OCPP-J 1.6 §3] [OCPP-J 2.0.1 §3.1] [OCPP-J 2.1 §3.1] No subprotocol in common: complete the
   * handshake without Sec-WebSocket-Protocol and close at once. The connection never enters the
   * registry nor the bridge (no subscription, no event/connected, no presence); it is reported like an
   * upgrade refusal. It holds its address claim until the socket is gone. [SPEC §3]
   */
  #closeUnagreed(req: IncomingMessage, socket: Duplex, head: Buffer, source: string, u: Unagreed): void {
    const { admission, clock } = this.#d;
    const code = CLOSE_REASONS.no_subprotocol.code;
    this.#chosenProtocol.set(req, false);
    let upgraded = false;
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      upgraded = true;
      // Nothing it sends is read; a broken frame before our close must not become an unhandled 'error'.
      ws.on('error', () => undefined);
      ws.close(code, 'no_subprotocol');
      const grace = clock.setTimeout(() => ws.terminate(), this.#limits.closeGraceMs);
      ws.once('close', () => {
        clock.clearTimeout(grace);
        admission.releaseAddress(u.remoteAddress);
      });
    });
    if (!upgraded) {
      // ws refused it (bad handshake headers) or the socket closed.
      admission.releaseAddress(u.remoteAddress);
      return;
    }
    this.#report(source, 'no_subprotocol', u.cpId, redactText(u.detail, this.#secrets), { status: 101, code }, true);
  }

  #accept(ws: WebSocket, admitted: Admitted, attachment: Attachment): void {
    const { config, registry, bridge, metrics, log } = this.#d;
    const conn = new Connection(
      ws,
      { cpId: admitted.cpId, protocol: admitted.protocol, remoteAddress: admitted.remoteAddress, username: admitted.username, expireAt: admitted.expireAt },
      {
        awaitingTimeoutMs: config.upstream.awaiting_timeout,
        onUpstreamTimeout: config.upstream.on_timeout,
        concurrentCalls: config.upstream.concurrent_calls,
        maxPendingUpstream: config.upstream.max_pending,
        maxQueueLength: config.dnstream.max_mqueue_len,
        retryIntervalMs: config.dnstream.retry_interval,
        maxRetries: config.dnstream.max_retries,
        maxBadMessages: config.ocpp.max_bad_messages,
        badMessagesWindowMs: config.ocpp.bad_messages_window,
        maxJsonDepth: config.ocpp.max_json_depth,
        checker: this.#d.checks.forConnection(admitted.protocol, admitted.cpId),
      },
      this.#limits,
      this.#host,
    );
    this.#attachments.set(conn, attachment);
    const previous = registry.claim(conn);
    previous?.close('replaced');
    metrics.connected();
    log.info({ cpId: conn.cpId, protocol: conn.protocol, remoteAddress: conn.remoteAddress, listener: this.#d.listener.name, replaced: previous !== undefined }, 'cp.connected');
    attachment.bind(conn, (loss) => {
      // per_client: the broker ended this charge point's link. A takeover (another connection with the
      // same client id) means it is served elsewhere now; anything else closes it so that it reconnects.
      // Presence: a live broker publishes the link's will (or the new owner publishes online); only
      // with the broker gone does the teardown publish offline itself (queued until it is back).
      if (loss === 'taken_over' || this.#d.brokerReady()) conn.presenceHandedOff = true;
      conn.close(loss === 'taken_over' ? 'replaced' : 'broker_disconnected');
    });
    if (conn.closed) return;
    const connectedAt = new Date(conn.connectedAt).toISOString();
    bridge.publishEvent(conn.cpId, 'connected', { cpId: conn.cpId, protocol: conn.protocol, remoteAddress: conn.remoteAddress, username: conn.username ?? null, connectedAt }, conn.protocol, conn).catch(() => undefined);
    bridge.publishPresence(conn.cpId, true, conn.protocol, conn.connectedAt, conn).catch(() => undefined);
    bridge.announceTakeover(conn);
  }

  /** Another instance accepted this charge point more recently: close ours, fenced. [SPEC §7] */
  takeOver(cpId: string, connectedAt: number, instanceId: string): void {
    const conn = this.#d.registry.get(cpId);
    this.#d.bridge.markTakenOver(cpId, this.#d.clock.now());
    if (conn === undefined || conn.connectedAt > connectedAt) return;
    this.#d.log.info({ cpId, by: instanceId }, 'cluster.taken_over');
    conn.presenceHandedOff = true;
    conn.close('replaced');
  }

  #onTeardown(conn: Connection, reason: string, code: number): void {
    const { registry, bridge, metrics, log, clock, admission } = this.#d;
    const wasCurrent = registry.release(conn);
    admission.releaseAddress(conn.remoteAddress);
    metrics.disconnected(reason);
    const now = clock.now();
    log.info({ cpId: conn.cpId, reason, code }, 'cp.disconnected');
    this.#d.recentlyDisconnected?.add(conn, reason, code, now);
    bridge.publishEvent(conn.cpId, 'disconnected', { cpId: conn.cpId, protocol: conn.protocol, reason, code, disconnectedAt: new Date(now).toISOString() }, conn.protocol, conn).catch(() => undefined);
    // The fence: only the current connection may mark the charge point offline, and not when another
    // instance serves it now.
    if (wasCurrent && !conn.presenceHandedOff) bridge.publishPresence(conn.cpId, false, conn.protocol, now, conn).catch(() => undefined);
    // After the publishes above: a per_client link flushes them before its DISCONNECT.
    this.#attachments.get(conn)?.release();
    this.#attachments.delete(conn);
  }

  /**
   * Stops accepting new charge points; the promise settles once every socket of the listener is
   * gone, so close the connections (closeAll) before awaiting it.
   */
  stopAccepting(): Promise<void> {
    this.#accepting = false;
    this.#unwatchTls?.();
    const closingFront = this.#proxyFront ? closeServer(this.#proxyFront) : Promise.resolve();
    const closing = this.#proxyFront ? closingFront : closeServer(this.#server);
    this.#server.closeIdleConnections();
    return closing;
  }

  /** Closes every connected charge point (of every listener: they share the registry). */
  closeAll(reason: 'shutdown' | 'kicked'): void {
    for (const conn of [...this.#d.registry.values()]) conn.close(reason);
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
