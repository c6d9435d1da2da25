// The OCPP WebSocket upgrade as a pipeline of named steps, mountable on any Node HTTP server
// (`server.on('upgrade', (req, socket, head) => pipeline.handleUpgrade(req, socket, head))`, as ws
// does). Today's order, each step a row of UPGRADE_STEPS below:
//   rate -> accepting -> path -> origin -> address_limit -> readiness -> capacity -> subprotocol
//   -> certificate (profile 3) -> credentials (Basic, profiles 1, 2) -> authenticate (auth provider)
//   -> agreed -> subscription (downstream / per_client link) -> handshake (101) -> register.
// A step refuses by throwing UpgradeRefused: the client gets the refusal's HTTP status, and the
// refusal is logged, counted and (when the cpId is known) published as event/rejected. [SPEC §3, §8]
// No subprotocol in common is not a refusal: once authenticated, the client gets a 101 without
// Sec-WebSocket-Protocol and is closed at once (1002), reported like a refusal (the `agreed` step).
// [OCPP-J 1.6 §3] [OCPP-J 2.0.1 §3.1]
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config, Protocol } from '../config/schema.js';
import { CLOSE_REASONS, UPGRADE_REFUSALS, UpgradeRefused, type UpgradeRefusal } from '../errors.js';
import type { AuthDecision, AuthProvider } from '../auth/provider.js';
import type { Attachment, Bridge } from '../bridge/bridge.js';
import { LinkRefused } from '../bridge/client-link.js';
import type { Clock } from '../session/clock.js';
import { configSecrets, redactText, type Logger } from '../obs/log.js';
import type { Metrics } from '../obs/metrics.js';
import { sourceKey } from '../auth/check-gate.js';
import type { Admission } from './admission.js';
import type { CpSessions } from './cp-sessions.js';
import { parseBasicAuth, parseCpIdFromPath, parseProtocolList, selectProtocol, type NoSubprotocol } from './handshake.js';
import type { ClientCertificate } from './tls.js';
import { socketPeer, type UpgradeEntry, type UpgradePeer } from './peer.js';


/** A socket error during or after the upgrade: the socket goes (ws adds its own listener after the 101). */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

export { socketPeer, type UpgradeEntry, type UpgradePeer } from './peer.js';
import { OriginPolicy } from './web-guards.js';
import type { RefusalReports } from './refusal-reports.js';

export interface UpgradePipelineDeps {
  readonly config: Readonly<Config>;
  readonly entry: UpgradeEntry;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly bridge: Bridge;
  readonly sessions: CpSessions;
  readonly auth: AuthProvider;
  readonly admission: Admission;
  /** Shared by every listener: how many refused upgrades per source address get a log line and an event. */
  readonly refusalReports: RefusalReports;
  /** False while the broker is unreachable: new charge points are refused with 503. */
  readonly brokerReady: () => boolean;
  /** Absent: the socket's address (or a trusted proxy's X-Forwarded-For) and the socket's certificate. */
  readonly peer?: UpgradePeer | undefined;
}

/** The subprotocol step's outcome: the agreed one (echoed or not), or why none was. */
export type ProtocolChoice = { ok: true; value: { protocol: Protocol; echo: boolean } } | NoSubprotocol;
type Agreed = Extract<ProtocolChoice, { ok: true }>;

/** One upgrade on its way through the steps: what each step found, for the steps after it. */
export interface UpgradeAttempt {
  readonly req: IncomingMessage;
  readonly socket: Duplex;
  readonly head: Buffer;
  /** Whom a refusal is charged to (its log line and event): the client's address, IPv6 by its /64. */
  readonly source: string;
  readonly remoteAddress: string;
  /** Aborted when this upgrade can no longer succeed (client left, handshake timeout). */
  readonly gone: AbortSignal;
  cpId?: string;
  chosen?: ProtocolChoice;
  certificate?: ClientCertificate;
  basic?: ReturnType<typeof parseBasicAuth>;
  decision?: AuthDecision;
  /** The address counted against ocpp.max_connections_per_address, until the connection holds it. */
  claimedAddress?: string | undefined;
  attachment?: Attachment | undefined;
  ws?: WebSocket;
  /** True once the handshake timer fired or the upgrade was answered. */
  readonly finished: boolean;
  /** Stops the handshake timer: the upgrade is answered now (101), whatever follows. */
  settle(): void;
}

/** A step returns 'done' when it answered the upgrade itself and the steps after it do not run. */
export type StepResult = void | 'done';

export interface UpgradeStep {
  readonly name: string;
  run(a: UpgradeAttempt, p: UpgradePipeline): StepResult | Promise<StepResult>;
}

/** The client left (or the timer answered 408) while a step was waiting. */
function stillThere(a: UpgradeAttempt, during: string): void {
  if (a.finished || a.gone.aborted || a.socket.destroyed) throw new UpgradeRefused('handshake_timeout', `the client left or the handshake timed out ${during}`, a.cpId);
}

function cpIdOf(a: UpgradeAttempt): string {
  return a.cpId as string;
}

/** The steps, in order. A new check is a row here (and its refusal id in src/errors.ts). */
export const UPGRADE_STEPS: readonly UpgradeStep[] = [
  {
    name: 'rate',
    run(a, p) {
      const verdict = p.deps.admission.takeAttempt(a.source);
      const o = p.deps.config.ocpp;
      if (verdict === 'address_rate_limited') throw new UpgradeRefused(verdict, `more than ${o.max_connect_rate_per_address} upgrade attempts per second from this address`);
      if (verdict === 'rate_limited') throw new UpgradeRefused(verdict, `more than ${o.max_connect_rate} upgrade attempts per second`);
    },
  },
  {
    name: 'accepting',
    run(_a, p) {
      if (!p.deps.sessions.accepting) throw new UpgradeRefused('shutting_down', 'the gateway is shutting down');
    },
  },
  {
    name: 'path',
    run(a, p) {
      const o = p.deps.config.ocpp;
      const id = parseCpIdFromPath(a.req.url, o.path, o.max_id_length);
      if (!id.ok) throw new UpgradeRefused(id.refusal, id.detail);
      a.cpId = id.value;
    },
  },
  {
    name: 'origin',
    run(a, p) {
      const origin = a.req.headers.origin;
      // [SPEC §3] a browser page (any site the operator visits) must not open a charge point session:
      // with the list empty no Origin passes; charge points send none.
      if (!p.origins.allows(origin)) {
        throw new UpgradeRefused('origin_not_allowed', `origin ${JSON.stringify(origin).slice(0, 200)} is not in ocpp.allowed_origins`, a.cpId);
      }
    },
  },
  {
    name: 'address_limit',
    run(a, p) {
      if (!p.deps.admission.claimAddress(a.remoteAddress)) {
        throw new UpgradeRefused('too_many_from_address', `${p.deps.config.ocpp.max_connections_per_address} connections from ${a.remoteAddress} already`, a.cpId);
      }
      a.claimedAddress = a.remoteAddress;
    },
  },
  {
    name: 'readiness',
    run(a, p) {
      if (!p.deps.brokerReady()) throw new UpgradeRefused('not_ready', 'the MQTT broker is not reachable', a.cpId);
    },
  },
  {
    name: 'capacity',
    run(a, p) {
      const max = p.deps.config.ocpp.max_connections;
      const registry = p.deps.sessions.registry;
      if (registry.size >= max && registry.get(cpIdOf(a)) === undefined) {
        throw new UpgradeRefused('too_many_connections', `${max} charge points are connected (ocpp.max_connections)`, a.cpId);
      }
    },
  },
  {
    name: 'subprotocol',
    run(a, p) {
      const o = p.deps.config.ocpp;
      const fallback = o.default_protocol === '' ? undefined : (o.default_protocol as Protocol);
      // No subprotocol in common does not end the upgrade here: the client is authenticated first, so
      // that only an authenticated client ever gets a 101 (see the agreed step).
      a.chosen = selectProtocol(parseProtocolList(a.req.headers['sec-websocket-protocol']), o.protocols as Protocol[], fallback);
    },
  },
  {
    name: 'certificate',
    run(a, p) {
      const entry = p.deps.entry;
      if (entry.profile !== 3) return;
      const cpId = cpIdOf(a);
      const check = p.peer.checkCertificate(a.req, cpId);
      const cnMustMatch = p.deps.config.ocpp.tls.cn_must_match;
      p.deps.log.info({ cpId, cn: check.certificate?.cn ?? null, fingerprint: check.certificate?.fingerprint256 ?? null, cnMustMatch, ok: check.ok, listener: entry.name }, 'cp.certificate_checked');
      if (!check.ok) throw new UpgradeRefused(check.refusal, check.detail, cpId);
      a.certificate = check.certificate;
    },
  },
  {
    name: 'credentials',
    run(a, p) {
      const profile = p.deps.entry.profile;
      const basic = parseBasicAuth(a.req.headers.authorization, cpIdOf(a), p.deps.config.auth.username_must_match);
      if (basic !== undefined && !basic.ok) throw new UpgradeRefused(basic.refusal, basic.detail, a.cpId);
      if (basic === undefined && (profile === 1 || profile === 2)) {
        throw new UpgradeRefused('credentials_required', `security profile ${profile} requires HTTP Basic credentials`, a.cpId);
      }
      a.basic = basic;
    },
  },
  {
    name: 'authenticate',
    async run(a, p) {
      const chosen = a.chosen;
      const basic = a.basic;
      const decision = await p.deps.auth.authenticate({
        cpId: cpIdOf(a),
        // None agreed: the auth service is told so (null); the connection is closed right after the
        // handshake whatever it answers.
        protocol: chosen?.ok ? chosen.value.protocol : null,
        remoteAddress: a.remoteAddress,
        listener: p.deps.entry.name,
        ...(basic?.ok ? { username: basic.value.username, password: basic.value.password } : {}),
        ...(a.certificate ? { certificate: a.certificate } : {}),
      }, a.gone);
      // auth_busy / auth_throttled / handshake_timeout: the credentials were not checked. [SPEC §8]
      if (!decision.allow) throw new UpgradeRefused(decision.refusal ?? 'unauthorized', decision.detail, a.cpId);
      a.decision = decision;
      stillThere(a, 'during authentication');
    },
  },
  {
    name: 'agreed',
    run(a, p) {
      if (a.chosen?.ok) return;
      p.closeUnagreed(a, a.chosen?.detail ?? '');
      return 'done';
    },
  },
  {
    name: 'subscription',
    async run(a, p) {
      const chosen = a.chosen as Agreed;
      const basic = a.basic?.ok ? a.basic.value : undefined;
      try {
        a.attachment = await p.deps.bridge.attach(cpIdOf(a), chosen.value.protocol, { username: basic?.username, password: basic?.password });
      } catch (err) {
        // per_client: the broker's CONNACK (or SUBACK) decides. [SPEC §7]
        if (err instanceof LinkRefused) throw new UpgradeRefused(err.kind === 'unauthorized' ? 'unauthorized' : 'not_ready', err.message, a.cpId);
        throw err;
      }
      stillThere(a, 'while subscribing');
    },
  },
  {
    name: 'handshake',
    run(a, p) {
      const chosen = a.chosen as Agreed;
      a.settle();
      p.chosenProtocol.set(a.req, chosen.value.echo ? chosen.value.protocol : false);
      p.wss.handleUpgrade(a.req, a.socket, a.head, (ws) => {
        a.ws = ws;
      });
      if (a.ws !== undefined) return;
      // ws refused it (bad handshake headers) or the socket closed.
      a.attachment?.release();
      a.attachment = undefined;
      p.deps.admission.releaseAddress(a.remoteAddress);
      a.claimedAddress = undefined;
      return 'done';
    },
  },
  {
    name: 'register',
    run(a, p) {
      const chosen = a.chosen as Agreed;
      const basic = a.basic?.ok ? a.basic.value : undefined;
      p.deps.sessions.accept(a.ws as WebSocket, {
        cpId: cpIdOf(a), protocol: chosen.value.protocol, remoteAddress: a.remoteAddress,
        username: basic?.username, expireAt: a.decision?.expireAt,
      }, a.attachment as Attachment, p.deps.entry.name);
    },
  },
];

export class UpgradePipeline {
  readonly deps: UpgradePipelineDeps;
  readonly steps: readonly UpgradeStep[];
  readonly peer: UpgradePeer;
  readonly origins: OriginPolicy;
  readonly wss: WebSocketServer;
  readonly chosenProtocol = new WeakMap<IncomingMessage, string | false>();
  /** Configured secrets, kept out of refusal details (they go to the client, the log and MQTT). [SPEC §8] */
  readonly #secrets: readonly string[];

  constructor(deps: UpgradePipelineDeps, steps: readonly UpgradeStep[] = UPGRADE_STEPS) {
    this.deps = deps;
    this.steps = steps;
    const o = deps.config.ocpp;
    this.peer = deps.peer ?? socketPeer(deps.config, deps.clock, deps.entry);
    this.origins = new OriginPolicy(o.allowed_origins);
    this.#secrets = configSecrets(deps.config);
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: o.max_frame_size,
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: (_offered, req) => this.chosenProtocol.get(req) ?? false,
    });
  }

  /** A plain HTTP request to the OCPP port: 426 under ocpp.path (upgrade required), else 404. */
  handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const o = this.deps.config.ocpp;
    const inside = parseCpIdFromPath(req.url, o.path, o.max_id_length).ok;
    res.writeHead(inside ? 426 : 404, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
    res.end(inside ? 'OCPP-J endpoint: connect with a WebSocket upgrade\n' : 'not found\n');
  }

  /** The 'upgrade' event of any Node HTTP(S) server. Never rejects: every failure is answered. */
  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { config, clock, log, admission } = this.deps;
    // A module-level listener: an arrow here would share this function's closure scope (the handshake's
    // AbortController, timer, maps) and keep it alive as long as the socket, ~1.1 KiB per connection.
    socket.on('error', destroyOnError);
    const remoteAddress = this.peer.remoteAddress(req);
    const source = sourceKey(remoteAddress);
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
      if (!finished) this.#refuse(socket, source, new UpgradeRefused('handshake_timeout', `no completed upgrade within ${config.ocpp.handshake_timeout} ms`));
      finished = true;
    }, config.ocpp.handshake_timeout);
    const attempt: UpgradeAttempt = {
      req, socket, head, source, remoteAddress, gone: gone.signal,
      get finished() {
        return finished;
      },
      settle() {
        finished = true;
        clock.clearTimeout(timer);
        socket.off('end', onClose).off('close', onClose);
      },
    };
    try {
      for (const step of this.steps) {
        // A step that returns no promise runs on in the same turn, as one function would.
        const ran = step.run(attempt, this);
        const result = ran instanceof Promise ? await ran : ran;
        if (result === 'done') return;
      }
    } catch (err) {
      attempt.attachment?.release();
      if (attempt.claimedAddress !== undefined) admission.releaseAddress(attempt.claimedAddress);
      clock.clearTimeout(timer);
      socket.off('end', onClose).off('close', onClose);
      if (err instanceof UpgradeRefused) {
        // After the timer answered 408 (not knowing the cpId), only the event naming the cpId is still due.
        if (!finished) this.#refuse(socket, source, err);
        else if (err.refusal === 'handshake_timeout') this.#refuse(socket, source, err, true);
      } else {
        log.error({ err: String(err) }, 'cp.upgrade_failed');
        this.#refuse(socket, source, new UpgradeRefused('not_ready', 'internal error during the upgrade'));
      }
      finished = true;
    }
  }

  /** `answered`: the client already got this refusal (the handshake timer's 408): publish the event only. */
  #refuse(socket: Duplex, source: string, r: UpgradeRefused, answered = false): void {
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
    const { metrics, log, bridge } = this.deps;
    if (first) metrics.upgradeRefused(reason);
    if (this.deps.refusalReports.allow(source, reason)) {
      if (first) log.info({ cpId, source, reason, ...answer, detail, listener: this.deps.entry.name }, 'cp.upgrade_refused');
      if (cpId !== undefined) bridge.publishEvent(cpId, 'rejected', { cpId, reason, ...answer, detail }).catch(() => undefined);
    } else metrics.rejectedSuppressed(reason);
  }

  /**
   * [OCPP-J 1.6 §3] [OCPP-J 2.0.1 §3.1] [OCPP-J 2.1 §3.1] No subprotocol in common: complete the
   * handshake without Sec-WebSocket-Protocol and close at once. The connection never enters the
   * registry nor the bridge (no subscription, no event/connected, no presence); it is reported like an
   * upgrade refusal. It holds its address claim until the socket is gone. [SPEC §3]
   */
  closeUnagreed(a: UpgradeAttempt, unagreedDetail: string): void {
    const { admission, clock } = this.deps;
    a.settle();
    a.claimedAddress = undefined; // released when this socket closes
    const code = CLOSE_REASONS.no_subprotocol.code;
    this.chosenProtocol.set(a.req, false);
    let upgraded = false;
    this.wss.handleUpgrade(a.req, a.socket, a.head, (ws) => {
      upgraded = true;
      // Nothing it sends is read; a broken frame before our close must not become an unhandled 'error'.
      ws.on('error', () => undefined);
      ws.close(code, 'no_subprotocol');
      const grace = clock.setTimeout(() => ws.terminate(), this.deps.sessions.limits.closeGraceMs);
      ws.once('close', () => {
        clock.clearTimeout(grace);
        admission.releaseAddress(a.remoteAddress);
      });
    });
    if (!upgraded) {
      // ws refused it (bad handshake headers) or the socket closed.
      admission.releaseAddress(a.remoteAddress);
      return;
    }
    this.#report(a.source, 'no_subprotocol', a.cpId, redactText(unagreedDetail, this.#secrets), { status: 101, code }, true);
  }
}
