// One frame must not take the gateway down. Deeply nested JSON (20,000 levels, ~120 KB, under
// max_frame_size) in every place a charge point can put it, and an exception injected into one
// connection: the process and a good charge point keep working, the attacker gets the documented
// outcome, the metrics move. [SPEC §6, §8]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Gateway } from '../src/gateway.js';
import type { ChannelInput, ServiceMessage } from '../src/session/channel.js';
import type { Frame } from '../src/ocpp/codec.js';
import { chargePoint, rawSocket, Service, startTestGateway, type RawSocket } from './support/harness.js';
import { answeringService, deepJson, metric, received, roundTrip, within } from './support/hostile-kit.js';

const DEEP = deepJson(20_000);
const WAIT = 10_000;

async function setup(t: Parameters<typeof startTestGateway>[0], settings: Record<string, unknown> = {}) {
  const tg = await startTestGateway(t, { 'ocpp.protocols': 'ocpp1.6,ocpp2.1', 'ocpp.max_bad_messages': 5, ...settings });
  const svc = await answeringService(t, tg.mqttUrl);
  const good = await chargePoint(t, tg.ocppUrl, 'GOOD');
  await roundTrip(good);
  return { ...tg, svc, good };
}

const next = (raw: RawSocket, what: string) => within(raw.next(), WAIT, what) as Promise<unknown[]>;

test('[SPEC §6] deep answers (CALLERROR details, invalid CALLRESULT, 2.1 CALLRESULTERROR) are dropped and reported, never answered, never a crash', { timeout: 60_000 }, async (t) => {
  const { ocppUrl, svc, good, gw } = await setup(t);
  const before = await metric(gw, 'rejected_messages_total', 'malformed_frame');
  const atk = await rawSocket(t, `${ocppUrl}/ATK1`);
  const rejected = (id: string) => received(svc, (m) => m.topic === 'ocpp/ATK1/event/rejected' && (m.json as { messageId?: string }).messageId === id, WAIT, `event/rejected for ${id}`);

  // A downstream CALL answered with a CALLERROR whose errorDetails nest 20,000 levels.
  await svc.publish('ocpp/ATK1/dn/request/Reset/d1', { type: 'Soft' });
  assert.deepEqual((await next(atk, 'the Reset CALL')).slice(0, 3), [2, 'd1', 'Reset']);
  atk.send(`[4,"d1","GenericError","x",${DEEP}]`);
  // The next frame the attacker gets answers its Heartbeat: the deep CALLERROR was not answered.
  atk.send('[2,"h1","Heartbeat",{}]');
  assert.deepEqual((await next(atk, 'the Heartbeat answer')).slice(0, 2), [3, 'h1']);
  assert.match((await rejected('d1')).text, /"reason":"malformed_frame".*deeper than 32 levels/);
  await roundTrip(good);
  // The CALL is still in flight: a readable answer completes it.
  atk.send('[3,"d1",{"status":"Accepted"}]');
  await received(svc, (m) => m.topic === 'ocpp/ATK1/up/response/Reset/d1', WAIT, 'the readable answer');

  // A CALLRESULT that would fail validation (invalid_response would carry it) with a deep payload.
  await svc.publish('ocpp/ATK1/dn/request/Reset/d2', { type: 'Hard' });
  assert.deepEqual((await next(atk, 'the second Reset CALL')).slice(0, 2), [2, 'd2']);
  atk.send(`[3,"d2",{"status":"Maybe","x":${DEEP}}]`);
  await rejected('d2');
  await roundTrip(good);

  // OCPP 2.1: an unsolicited CALLRESULTERROR with deep details needs no CALL at all.
  const v21 = await rawSocket(t, `${ocppUrl}/ATK21`, ['ocpp2.1']);
  v21.send(`[5,"z1","FormatViolation","x",${DEEP}]`);
  v21.send('[2,"h2","Heartbeat",{}]');
  // (Whatever the answer to h2 is, it is the first frame: nothing answered the CALLRESULTERROR.)
  assert.equal((await next(v21, 'the 2.1 Heartbeat answer'))[1], 'h2');
  await received(svc, (m) => m.topic === 'ocpp/ATK21/event/rejected' && (m.json as { messageId?: string }).messageId === 'z1', WAIT, 'event/rejected for z1');
  await roundTrip(good);

  assert.equal(await metric(gw, 'rejected_messages_total', 'malformed_frame'), before + 3);
  assert.equal(atk.ws.readyState, atk.ws.OPEN, 'two bad frames are below max_bad_messages');
});

test('[SPEC §6] deep CALL payload (CALLERROR with the messageId) and deep frame of unknown type (ignored on 1.6); repeated, the CP is closed 1008', { timeout: 60_000 }, async (t) => {
  const { ocppUrl, svc, good, gw } = await setup(t);
  const atk = await rawSocket(t, `${ocppUrl}/ATK2`);
  atk.send(`[2,"c1","DataTransfer",${DEEP}]`);
  const call = await next(atk, 'the CALLERROR for the deep CALL');
  assert.deepEqual(call.slice(0, 3), [4, 'c1', 'FormationViolation']);
  assert.match(String(call[3]), /deeper than 32 levels/);
  // [OCPP-J 1.6 §4.1.3] an unknown MessageTypeId is ignored (reported, counted): the next frame the
  // attacker sees answers the unreadable frame after it.
  atk.send(`[9,"u1",${DEEP}]`);
  atk.send(DEEP);
  assert.deepEqual((await next(atk, 'the CALLERROR for an unreadable frame')).slice(0, 2), [4, '-1']);
  // 2.x spelling.
  const v21 = await rawSocket(t, `${ocppUrl}/ATK2-21`, ['ocpp2.1']);
  v21.send(`[2,"c2","DataTransfer",${DEEP}]`);
  assert.deepEqual((await next(v21, 'the 2.1 CALLERROR')).slice(0, 3), [4, 'c2', 'RpcFrameworkError']);
  await roundTrip(good);
  // Nothing deep reached the broker.
  assert.equal(svc.received.filter((m) => m.text.length > 20_000).length, 0);
  // Two more deep frames: the fifth bad frame closes the connection.
  atk.send(`[2,"c3","DataTransfer",${DEEP}]`);
  atk.send(`[3,"c4",${DEEP}]`);
  const closed = await within(atk.closed, WAIT, 'the close of the attacker');
  assert.deepEqual(closed, { code: 1008, reason: 'too_many_bad_messages' });
  assert.equal(await metric(gw, 'disconnects_total', 'too_many_bad_messages'), 1);
  await roundTrip(good);
});

/** Makes one connection's channel throw when `when` says so: a stand-in for any bug in the gateway. */
function injectFault(gw: Gateway, cpId: string, when: (input: ChannelInput) => boolean): void {
  const conn = gw.registry.get(cpId);
  assert.ok(conn, `${cpId} is connected`);
  const channel = conn.channel;
  const handle = channel.handle.bind(channel);
  Object.defineProperty(channel, 'handle', {
    value: (input: ChannelInput, now: number) => {
      if (when(input)) throw new Error(`injected fault on ${input.kind}`);
      return handle(input, now);
    },
  });
  // The per-frame entry points (fromCp, fromService) are faulted as the inputs they stand for.
  const fromCp = channel.fromCp.bind(channel);
  const fromService = channel.fromService.bind(channel);
  Object.defineProperty(channel, 'fromCp', {
    value: (frame: Frame, now: number) => {
      if (when({ kind: 'cp_frame', frame })) throw new Error('injected fault on cp_frame');
      return fromCp(frame, now);
    },
  });
  Object.defineProperty(channel, 'fromService', {
    value: (message: ServiceMessage, now: number) => {
      if (when({ kind: 'service', message })) throw new Error('injected fault on service');
      return fromService(message, now);
    },
  });
}

test('[SPEC §8] an exception in one connection closes only that one: 1011 internal_error, counted, reported (frame, service message, timer)', { timeout: 60_000 }, async (t) => {
  const { ocppUrl, svc, good, gw } = await setup(t, { 'dnstream.retry_interval': '300ms' });
  const variants: Array<{ cpId: string; entry: string; when: (i: ChannelInput) => boolean; trigger: (raw: RawSocket) => Promise<void> }> = [
    { cpId: 'BOOM-FRAME', entry: 'frame', when: (i) => i.kind === 'cp_frame', trigger: async (raw) => raw.send('[2,"b1","Heartbeat",{}]') },
    { cpId: 'BOOM-SERVICE', entry: 'service', when: (i) => i.kind === 'service', trigger: () => svc.publish('ocpp/BOOM-SERVICE/dn/request/Reset/s1', { type: 'Soft' }) },
    {
      // Every input throws, the teardown's too: the connection still ends cleanly with 1011.
      cpId: 'BOOM-TIMER', entry: 'timer', when: (i) => i.kind === 'timer' || i.kind === 'disconnected',
      trigger: async (raw) => {
        await svc.publish('ocpp/BOOM-TIMER/dn/request/Reset/r1', { type: 'Soft' });
        await next(raw, 'the CALL that will time out'); // and is never answered
      },
    },
  ];
  for (const v of variants) {
    const raw = await rawSocket(t, `${ocppUrl}/${v.cpId}`);
    injectFault(gw, v.cpId, v.when);
    await v.trigger(raw);
    assert.deepEqual(await within(raw.closed, WAIT, `the close of ${v.cpId}`), { code: 1011, reason: 'internal_error' }, v.cpId);
    const event = await received(svc, (m) => m.topic === `ocpp/${v.cpId}/event/disconnected`, WAIT, `event/disconnected of ${v.cpId}`);
    assert.equal((event.json as { reason: string }).reason, 'internal_error');
    assert.equal(await metric(gw, 'internal_errors_total', v.entry), 1, v.entry);
    assert.equal(gw.registry.get(v.cpId), undefined, `${v.cpId} left the registry`);
    await roundTrip(good);
  }
  assert.equal(await metric(gw, 'disconnects_total', 'internal_error'), variants.length);
  // The same cpId connects again and works: nothing of the failed connection lingers.
  const again = await chargePoint(t, ocppUrl, 'BOOM-FRAME');
  await roundTrip(again);
});

test('[SPEC §6, §8] a service message nested too deep (emqx5 envelope 20,000 deep) is refused before parsing, counted as invalid_payload, never a crash', { timeout: 30_000 }, async (t) => {
  const { ocppUrl, mqttUrl, gw } = await startTestGateway(t, { 'topics.preset': 'emqx5' });
  const svc = await Service.connect(t, mqttUrl, ['ocpp/cp/#']);
  // The service answers CALLs in the EMQX envelope.
  svc.client.on('message', (topic, payload) => {
    const e = JSON.parse(payload.toString()) as { MessageTypeId?: number; UniqueId?: string };
    if (e.MessageTypeId === 2) void svc.publish(`ocpp/cs/${topic.split('/')[2]}`, { MessageTypeId: 3, UniqueId: e.UniqueId, Payload: { currentTime: new Date().toISOString() } });
  });
  let resetReceived: () => void = () => undefined;
  const reset = new Promise<void>((resolve) => { resetReceived = resolve; });
  const good = await chargePoint(t, ocppUrl, 'GOOD5', {}, (cp) => cp.handle('Reset', async () => {
    resetReceived();
    return { status: 'Accepted' };
  }));
  await roundTrip(good);
  await svc.publish('ocpp/cs/GOOD5', `{"MessageTypeId":2,"UniqueId":"deep","Action":"DataTransfer","Payload":${DEEP}}`);
  // Published after the deep one on the same connection: once the CP has it, the deep one was handled.
  await svc.publish('ocpp/cs/GOOD5', { MessageTypeId: 2, UniqueId: 'r1', Action: 'Reset', Payload: { type: 'Soft' } });
  await within(reset, WAIT, 'the Reset after the deep message');
  assert.equal(await metric(gw, 'gateway_errors_total', 'invalid_payload'), 1);
  assert.equal(await metric(gw, 'internal_errors_total', 'dispatch'), 0, 'refused by the depth bound, not caught as a crash');
  await roundTrip(good);
});
