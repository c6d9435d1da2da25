// The per-version behaviour suite: the same scenarios for an OCPP 1.6, a 2.0.1 and a 2.1 charge point,
// each driven by libraries written by others (ocpp-ws-io for every version, ocpp-rpc for 1.6 and
// 2.0.1) and by a raw WebSocket for frames no library would send. The gateway runs with its default
// configuration (no ocpp.protocols setting), once per suite: compiling every version's schemas takes
// seconds, so each scenario gets its own cpId, service and charge point instead of its own gateway.
// [SPEC §3, §4, §5, §6]
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import addFormatsImport from 'ajv-formats';
import { OCPPClient, createRPCError as wsioError, type MessageEventPayload } from 'ocpp-ws-io';
import { createRPCError as rpcError, type RPCClient } from 'ocpp-rpc';
import { defer } from './cleanup.js';
import { chargePoint, rawSocket, Service, startTestGateway, within, type RawSocket, type Received } from './harness.js';
import { KITS, PERIODIC_EVENT_STREAM, type Library, type VersionKit } from './version-kit.js';
import type { BrokerFactory } from './behaviour-suite.js';

interface Env {
  readonly ocppUrl: string;
  readonly mqttUrl: string;
}

/** A scenario: its name (with the spec clauses it checks) and, while the gateway lacks what it checks,
 *  the todo reason (`{ todo: 'gateway: ...' }`) that keeps main green. */
interface Scenario {
  readonly name: string;
  readonly run: (t: TestContext, env: Env) => Promise<void>;
  readonly todo?: string;
}

type Frame = unknown[];
type ErrorBody = { errorCode: string; errorDescription: string; errorDetails: { gateway?: { reason?: string; payload?: unknown } } & Record<string, unknown> };

const SUBTEST = { timeout: 30_000 };

// ---- peers ------------------------------------------------------------------------------------------

/** Frames that arrive over time, with a deadline on every wait. */
class Inbox<T> {
  readonly items: T[] = [];
  #waiters: Array<{ match: (item: T) => boolean; resolve: (item: T) => void }> = [];

  push(item: T): void {
    this.items.push(item);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.match(item)) return true;
      w.resolve(item);
      return false;
    });
  }

  waitFor(match: (item: T) => boolean, what: string): Promise<T> {
    const seen = this.items.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    const waiter = { match, resolve: (_item: T) => undefined as void };
    const arrived = new Promise<T>((resolve) => {
      waiter.resolve = resolve;
      this.#waiters.push(waiter);
    });
    return within(arrived, what).finally(() => {
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
    });
  }
}

/**
 * An ocpp-ws-io charge point. `callErrors` keeps every CALLERROR it receives as sent (the library maps
 * codes it does not know, such as 1.6's "OccurenceConstraintViolation", to GenericError); `unhandled`
 * keeps the frames it cannot handle itself: 2.1 CALLRESULTERROR and SEND.
 */
class WsIoCp {
  readonly callErrors = new Inbox<Frame>();
  readonly unhandled = new Inbox<Frame>();

  constructor(readonly client: OCPPClient) {
    client.on('message', ({ message, direction }: MessageEventPayload) => {
      if (direction === 'IN' && message[0] === 4) this.callErrors.push([...message]);
    });
    client.on('badMessage', ({ message }) => {
      try {
        const frame: unknown = JSON.parse(message);
        if (Array.isArray(frame)) this.unhandled.push(frame);
      } catch {
        // Not JSON: the gateway never sends such a frame, and the scenario waiting for a frame says so.
      }
    });
  }

  call(action: string, payload: Record<string, unknown>, messageId: string): Promise<unknown> {
    return this.client.call(action, payload, { idempotencyKey: messageId });
  }

  sendRaw(frame: Frame): void {
    this.client.sendRaw(JSON.stringify(frame));
  }
}

async function wsio(t: TestContext, env: Env, cpId: string, protocols: readonly string[], before?: (client: OCPPClient) => void): Promise<WsIoCp> {
  // ALWAYS logging: false (its logger is stood in by a package that refuses to log).
  const client = new OCPPClient({ endpoint: env.ocppUrl, identity: cpId, protocols: [...protocols] as never, logging: false, reconnect: false, pingIntervalMs: 0, callTimeoutMs: 20_000 });
  defer(t, () => client.close({ force: true }).catch(() => undefined));
  const cp = new WsIoCp(client);
  before?.(client);
  await within(client.connect(), `ocpp-ws-io charge point ${cpId} to connect`);
  return cp;
}

type Handler = (params: unknown) => Promise<Record<string, unknown>>;

/** What the library-independent scenarios need of a charge point library. */
interface Peer {
  readonly library: Library;
  readonly protocol: string | undefined;
  /** A CALL; ocpp-rpc chooses its own messageId, so the scenario finds it on the topic. */
  call(action: string, payload: Record<string, unknown>): Promise<unknown>;
  handle(action: string, handler: Handler): void;
}

/** The exception a handler of `library` throws to answer with a CALLERROR. */
function libraryError(library: Library, code: string, description: string): Error {
  return library === 'ocpp-ws-io' ? wsioError(code, description) : (rpcError(code, description) as unknown as Error);
}

async function peer(t: TestContext, env: Env, library: Library, cpId: string, protocol: string, handlers: Record<string, Handler> = {}): Promise<Peer> {
  if (library === 'ocpp-ws-io') {
    const cp = await wsio(t, env, cpId, [protocol], (client) => {
      for (const [action, fn] of Object.entries(handlers)) client.handle(action, ({ params }) => fn(params));
    });
    let n = 0;
    return {
      library,
      protocol: cp.client.protocol,
      call: (action, payload) => cp.call(action, payload, `${library}-${++n}`),
      handle: (action, fn) => cp.client.handle(action, ({ params }) => fn(params)),
    };
  }
  const cp: RPCClient = await chargePoint(t, env.ocppUrl, cpId, { protocols: [protocol] }, (c) => {
    for (const [action, fn] of Object.entries(handlers)) c.handle(action, ({ params }) => fn(params));
  });
  return {
    library,
    protocol: cp.protocol,
    call: (action, payload) => cp.call(action, payload),
    handle: (action, fn) => cp.handle(action, ({ params }) => fn(params)),
  };
}

// ---- waiting and proving ----------------------------------------------------------------------------

type Outcome = { ok: true; value: unknown } | { ok: false; error: Error & { rpcErrorCode?: string } };

function settle(p: Promise<unknown>): Promise<Outcome> {
  return p.then((value) => ({ ok: true as const, value }), (error: Error) => ({ ok: false as const, error }));
}

/** `waiting`, unless the CP's pending call settles first: then the gateway answered it too early. */
function beforeSettled<T>(waiting: Promise<T>, call: Promise<Outcome>, what: string): Promise<T> {
  const early = call.then((o): never => {
    throw new Error(`the charge point's call settled before ${what}: ${o.ok ? `result ${JSON.stringify(o.value)}` : `error ${o.error.rpcErrorCode ?? ''} ${o.error.message}`}`);
  });
  return Promise.race([waiting, early]);
}

const gatewayReason = (m: Received): string | undefined => (m.json as ErrorBody | undefined)?.errorDetails?.gateway?.reason;

async function service(t: TestContext, env: Env, cpId: string): Promise<Service> {
  return Service.connect(t, env.mqttUrl, [`ocpp/${cpId}/#`]);
}

/** Answers every CALL the CP publishes with the version's answer for its action. */
function answerCalls(svc: Service, cpId: string, answers: Record<string, Record<string, unknown>>): void {
  const up = new RegExp(`^ocpp/${cpId}/up/request/([^/]+)/([^/]+)$`);
  svc.client.on('message', (topic) => {
    const m = up.exec(topic);
    const answer = m === null ? undefined : answers[m[1] as string];
    if (m !== null && answer !== undefined) void svc.publish(`ocpp/${cpId}/dn/response/${m[1]}/${m[2]}`, answer);
  });
}

/**
 * Proof that the gateway sent nothing in reply to the frames before: a valid CALL, answered by the
 * service; the first frame the CP receives must be that answer (frames on one socket keep their order).
 * Fails at once when another frame comes first.
 */
function firstFrameAnswers(raw: RawSocket, svc: Service, kit: VersionKit, cpId: string, messageId: string): Promise<void> {
  return firstFrameAnswersAfter(raw.next(), raw, svc, kit, cpId, messageId);
}

function rejectedAbout(svc: Service, cpId: string, messageId: string): Promise<Received> {
  return svc.waitFor((m) => m.topic === `ocpp/${cpId}/event/rejected` && (m.json as { messageId?: string } | undefined)?.messageId === messageId);
}

/** The rule for an unknown MessageTypeId: 2.0.1 answers MessageTypeNotSupported, 1.6 and 2.1 ignore and report. */
async function unknownTypeIsHandled(raw: RawSocket, svc: Service, kit: VersionKit, cpId: string, frame: Frame, messageId: string): Promise<void> {
  const answer = kit.spelled.messageTypeNotSupported;
  const first = raw.next();
  raw.send(JSON.stringify(frame));
  if (answer !== undefined) {
    // [OCPP-J 2.0.1 §4.1.3]
    const f = (await first) as Frame;
    assert.deepEqual(f.slice(0, 3), [4, messageId, answer]);
    return;
  }
  // [OCPP-J 1.6 §4.1.3] [OCPP-J 2.1 §4.4] ignored: nothing sent, reported as event/rejected.
  const ev = await Promise.race([
    rejectedAbout(svc, cpId, messageId),
    first.then((f): never => {
      throw new Error(`the gateway answered an unknown MessageTypeId with ${JSON.stringify(f)}`);
    }),
  ]);
  assert.equal((ev.json as { reason: string }).reason, 'malformed_frame');
  // `first` is still waiting: the proof requires it to be the answer to a valid CALL.
  await firstFrameAnswersAfter(first, raw, svc, kit, cpId, `${messageId}-after`);
}

/** firstFrameAnswers when a `raw.next()` is already waiting (it gets the first frame). */
async function firstFrameAnswersAfter(first: Promise<unknown>, raw: RawSocket, svc: Service, kit: VersionKit, cpId: string, messageId: string): Promise<void> {
  const hb = kit.heartbeat;
  raw.send(JSON.stringify([2, messageId, hb.action, hb.request]));
  await Promise.race([
    svc.waitFor(`ocpp/${cpId}/up/request/${hb.action}/${messageId}`),
    first.then((f): never => {
      throw new Error(`the charge point received ${JSON.stringify(f)} before the answer to its valid CALL ${messageId}`);
    }),
  ]);
  await svc.publish(`ocpp/${cpId}/dn/response/${hb.action}/${messageId}`, hb.response);
  assert.deepEqual(await first, [3, messageId, hb.response], 'the first frame the CP receives answers its valid CALL: nothing was sent before it');
}

// ---- the scenarios ------------------------------------------------------------------------------------

function scenarios(kit: VersionKit): Scenario[] {
  const { protocol, tag, profile } = kit;
  const codes = profile.codes;
  const is21 = profile.messageTypes.has(6);
  const id = (name: string) => `${tag}-${name}`;
  const hb = kit.heartbeat;
  const [read, write] = kit.commands;
  const list: Scenario[] = [];
  const add = (name: string, run: Scenario['run'], todo?: string) => list.push({ name: `${protocol}: ${name}`, run, ...(todo !== undefined ? { todo } : {}) });

  add(`[SPEC §3] negotiation: a client offering only ${protocol} gets it, in the connected event and the presence`, async (t, env) => {
    for (const library of kit.libraries) {
      const cpId = id(`neg-${library}`);
      const svc = await service(t, env, cpId);
      const cp = await peer(t, env, library, cpId, protocol);
      assert.equal(cp.protocol, protocol, library);
      const connected = await svc.waitFor(`ocpp/${cpId}/event/connected`);
      assert.equal((connected.json as { protocol: string }).protocol, protocol);
      const status = await svc.waitFor((m) => m.topic === `ocpp/${cpId}/status` && (m.json as { online: boolean }).online);
      assert.equal((status.json as { protocol: string }).protocol, protocol);
    }
  });

  for (const library of kit.libraries) {
    add(`[SPEC §4] boot (${library}): BootNotification on up/request with the exact payload text; the answer on dn/response resolves the CP's call`, async (t, env) => {
      const cpId = id(`boot-${library}`);
      const svc = await service(t, env, cpId);
      answerCalls(svc, cpId, { [kit.boot.action]: kit.boot.response });
      const cp = await peer(t, env, library, cpId, protocol);
      assert.deepEqual(await within(cp.call(kit.boot.action, kit.boot.request), 'the BootNotification result'), kit.boot.response);
      const up = await svc.waitFor((m) => m.topic.startsWith(`ocpp/${cpId}/up/request/${kit.boot.action}/`));
      assert.equal(up.text, JSON.stringify(kit.boot.request));
    });
  }

  add(`[SPEC §4, §5] transactions: ${kit.transactions.map((x) => `${x.action}${x.action === 'TransactionEvent' ? ` ${String(x.request['eventType'])}` : ''}`).join(', ')} published and answered (ocpp-ws-io)`, async (t, env) => {
    const cpId = id('tx');
    const svc = await service(t, env, cpId);
    const cp = await wsio(t, env, cpId, [protocol]);
    let n = 0;
    for (const x of kit.transactions) {
      const messageId = `tx-${++n}`;
      const call = settle(cp.call(x.action, x.request, messageId));
      const up = await beforeSettled(svc.waitFor(`ocpp/${cpId}/up/request/${x.action}/${messageId}`), call, `${x.action} was published`);
      assert.equal(up.text, JSON.stringify(x.request));
      await svc.publish(`ocpp/${cpId}/dn/response/${x.action}/${messageId}`, x.response);
      const outcome = await within(call, `the ${x.action} result`);
      assert.ok(outcome.ok, `${x.action} was refused: ${outcome.ok ? '' : outcome.error.message}`);
      assert.deepEqual(outcome.value, x.response);
    }
  });

  for (const library of kit.libraries) {
    add(`[SPEC §4] device model (${library}): ${read.action} and ${write.action} on dn/request reach the CP handler; results on up/response`, async (t, env) => {
      const cpId = id(`dm-${library}`);
      const svc = await service(t, env, cpId);
      const seen: Record<string, unknown> = {};
      const handlers = Object.fromEntries([read, write].map((x) => [x.action, async (params: unknown) => ((seen[x.action] = params), x.response)]));
      await peer(t, env, library, cpId, protocol, handlers);
      await svc.waitFor(`ocpp/${cpId}/event/connected`);
      for (const x of [read, write]) {
        await svc.publish(`ocpp/${cpId}/dn/request/${x.action}/dm-${x.action}`, x.request);
        const res = await svc.waitFor(`ocpp/${cpId}/up/response/${x.action}/dm-${x.action}`);
        assert.deepEqual(res.json, x.response);
        assert.deepEqual(seen[x.action], x.request);
      }
    });

    add(`[SPEC §4] device model (${library}): a CP handler that throws -> up/error with the CP's errorCode`, async (t, env) => {
      const cpId = id(`dmerr-${library}`);
      const svc = await service(t, env, cpId);
      await peer(t, env, library, cpId, protocol, {
        [read.action]: async () => {
          throw libraryError(library, 'NotSupported', 'no such component here');
        },
      });
      await svc.waitFor(`ocpp/${cpId}/event/connected`);
      await svc.publish(`ocpp/${cpId}/dn/request/${read.action}/dmerr-1`, read.request);
      const err = await svc.waitFor(`ocpp/${cpId}/up/error/${read.action}/dmerr-1`);
      const body = err.json as ErrorBody;
      assert.equal(body.errorCode, 'NotSupported');
      assert.equal(body.errorDetails.gateway, undefined, "the CP's own CALLERROR, not a gateway error");
    });
  }

  add(`[SPEC §6] invalid payload from the CP: ${codes.occurrence} (missing field), ${codes.formation} (unknown property), ${codes.notImplemented} (unknown action); nothing published`, async (t, env) => {
    const cpId = id('invalid');
    const svc = await service(t, env, cpId);
    answerCalls(svc, cpId, { [hb.action]: hb.response });
    const cp = await wsio(t, env, cpId, [protocol]);
    const cases: Array<[string, string, Record<string, unknown>, string]> = [
      ['bad-req', kit.boot.action, kit.bootMissingRequired, codes.occurrence],
      ['bad-extra', kit.boot.action, kit.bootExtraProperty, codes.formation],
      ['bad-action', 'FlyToTheMoon', {}, codes.notImplemented],
    ];
    for (const [messageId, action, payload, code] of cases) {
      const outcome = await within(settle(cp.call(action, payload, messageId)), `the answer to ${messageId}`);
      assert.ok(!outcome.ok, `${messageId} was accepted`);
      const frame = await cp.callErrors.waitFor((f) => f[1] === messageId, `the CALLERROR for ${messageId}`);
      assert.equal(frame[2], code, messageId);
      const ev = await rejectedAbout(svc, cpId, messageId);
      assert.equal((ev.json as { reason: string }).reason, 'validation_failed');
    }
    // A valid CALL after them is published; the invalid ones, processed first, never were.
    assert.deepEqual(await within(cp.call(hb.action, hb.request, 'valid-after'), 'the Heartbeat result'), hb.response);
    assert.deepEqual(svc.topics(`ocpp/${cpId}/up/request/`), [`ocpp/${cpId}/up/request/${hb.action}/valid-after`]);
  });

  add(`[SPEC §6] malformed: not JSON -> CALLERROR [4,"-1","${codes.rpcFramework}",...]`, async (t, env) => {
    const cpId = id('notjson');
    const svc = await service(t, env, cpId);
    const raw = await rawSocket(t, `${env.ocppUrl}/${cpId}`, [protocol]);
    raw.send('[2,"j1","Heartbeat",{');
    const f = (await raw.next()) as Frame;
    assert.deepEqual(f.slice(0, 3), [4, '-1', codes.rpcFramework]);
    const ev = await svc.waitFor(`ocpp/${cpId}/event/rejected`);
    assert.equal((ev.json as { reason: string }).reason, 'malformed_frame');
  });

  add(`[SPEC §6] malformed: unknown MessageTypeId 7 -> ${kit.spelled.messageTypeNotSupported === undefined ? 'ignored (nothing sent), event/rejected' : `CALLERROR ${kit.spelled.messageTypeNotSupported} with its id`}`, async (t, env) => {
    const cpId = id('type7');
    const svc = await service(t, env, cpId);
    const raw = await rawSocket(t, `${env.ocppUrl}/${cpId}`, [protocol]);
    await unknownTypeIsHandled(raw, svc, kit, cpId, [7, 'm1', 'Heartbeat', {}], 'm1');
  });

  if (!is21) {
    add(`[SPEC §6] a CALL sent as type 6 (SEND, 2.1 only) is an unknown MessageTypeId in ${protocol}`, async (t, env) => {
      const cpId = id('type6');
      const svc = await service(t, env, cpId);
      const raw = await rawSocket(t, `${env.ocppUrl}/${cpId}`, [protocol]);
      await unknownTypeIsHandled(raw, svc, kit, cpId, [6, 'x6', 'Heartbeat', {}], 'x6');
    });
  }

  add('[SPEC §6] a null payload is the same as {}: [2,"h1","Heartbeat",null] is published as {} and answered', async (t, env) => {
    const cpId = id('null');
    const svc = await service(t, env, cpId);
    const raw = await rawSocket(t, `${env.ocppUrl}/${cpId}`, [protocol]);
    const first = raw.next();
    raw.send('[2,"h1","Heartbeat",null]');
    const up = await Promise.race([
      svc.waitFor(`ocpp/${cpId}/up/request/Heartbeat/h1`),
      first.then((f): never => {
        throw new Error(`a null payload was answered with ${JSON.stringify(f)}`);
      }),
    ]);
    assert.equal(up.text, '{}');
    await svc.publish(`ocpp/${cpId}/dn/response/Heartbeat/h1`, hb.response);
    assert.deepEqual(await first, [3, 'h1', hb.response]);
  });

  add(`[SPEC §6] a 37-character messageId on a CALL -> CALLERROR ${codes.rpcFramework} echoing the id; not published`, async (t, env) => {
    const cpId = id('longid');
    const svc = await service(t, env, cpId);
    const raw = await rawSocket(t, `${env.ocppUrl}/${cpId}`, [protocol]);
    const longId = 'L'.repeat(37);
    raw.send(JSON.stringify([2, longId, 'Heartbeat', {}]));
    const f = (await raw.next()) as Frame;
    assert.deepEqual(f.slice(0, 3), [4, longId, codes.rpcFramework]);
    await firstFrameAnswers(raw, svc, kit, cpId, 'after-longid');
    assert.deepEqual(svc.topics(`ocpp/${cpId}/up/request/`), [`ocpp/${cpId}/up/request/Heartbeat/after-longid`]);
  });

  add(`[SPEC §5, §6] a reused messageId: another CALL with the pending id -> CALLERROR ${codes.rpcFramework}, the first stays pending; an identical retransmission is dropped`, async (t, env) => {
    const cpId = id('reuse');
    const svc = await service(t, env, cpId);
    const raw = await rawSocket(t, `${env.ocppUrl}/${cpId}`, [protocol]);
    const original = JSON.stringify([2, 'dup1', hb.action, hb.request]);
    raw.send(original);
    await svc.waitFor(`ocpp/${cpId}/up/request/${hb.action}/dup1`);
    // A different (and valid) CALL under the pending id.
    raw.send(JSON.stringify([2, 'dup1', kit.boot.action, kit.boot.request]));
    const f = (await raw.next()) as Frame;
    assert.deepEqual(f.slice(0, 3), [4, 'dup1', codes.rpcFramework]);
    // The identical retransmission, then a marker CALL: once the marker is published, the
    // retransmission (sent before it on the same socket) has been handled.
    raw.send(original);
    raw.send(JSON.stringify([2, 'marker', hb.action, hb.request]));
    await svc.waitFor(`ocpp/${cpId}/up/request/${hb.action}/marker`);
    await svc.publish(`ocpp/${cpId}/dn/response/${hb.action}/dup1`, hb.response);
    await svc.publish(`ocpp/${cpId}/dn/response/${hb.action}/marker`, hb.response);
    assert.deepEqual(await raw.next(), [3, 'dup1', hb.response], 'the first CALL stayed pending and the retransmission got no answer');
    assert.deepEqual(await raw.next(), [3, 'marker', hb.response]);
    assert.deepEqual(svc.topics(`ocpp/${cpId}/up/request/`), [`ocpp/${cpId}/up/request/${hb.action}/dup1`, `ocpp/${cpId}/up/request/${hb.action}/marker`], 'published once each');
  });

  add(`[SPEC §4, §6] a service CALLERROR with an errorCode outside ${protocol}'s table ("Oops", "${kit.foreignErrorCode}") is not sent: invalid_payload, the CALL stays pending`, async (t, env) => {
    const cpId = id('svcerr');
    const svc = await service(t, env, cpId);
    const cp = await wsio(t, env, cpId, [protocol]);
    const call = settle(cp.call(hb.action, hb.request, 'e1'));
    await beforeSettled(svc.waitFor(`ocpp/${cpId}/up/request/${hb.action}/e1`), call, 'the CALL was published');
    for (const errorCode of ['Oops', kit.foreignErrorCode]) {
      assert.ok(!profile.errorCodes.has(errorCode));
      const from = svc.received.length;
      await svc.publish(`ocpp/${cpId}/dn/error/${hb.action}/e1`, { errorCode, errorDescription: 'refused', errorDetails: {} });
      const err = await beforeSettled(svc.waitFor((m) => m.topic === `ocpp/${cpId}/up/error/${hb.action}/e1`, from), call, `the gateway refused errorCode ${errorCode}`);
      assert.equal(gatewayReason(err), 'invalid_payload');
      assert.ok(profile.errorCodes.has((err.json as ErrorBody).errorCode), 'the gateway error uses a code of the version');
    }
    await svc.publish(`ocpp/${cpId}/dn/response/${hb.action}/e1`, hb.response);
    const outcome = await within(call, 'the Heartbeat result');
    assert.ok(outcome.ok, `the CP got ${outcome.ok ? '' : outcome.error.message}`);
    assert.deepEqual(outcome.value, hb.response);
  });

  const maxDescription = profile.rules.maxErrorDescriptionLength;
  if (maxDescription !== undefined) {
    add(`[SPEC §4] [OCPP-J ${protocol.slice(4)} §4.2.3] a service errorDescription over ${maxDescription} characters is refused (invalid_payload, CALL pending); ${maxDescription} goes through`, async (t, env) => {
      assert.equal(maxDescription, 255);
      const cpId = id('longdesc');
      const svc = await service(t, env, cpId);
      const cp = await wsio(t, env, cpId, [protocol]);
      const call = settle(cp.call(hb.action, hb.request, 'd1'));
      await beforeSettled(svc.waitFor(`ocpp/${cpId}/up/request/${hb.action}/d1`), call, 'the CALL was published');
      await svc.publish(`ocpp/${cpId}/dn/error/${hb.action}/d1`, { errorCode: 'NotSupported', errorDescription: 'x'.repeat(256), errorDetails: {} });
      const err = await beforeSettled(svc.waitFor(`ocpp/${cpId}/up/error/${hb.action}/d1`), call, 'the gateway refused the 256-character description');
      assert.equal(gatewayReason(err), 'invalid_payload');
      await svc.publish(`ocpp/${cpId}/dn/error/${hb.action}/d1`, { errorCode: 'NotSupported', errorDescription: 'y'.repeat(255), errorDetails: {} });
      const frame = await cp.callErrors.waitFor((f) => f[1] === 'd1', 'the CALLERROR with 255 characters');
      assert.deepEqual(frame, [4, 'd1', 'NotSupported', 'y'.repeat(255), {}]);
      assert.equal((await within(call, 'the call to end')).ok, false);
    });
  } else {
    add('[SPEC §4] [OCPP-J 1.6 §4.2.3] a long service errorDescription (300 characters) reaches the CP: 1.6 sets no bound', async (t, env) => {
      const cpId = id('longdesc');
      const svc = await service(t, env, cpId);
      const cp = await wsio(t, env, cpId, [protocol]);
      const call = settle(cp.call(hb.action, hb.request, 'd1'));
      await beforeSettled(svc.waitFor(`ocpp/${cpId}/up/request/${hb.action}/d1`), call, 'the CALL was published');
      await svc.publish(`ocpp/${cpId}/dn/error/${hb.action}/d1`, { errorCode: 'NotSupported', errorDescription: 'z'.repeat(300), errorDetails: { k: 1 } });
      const frame = await cp.callErrors.waitFor((f) => f[1] === 'd1', 'the CALLERROR');
      assert.deepEqual(frame, [4, 'd1', 'NotSupported', 'z'.repeat(300), { k: 1 }]);
    });
  }

  if (profile.rules.invalidCallResult === 'callresulterror') {
    add(`[SPEC §4, §6] [OCPP-J 2.1 §4.2.4] an invalid CALLRESULT from the CP -> the CP gets CALLRESULTERROR ${codes.occurrence}; the service gets invalid_response`, async (t, env) => {
      const cpId = id('badresult');
      const svc = await service(t, env, cpId);
      const cp = await wsio(t, env, cpId, [protocol], (client) => client.handle(read.action, async () => kit.invalidCommandResult.payload));
      await svc.waitFor(`ocpp/${cpId}/event/connected`);
      await svc.publish(`ocpp/${cpId}/dn/request/${read.action}/ir1`, read.request);
      const err = await svc.waitFor(`ocpp/${cpId}/up/error/${read.action}/ir1`);
      assert.equal(gatewayReason(err), 'invalid_response');
      assert.equal((err.json as ErrorBody).errorCode, codes[kit.invalidCommandResult.role]);
      assert.deepEqual((err.json as ErrorBody).errorDetails.gateway?.payload, kit.invalidCommandResult.payload);
      const f = await cp.unhandled.waitFor((x) => x[0] === 5 && x[1] === 'ir1', 'the CALLRESULTERROR');
      assert.equal(f[2], codes[kit.invalidCommandResult.role]);
    });
  } else {
    add(`[SPEC §6] an invalid CALLRESULT from the CP -> the service gets invalid_response; ${protocol} sends the CP nothing`, async (t, env) => {
      const cpId = id('badresult');
      const svc = await service(t, env, cpId);
      const raw = await rawSocket(t, `${env.ocppUrl}/${cpId}`, [protocol]);
      await svc.waitFor(`ocpp/${cpId}/event/connected`);
      await svc.publish(`ocpp/${cpId}/dn/request/${read.action}/ir1`, read.request);
      assert.deepEqual(await raw.next(), [2, 'ir1', read.action, read.request]);
      raw.send(JSON.stringify([3, 'ir1', kit.invalidCommandResult.payload]));
      const err = await svc.waitFor(`ocpp/${cpId}/up/error/${read.action}/ir1`);
      assert.equal(gatewayReason(err), 'invalid_response');
      assert.equal((err.json as ErrorBody).errorCode, codes[kit.invalidCommandResult.role]);
      assert.deepEqual((err.json as ErrorBody).errorDetails.gateway?.payload, kit.invalidCommandResult.payload);
      await firstFrameAnswers(raw, svc, kit, cpId, 'after-badresult');
    });
  }

  if (!is21) {
    add(`[SPEC §4] dn/send and dn/resulterror (2.1 only) on ${protocol}: gateway error unsupported_type, nothing sent`, async (t, env) => {
      const cpId = id('unsupported');
      const svc = await service(t, env, cpId);
      const raw = await rawSocket(t, `${env.ocppUrl}/${cpId}`, [protocol]);
      await svc.waitFor(`ocpp/${cpId}/event/connected`);
      await svc.publish(`ocpp/${cpId}/dn/send/${PERIODIC_EVENT_STREAM.action}/u1`, PERIODIC_EVENT_STREAM.valid);
      await svc.publish(`ocpp/${cpId}/dn/resulterror/${read.action}/u2`, { errorCode: 'GenericError', errorDescription: 'no', errorDetails: {} });
      for (const [type, action, messageId] of [['send', PERIODIC_EVENT_STREAM.action, 'u1'], ['resulterror', read.action, 'u2']] as const) {
        const err = await svc.waitFor(`ocpp/${cpId}/up/error/${action}/${messageId}`);
        assert.equal(gatewayReason(err), 'unsupported_type', type);
      }
      await svc.publish(`ocpp/${cpId}/dn/request/${read.action}/u3`, read.request);
      assert.deepEqual(await raw.next(), [2, 'u3', read.action, read.request], 'the first frame the CP receives is the CALL sent after them');
    });
  }

  if (is21) {
    const pes = PERIODIC_EVENT_STREAM;

    add(`[SPEC §4] [OCPP-J 2.1 §4.2.5] SEND from the CP (ocpp-ws-io): ${pes.action} on up/send with the exact payload`, async (t, env) => {
      const cpId = id('send-up');
      const svc = await service(t, env, cpId);
      const cp = await wsio(t, env, cpId, [protocol]);
      cp.sendRaw([6, 's1', pes.action, pes.valid]);
      const up = await svc.waitFor(`ocpp/${cpId}/up/send/${pes.action}/s1`);
      assert.equal(up.text, JSON.stringify(pes.valid));
    });

    add('[SPEC §4, §6] [OCPP-J 2.1 §4.2.5] a SEND is never answered: valid, invalid, malformed or of an unknown action; only the valid one is published, the rest reported', async (t, env) => {
      const cpId = id('send-silent');
      const svc = await service(t, env, cpId);
      const raw = await rawSocket(t, `${env.ocppUrl}/${cpId}`, [protocol]);
      const first = raw.next();
      const frames: Array<[string, string]> = [
        ['s1', JSON.stringify([6, 's1', pes.action, pes.valid])],
        ['s2', JSON.stringify([6, 's2', pes.action, pes.invalid])],
        ['s3', JSON.stringify([6, 's3', pes.action, 'not an object'])],
        ['s4', JSON.stringify([6, 's4', pes.action])],
        ['s5', JSON.stringify([6, 's5', 'NoSuchStream', {}])],
      ];
      for (const [, text] of frames) raw.send(text);
      for (const [messageId] of frames.slice(1)) {
        await Promise.race([
          rejectedAbout(svc, cpId, messageId),
          first.then((f): never => {
            throw new Error(`a SEND was answered with ${JSON.stringify(f)}`);
          }),
        ]);
      }
      await firstFrameAnswersAfter(first, raw, svc, kit, cpId, 'after-send');
      assert.deepEqual(svc.topics(`ocpp/${cpId}/up/send/`), [`ocpp/${cpId}/up/send/${pes.action}/s1`]);
      assert.deepEqual(svc.topics(`ocpp/${cpId}/up/request/`), [`ocpp/${cpId}/up/request/${hb.action}/after-send`]);
    });

    add(`[SPEC §4] [OCPP-J 2.1 §4.2.5] SEND from the service: dn/send/${pes.action} reaches the CP as [6,id,action,payload]; an invalid one is refused (invalid_payload)`, async (t, env) => {
      const cpId = id('send-dn');
      const svc = await service(t, env, cpId);
      const cp = await wsio(t, env, cpId, [protocol]);
      await svc.waitFor(`ocpp/${cpId}/event/connected`);
      await svc.publish(`ocpp/${cpId}/dn/send/${pes.action}/d0`, pes.invalid);
      const err = await svc.waitFor(`ocpp/${cpId}/up/error/${pes.action}/d0`);
      assert.equal(gatewayReason(err), 'invalid_payload');
      await svc.publish(`ocpp/${cpId}/dn/send/${pes.action}/d1`, pes.valid);
      const f = await cp.unhandled.waitFor((x) => x[0] === 6, 'the SEND');
      assert.deepEqual(f, [6, 'd1', pes.action, pes.valid], 'the first SEND the CP receives is the valid one');
    });

    add('[SPEC §4] [OCPP-J 2.1 §4.2.4] CALLRESULTERROR from the CP about the answer to its CALL -> up/resulterror with the CALL\'s action', async (t, env) => {
      const cpId = id('cre-up');
      const svc = await service(t, env, cpId);
      answerCalls(svc, cpId, { [hb.action]: hb.response });
      const cp = await wsio(t, env, cpId, [protocol]);
      assert.deepEqual(await within(cp.call(hb.action, hb.request, 'rb1'), 'the Heartbeat result'), hb.response);
      cp.sendRaw([5, 'rb1', 'FormatViolation', 'currentTime is not what was expected', {}]);
      const up = await svc.waitFor(`ocpp/${cpId}/up/resulterror/${hb.action}/rb1`);
      assert.deepEqual(up.json, { errorCode: 'FormatViolation', errorDescription: 'currentTime is not what was expected', errorDetails: {} });
    });

    add(`[SPEC §4] [OCPP-J 2.1 §4.2.4] CALLRESULTERROR from the service about the CP's answer to its ${read.action}: dn/resulterror reaches the CP as [5,...]`, async (t, env) => {
      const cpId = id('cre-dn');
      const svc = await service(t, env, cpId);
      const cp = await wsio(t, env, cpId, [protocol], (client) => client.handle(read.action, async () => read.response));
      await svc.waitFor(`ocpp/${cpId}/event/connected`);
      await svc.publish(`ocpp/${cpId}/dn/request/${read.action}/rc1`, read.request);
      assert.deepEqual((await svc.waitFor(`ocpp/${cpId}/up/response/${read.action}/rc1`)).json, read.response);
      await svc.publish(`ocpp/${cpId}/dn/resulterror/${read.action}/rc1`, { errorCode: 'PropertyConstraintViolation', errorDescription: 'attributeValue out of range', errorDetails: { max: 100 } });
      const f = await cp.unhandled.waitFor((x) => x[0] === 5, 'the CALLRESULTERROR');
      assert.deepEqual(f, [5, 'rc1', 'PropertyConstraintViolation', 'attributeValue out of range', { max: 100 }]);
    });
  }

  return list;
}

// ---- the suite ----------------------------------------------------------------------------------------

export function versionSuite(label: string, broker?: BrokerFactory): void {
  test(`${label}: OCPP 1.6, 2.0.1 and 2.1 charge points end to end, default configuration`, { timeout: 240_000 }, async (t) => {
    let env: Env;
    if (broker === undefined) {
      const gw = await startTestGateway(t);
      env = { ocppUrl: gw.ocppUrl, mqttUrl: gw.mqttUrl };
    } else {
      const b = await broker(t);
      const gw = await startTestGateway(t, { 'mqtt.url': b.url });
      env = { ocppUrl: gw.ocppUrl, mqttUrl: b.url };
    }

    await t.test(`${label}: [SPEC §3] negotiation: the gateway's preference wins over the client's order: ocpp-ws-io offering 1.6, 2.0.1, 2.1 gets ocpp2.1; ocpp-rpc offering 1.6, 2.0.1 gets ocpp2.0.1`, SUBTEST, async (st) => {
      const svc = await service(st, env, '+');
      const all = await wsio(st, env, 'all-three', ['ocpp1.6', 'ocpp2.0.1', 'ocpp2.1']);
      assert.equal(all.client.protocol, 'ocpp2.1');
      assert.equal(((await svc.waitFor('ocpp/all-three/event/connected')).json as { protocol: string }).protocol, 'ocpp2.1');
      const two = await chargePoint(st, env.ocppUrl, 'two-of-three', { protocols: ['ocpp1.6', 'ocpp2.0.1'] });
      assert.equal(two.protocol, 'ocpp2.0.1');
      assert.equal(((await svc.waitFor('ocpp/two-of-three/event/connected')).json as { protocol: string }).protocol, 'ocpp2.0.1');
    });

    for (const kit of KITS) {
      for (const s of scenarios(kit)) {
        await t.test(`${label}: ${s.name}`, { ...SUBTEST, ...(s.todo !== undefined ? { todo: s.todo } : {}) }, (st) => s.run(st, env));
      }
    }
  });
}

// ---- checks of the kit itself (no gateway) ------------------------------------------------------------

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsImport as unknown as (ajv: Ajv) => Ajv;
const OFFICIAL_ROOT = new URL('../../../shared/ocpp-schemas/', import.meta.url);

/**
 * The kit's own promises: its payloads are what the official OCA schemas say (valid ones pass, invalid
 * ones fail with the keyword the scenario expects), and the spellings it writes out are the profile's.
 */
export function kitChecks(): void {
  for (const kit of KITS) {
    test(`${kit.protocol}: [SPEC §6] the profile spells the codes as OCPP-J does (${kit.spelled.occurrence}, ${kit.spelled.formation}, ${kit.spelled.rpcFramework})`, () => {
      const { codes, rules, errorCodes } = kit.profile;
      assert.equal(codes.rpcFramework, kit.spelled.rpcFramework);
      assert.equal(codes.occurrence, kit.spelled.occurrence);
      assert.equal(codes.formation, kit.spelled.formation);
      assert.equal(rules.unknownMessageType, kit.spelled.messageTypeNotSupported === undefined ? 'ignore' : 'answer');
      if (kit.spelled.messageTypeNotSupported !== undefined) assert.equal(codes.messageTypeNotSupported, kit.spelled.messageTypeNotSupported);
      for (const code of [kit.spelled.rpcFramework, kit.spelled.occurrence, kit.spelled.formation, 'NotImplemented', 'NotSupported']) assert.ok(errorCodes.has(code), code);
      assert.ok(!errorCodes.has(kit.foreignErrorCode));
    });

    const dir = new URL(`${kit.officialSchemas.dir}/`, OFFICIAL_ROOT).pathname;
    test(`${kit.protocol}: the suite's payloads pass (or fail as intended) the official OCA schemas`, { skip: existsSync(dir) ? false : `official schemas not found at ${dir}` }, () => {
      const ajv = new Ajv({ strict: false });
      addFormats(ajv);
      const verdict = (file: string, payload: unknown): string => {
        const schema = JSON.parse(readFileSync(`${dir}${file}`, 'utf8').replace(/^\uFEFF/, '')) as Record<string, unknown>;
        const { $id: _a, id: _b, $schema: _c, ...rest } = schema;
        const fn = ajv.compile(rest);
        return fn(payload) ? 'valid' : (fn.errors?.[0]?.keyword ?? 'invalid');
      };
      const file = kit.officialSchemas.file;
      for (const x of [kit.boot, kit.heartbeat, ...kit.transactions, ...kit.commands]) {
        assert.equal(verdict(file(x.action, 'req'), x.request), 'valid', `${x.action} request`);
        assert.equal(verdict(file(x.action, 'conf'), x.response), 'valid', `${x.action} response`);
      }
      assert.equal(verdict(file(kit.boot.action, 'req'), kit.bootMissingRequired), 'required');
      assert.equal(verdict(file(kit.boot.action, 'req'), kit.bootExtraProperty), 'additionalProperties');
      assert.match(verdict(file(kit.commands[0].action, 'conf'), kit.invalidCommandResult.payload), /^(required|minItems)$/);
      if (kit.profile.messageTypes.has(6)) {
        assert.equal(verdict(`${PERIODIC_EVENT_STREAM.action}.json`, PERIODIC_EVENT_STREAM.valid), 'valid');
        assert.equal(verdict(`${PERIODIC_EVENT_STREAM.action}.json`, PERIODIC_EVENT_STREAM.invalid), 'minItems');
      }
    });
  }
}
