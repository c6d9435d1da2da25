// Hostile OCPP 2.x peers over loopback, bounded in count and time (found by the attack pass on issue 13):
// what a charge point can make the gateway quote back (a 200 KiB messageId, a 100 KiB property name),
// a CALLRESULTERROR repeated about one CALLRESULT, a flood of SENDs that are never answered, and a
// service CALLRESULTERROR whose id matches a pending CP CALL. Real peers: raw ws charge points (the
// frames no library sends), an ocpp-rpc charge point for the round trips, an MQTT.js service. [SPEC §4, §6, §8]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chargePoint, rawSocket, Service, startTestGateway, until, type RawSocket, type Received } from './support/harness.js';
import { heartbeatLoop, metric } from './support/hostile-kit.js';

type Frame = [number, string, ...unknown[]];

interface Rejected { cpId: string; reason: string; detail: string; messageId?: string }

/** A lone surrogate (half of a pair): what a careless cut of a quoted name or id would leave. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A service that answers CALLs: with a CALLERROR when the messageId starts with "err", not at all for cpIds starting "SILENT". */
async function service(t: Parameters<typeof startTestGateway>[0], mqttUrl: string): Promise<Service> {
  const svc = await Service.connect(t, mqttUrl, ['ocpp/#']);
  svc.client.on('message', (topic) => {
    const [, cpId = '', dir, type, action, id = ''] = topic.split('/');
    if (dir !== 'up' || type !== 'request' || cpId.startsWith('SILENT')) return;
    if (id.startsWith('err')) void svc.publish(`ocpp/${cpId}/dn/error/${action}/${id}`, { errorCode: 'GenericError', errorDescription: 'no', errorDetails: {} });
    else void svc.publish(`ocpp/${cpId}/dn/response/${action}/${id}`, { currentTime: new Date().toISOString() });
  });
  return svc;
}

function rejected(svc: Service, cpId: string): Rejected[] {
  return svc.received.filter((m) => m.topic === `ocpp/${cpId}/event/rejected`).map((m) => m.json as Rejected);
}

function nextRejected(svc: Service, cpId: string, from: number): Promise<Received> {
  return svc.waitFor((m) => m.topic === `ocpp/${cpId}/event/rejected`, from);
}

async function nextFrame(raw: RawSocket): Promise<Frame> {
  return (await raw.next()) as Frame;
}

test('hostile OCPP 2.x peers: what the gateway quotes, refuses once, or never answers stays bounded', { timeout: 120_000 }, async (t) => {
  const { gw, ocppUrl, mqttUrl } = await startTestGateway(t, { 'ocpp.max_bad_messages': 10 });
  const svc = await service(t, mqttUrl);

  await t.test('[SPEC §6] [SPEC §8] a 200 KiB messageId: the CALLERROR echoes it whole, event/rejected quotes its first 36 characters', async () => {
    const id = 'x'.repeat(200 * 1024);
    const quoted = `${'x'.repeat(36)}…`;
    const cp = await rawSocket(t, `${ocppUrl}/V2-BIGID`, ['ocpp2.1']);
    let from = svc.received.length;
    cp.send(`[2,"${id}","Heartbeat",{}]`);
    const answer = await nextFrame(cp);
    assert.equal(answer[0], 4);
    assert.ok(answer[1] === id, `the CP can match the answer to its frame (echoed ${String(answer[1]).length} of ${id.length} characters)`);
    assert.equal(answer[2], 'RpcFrameworkError');
    const event = await nextRejected(svc, 'V2-BIGID', from);
    const body = event.json as Rejected;
    assert.ok(body.messageId === quoted, `event/rejected quotes ${String(body.messageId?.length)} characters of the id`);
    assert.match(body.detail, /messageId of 204800 characters, quoted cut/);
    assert.ok(event.text.length < 1024, `event/rejected is ${event.text.length} bytes`);

    // [OCPP-J 2.1 §4.4] an unknown MessageTypeId is not answered; its report is cut the same way.
    from = svc.received.length;
    cp.send(`[7,"${id}","Heartbeat",{}]`);
    const ignored = await nextRejected(svc, 'V2-BIGID', from);
    assert.ok((ignored.json as Rejected).messageId === quoted, 'the report of the ignored frame quotes 36 characters too');
    assert.ok(ignored.text.length < 1024);
    // The CP got nothing for it: its next answer is the one for the next CALL.
    cp.send('[2,"after-1","Heartbeat",{}]');
    assert.deepEqual((await nextFrame(cp)).slice(0, 2), [3, 'after-1']);

    // A cut never leaves half of a surrogate pair.
    from = svc.received.length;
    cp.send(`[2,${JSON.stringify('😀'.repeat(100))},"Heartbeat",{}]`);
    await nextFrame(cp);
    const emoji = (await nextRejected(svc, 'V2-BIGID', from)).json as Rejected;
    assert.ok(emoji.messageId !== undefined && emoji.messageId.length <= 37 && !LONE_SURROGATE.test(emoji.messageId), JSON.stringify(emoji.messageId));
  });

  await t.test('[SPEC §6] [SPEC §8] a made-up property name of 100 KiB: CALLERROR, errorDetails.path and event/rejected quote at most 64 characters of it (1.6 and 2.1)', async () => {
    const name = 'n'.repeat(100 * 1024);
    for (const [protocol, code] of [['ocpp1.6', 'FormationViolation'], ['ocpp2.1', 'FormatViolation']] as const) {
      const cpId = `V2-BIGNAME-${protocol.slice(4)}`;
      const cp = await rawSocket(t, `${ocppUrl}/${cpId}`, [protocol]);
      const from = svc.received.length;
      cp.send(`[2,"p1","Heartbeat",{"${name}":1}]`);
      const answer = await nextFrame(cp);
      assert.deepEqual(answer.slice(0, 3), [4, 'p1', code]);
      assert.ok(JSON.stringify(answer).length < 1024, `${protocol}: the CALLERROR is ${JSON.stringify(answer).length} bytes`);
      const details = answer[4] as { path: string };
      assert.equal(details.path, `/${'n'.repeat(63)}…`);
      const event = await nextRejected(svc, cpId, from);
      assert.equal((event.json as Rejected).reason, 'validation_failed');
      assert.ok(event.text.length < 1024, `${protocol}: event/rejected is ${event.text.length} bytes`);
    }
    // The path is a JSON pointer: "/" and "~" in a name are escaped (RFC 6901); a cut keeps surrogate pairs whole.
    const cp = await rawSocket(t, `${ocppUrl}/V2-NAMES`, ['ocpp2.1']);
    cp.send('[2,"p2","Heartbeat",{"a/b~c":1}]');
    assert.equal(((await nextFrame(cp))[4] as { path: string }).path, '/a~1b~0c');
    cp.send(`[2,"p3","Heartbeat",{${JSON.stringify('😀'.repeat(100))}:1}]`);
    const emoji = await nextFrame(cp);
    for (const text of [emoji[3] as string, (emoji[4] as { path: string }).path]) assert.ok(!LONE_SURROGATE.test(text), JSON.stringify(text));
  });

  await t.test('[OCPP-J 2.1 §4.2.4] [SPEC §8] a CALLRESULTERROR refuses one CALLRESULT once: 30 repeats -> one up/resulterror, the rest unknown_message_id, closed at max_bad_messages', async () => {
    const cp = await rawSocket(t, `${ocppUrl}/V2-CRE`, ['ocpp2.1']);
    cp.send('[2,"hb-1","Heartbeat",{}]');
    assert.deepEqual((await nextFrame(cp)).slice(0, 2), [3, 'hb-1']);
    for (let i = 0; i < 30; i++) cp.send(`[5,"hb-1","GenericError","refused ${i}",{}]`);
    assert.deepEqual(await cp.closedWithin(), { code: 1008, reason: 'too_many_bad_messages' });
    await svc.waitFor('ocpp/V2-CRE/event/disconnected');
    const published = svc.received.filter((m) => m.topic === 'ocpp/V2-CRE/up/resulterror/Heartbeat/hb-1');
    assert.equal(published.length, 1, 'only the first refusal is about a CALLRESULT we sent');
    assert.equal((published[0]?.json as { errorDescription: string }).errorDescription, 'refused 0');
    assert.deepEqual(rejected(svc, 'V2-CRE').map((e) => e.reason), Array(10).fill('unknown_message_id'));
    assert.deepEqual(cp.frames, [], 'a CALLRESULTERROR is never answered');
  });

  await t.test('[OCPP-J 2.1 §4.2.4] a CALLRESULTERROR about a CALLERROR from the service refuses no CALLRESULT: not published, reported', async () => {
    const cp = await rawSocket(t, `${ocppUrl}/V2-CRE-ERR`, ['ocpp2.1']);
    cp.send('[2,"err-1","Heartbeat",{}]');
    assert.deepEqual((await nextFrame(cp)).slice(0, 3), [4, 'err-1', 'GenericError']);
    const from = svc.received.length;
    cp.send('[5,"err-1","GenericError","",{}]');
    assert.equal(((await nextRejected(svc, 'V2-CRE-ERR', from)).json as Rejected).reason, 'unknown_message_id');
    assert.deepEqual(svc.topics('ocpp/V2-CRE-ERR/up/resulterror'), []);
  });

  await t.test('[OCPP-J 2.1 §4.2.4] a service CALLRESULTERROR is not about the CP\'s pending CALL that has the same id: refused on up/error/{its own action}, the CALL stays pending', async () => {
    const cp = await rawSocket(t, `${ocppUrl}/SILENT-V2-SVC`, ['ocpp2.1']);
    cp.send('[2,"same-1","Heartbeat",{}]');
    await svc.waitFor('ocpp/SILENT-V2-SVC/up/request/Heartbeat/same-1');
    await svc.publish('ocpp/SILENT-V2-SVC/dn/resulterror/GetVariables/same-1', { errorCode: 'Oops' });
    const refused = await svc.waitFor((m) => m.topic.startsWith('ocpp/SILENT-V2-SVC/up/error/'));
    assert.equal(refused.topic, 'ocpp/SILENT-V2-SVC/up/error/GetVariables/same-1');
    assert.equal((refused.json as { errorDetails: { gateway: { reason: string } } }).errorDetails.gateway.reason, 'invalid_payload');
    await svc.publish('ocpp/SILENT-V2-SVC/dn/response/Heartbeat/same-1', { currentTime: new Date().toISOString() });
    assert.deepEqual((await nextFrame(cp)).slice(0, 2), [3, 'same-1'], 'the CP CALL was still pending');
  });

  await t.test('[SPEC §4] [SPEC §8] [OCPP-J 2.1 §4.2.5] 500 SENDs of an unknown action: none answered, none counted as bad, event/rejected capped at max_rejected_events; a good CP keeps its round trips', async (st) => {
    const good = await chargePoint(st, ocppUrl, 'V2-GOOD');
    const loop = heartbeatLoop(good);
    st.after(() => loop.stop());
    await loop.reached(3, 15_000);
    const cp = await rawSocket(t, `${ocppUrl}/V2-SENDS`, ['ocpp2.1']);
    const before = await metric(gw, 'rejected_messages_total', 'validation_failed');
    const okBefore = loop.ok();
    for (let i = 0; i < 500; i++) cp.send(`[6,"s-${i}","NoSuchAction",{}]`);
    await until(async () => (await metric(gw, 'rejected_messages_total', 'validation_failed')) - before >= 500, 'the 500 SENDs handled', 30_000);
    await loop.reached(okBefore + 3, 15_000);
    const events = rejected(svc, 'V2-SENDS');
    assert.equal(events.length, 20, 'ocpp.max_rejected_events (20) per window');
    assert.ok(events.every((e) => e.reason === 'validation_failed' && / \(SEND, not answered\)$/.test(e.detail)));
    assert.deepEqual(svc.topics('ocpp/V2-SENDS/up/send'), []);
    // Still connected (a SEND of an unknown action is not a bad frame): a CALL is answered.
    cp.send('[2,"still-1","Heartbeat",{}]');
    assert.deepEqual((await nextFrame(cp)).slice(0, 2), [3, 'still-1'], 'the only frame the CP got');
    assert.deepEqual(cp.frames, []);
    assert.deepEqual(loop.failures, []);
  });
});

test('[SPEC §6] a CP CALLERROR with null errorDetails answers the service CALL (read as {}), not a bad frame', { timeout: 30_000 }, async (t) => {
  const { ocppUrl, mqttUrl } = await startTestGateway(t);
  const svc = await Service.connect(t, mqttUrl, ['ocpp/#']);
  const raw = await rawSocket(t, `${ocppUrl}/NULLERR`, ['ocpp2.0.1']);
  await svc.waitFor('ocpp/NULLERR/event/connected');
  await svc.publish('ocpp/NULLERR/dn/request/Reset/r1', { type: 'Immediate' });
  assert.deepEqual((await nextFrame(raw)).slice(0, 3), [2, 'r1', 'Reset']);
  raw.send('[4,"r1","NotSupported","no reset here",null]');
  const err = await svc.waitFor('ocpp/NULLERR/up/error/Reset/r1');
  assert.deepEqual(err.json, { errorCode: 'NotSupported', errorDescription: 'no reset here', errorDetails: {} });
});
