// One charge point flooding the gateway must not stall the others. Bounded floods over loopback:
// CALLRESULTs for no pending CALL (the reproduction, scaled down), CALLs that fail validation,
// and retransmissions of one pending CALL. Each: the attacker gets the documented outcome, a good
// charge point's round trips go on during the flood, the event/rejected messages a real MQTT client
// receives about the attacker are bounded, and the heap does not grow with the flood. [SPEC §6, §8]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { chargePoint, rawSocket, startTestGateway, type RawSocket, type Service } from './support/harness.js';
import { answeringService, heartbeatLoop, metric, received, within } from './support/hostile-kit.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

/** Heap growth allowed across a flood: far below what a per-frame cost would add up to. */
const HEAP_SLACK = 48 * 1024 * 1024;
const WAIT = 20_000;

interface Rejected { reason: string; messageId?: string; count?: number; byReason?: Record<string, number> }

function rejectedEvents(svc: Service, cpId: string): Rejected[] {
  return svc.received.filter((m) => m.topic === `ocpp/${cpId}/event/rejected`).map((m) => m.json as Rejected);
}

/** Resolves when the socket has received `n` frames in all (counted on the socket, not polled). */
function framesReceived(raw: RawSocket, n: number): Promise<void> {
  let seen = raw.frames.length;
  return new Promise((resolve) => {
    if (seen >= n) return resolve();
    const onMessage = () => {
      if (++seen < n) return;
      raw.ws.off('message', onMessage);
      resolve();
    };
    raw.ws.on('message', onMessage);
  });
}

/**
 * These floods test the budgets behind the frame rate (events, logs, publishes in flight), so the rate
 * is off unless a test sets it: at the default 200 frames/s, 5,000 frames would take 25 s.
 */
async function setup(t: Parameters<typeof startTestGateway>[0], settings: Record<string, unknown> = {}) {
  const tg = await startTestGateway(t, { 'ocpp.max_frame_rate': 0, ...settings });
  const svc = await answeringService(t, tg.mqttUrl, (cpId) => cpId.startsWith('SILENT'));
  const good = await chargePoint(t, tg.ocppUrl, 'GOOD');
  const loop = heartbeatLoop(good);
  t.after(() => loop.stop());
  await loop.reached(5, WAIT);
  return { ...tg, svc, loop, baseline: heapAfterGc() };
}

test('[SPEC §6] flood of CALLRESULTs for no pending CALL: closed 1008 after max_bad_messages, at most that many events, others served', { timeout: 60_000 }, async (t) => {
  const { ocppUrl, svc, gw, loop, baseline } = await setup(t);
  const atk = await rawSocket(t, `${ocppUrl}/ATK-UNKNOWN`);
  const FRAMES = 20_000;
  const okBefore = loop.ok();
  for (let i = 0; i < FRAMES; i++) atk.send(`[3,"nope-${i}",{}]`);
  assert.deepEqual(await within(atk.closed, WAIT, 'the close of the attacker'), { code: 1008, reason: 'too_many_bad_messages' });
  await received(svc, (m) => m.topic === 'ocpp/ATK-UNKNOWN/event/disconnected', WAIT, 'event/disconnected of the attacker');
  await loop.reached(okBefore + 10, WAIT);
  const events = rejectedEvents(svc, 'ATK-UNKNOWN');
  assert.equal(events.length, 10, 'one event per bad frame up to ocpp.max_bad_messages (10), then the connection is gone');
  assert.ok(events.every((e) => e.reason === 'unknown_message_id'));
  assert.equal(await metric(gw, 'rejected_messages_total', 'unknown_message_id'), 10);
  assert.equal(await metric(gw, 'disconnects_total', 'too_many_bad_messages'), 1);
  assert.deepEqual(loop.failures, []);
  assert.ok(heapAfterGc() - baseline < HEAP_SLACK, `heap grew by ${((heapAfterGc() - baseline) / 1e6).toFixed(1)} MB`);
});

test('[SPEC §8] flood of CALLs failing validation: each answered, events capped at max_rejected_events and summarised, others served', { timeout: 60_000 }, async (t) => {
  const { ocppUrl, svc, gw, loop, baseline } = await setup(t, { 'ocpp.max_inflight_publishes': 8 });
  const atk = await rawSocket(t, `${ocppUrl}/ATK-INVALID`);
  const FRAMES = 5000;
  const answered = framesReceived(atk, FRAMES);
  const okBefore = loop.ok();
  // BootNotification without chargePointModel: a CALLERROR and an event/rejected each, never published.
  for (let i = 0; i < FRAMES; i++) atk.send(`[2,"v${i}","BootNotification",{"chargePointVendor":"A"}]`);
  await within(answered, 40_000, `${FRAMES} CALLERRORs to the attacker`);
  await loop.reached(okBefore + 10, WAIT);
  assert.deepEqual(atk.frames.slice(0, 1).map((f) => (f as unknown[]).slice(0, 3)), [[4, 'v0', 'OccurenceConstraintViolation']]);
  assert.equal(atk.ws.readyState, atk.ws.OPEN, 'validation failures are not bad frames: the attacker stays connected');
  // Its teardown publishes the summary of what its budget held back.
  atk.ws.close();
  await received(svc, (m) => m.topic === 'ocpp/ATK-INVALID/event/disconnected', WAIT, 'event/disconnected of the attacker');
  const events = rejectedEvents(svc, 'ATK-INVALID');
  const published = events.filter((e) => e.reason === 'validation_failed');
  const summaries = events.filter((e) => e.reason === 'suppressed');
  assert.equal(published.length, 20, 'ocpp.max_rejected_events (20) per window');
  assert.deepEqual(summaries.map((s) => [s.count, s.byReason]), [[FRAMES - 20, { validation_failed: FRAMES - 20 }]]);
  assert.equal(await metric(gw, 'rejected_messages_total', 'validation_failed'), FRAMES, 'every rejection is counted');
  assert.equal(await metric(gw, 'rejected_events_suppressed_total', 'validation_failed'), FRAMES - 20);
  assert.equal(svc.received.filter((m) => m.topic.startsWith('ocpp/ATK-INVALID/up/')).length, 0);
  // Its event/rejected publishes count toward ocpp.max_inflight_publishes (8 here): reading paused for them.
  assert.ok(await metric(gw, 'read_pauses_total', 'publishes') > 0, 'event publishes hold reading');
  assert.deepEqual(loop.failures, []);
  assert.ok(heapAfterGc() - baseline < HEAP_SLACK, `heap grew by ${((heapAfterGc() - baseline) / 1e6).toFixed(1)} MB`);
});

test('[SPEC §5, §8] flood of retransmissions of one pending CALL: published once, events summarised when the window ends, others served', { timeout: 60_000 }, async (t) => {
  const { ocppUrl, svc, gw, loop, baseline } = await setup(t, { 'ocpp.rejected_events_window': '1s' });
  const atk = await rawSocket(t, `${ocppUrl}/SILENT-DUP`);
  const FRAMES = 5000;
  const okBefore = loop.ok();
  for (let i = 0; i <= FRAMES; i++) atk.send('[2,"dup","Heartbeat",{}]');
  // The window's end, not the teardown, brings the summary: the attacker is still connected.
  const summary = await received(svc, (m) => m.topic === 'ocpp/SILENT-DUP/event/rejected' && (m.json as Rejected).reason === 'suppressed', WAIT, 'the suppressed summary');
  assert.equal(atk.ws.readyState, atk.ws.OPEN);
  assert.ok(((summary.json as Rejected).byReason?.['duplicate_call'] ?? 0) > 0);
  await loop.reached(okBefore + 10, WAIT);
  atk.ws.close();
  await received(svc, (m) => m.topic === 'ocpp/SILENT-DUP/event/disconnected', WAIT, 'event/disconnected of the attacker');
  assert.equal(await metric(gw, 'rejected_messages_total', 'duplicate_call'), FRAMES);
  const events = rejectedEvents(svc, 'SILENT-DUP');
  const published = events.filter((e) => e.reason === 'duplicate_call').length;
  const summaries = events.filter((e) => e.reason === 'suppressed');
  const suppressed = summaries.reduce((n, s) => n + (s.count ?? 0), 0);
  assert.equal(published + suppressed, FRAMES, 'every retransmission is either published or in a summary');
  assert.ok(published <= 20 * (summaries.length + 1), `${published} events for ${summaries.length} summaries`);
  assert.equal(svc.received.filter((m) => m.topic === 'ocpp/SILENT-DUP/up/request/Heartbeat/dup').length, 1, 'the CALL is published once');
  // 5,001 frames sent at once: read ocpp.max_frames_per_turn (100) a turn at a time.
  assert.ok(await metric(gw, 'read_pauses_total', 'frames') > 0, 'the burst was read in turns');
  assert.deepEqual(loop.failures, []);
  assert.ok(heapAfterGc() - baseline < HEAP_SLACK, `heap grew by ${((heapAfterGc() - baseline) / 1e6).toFixed(1)} MB`);
});

test('[SPEC §5, §8] flood of concurrent CALLs beyond upstream.max_pending: max_pending published, the rest refused, events capped, others served', { timeout: 60_000 }, async (t) => {
  const { ocppUrl, svc, gw, loop, baseline } = await setup(t);
  const atk = await rawSocket(t, `${ocppUrl}/SILENT-CONC`);
  const FRAMES = 3000;
  const MAX_PENDING = 16; // upstream.max_pending default
  const refused = framesReceived(atk, FRAMES - MAX_PENDING);
  const okBefore = loop.ok();
  for (let i = 0; i < FRAMES; i++) atk.send(`[2,"c${i}","Heartbeat",{}]`);
  await within(refused, 40_000, `${FRAMES - MAX_PENDING} CALLERRORs to the attacker`);
  await loop.reached(okBefore + 10, WAIT);
  assert.ok(atk.frames.every((f) => (f as unknown[])[0] === 4 && (f as unknown[])[2] === 'GenericError'));
  atk.ws.close();
  await received(svc, (m) => m.topic === 'ocpp/SILENT-CONC/event/disconnected', WAIT, 'event/disconnected of the attacker');
  assert.equal(svc.received.filter((m) => m.topic.startsWith('ocpp/SILENT-CONC/up/request/')).length, MAX_PENDING);
  const events = rejectedEvents(svc, 'SILENT-CONC');
  assert.equal(events.filter((e) => e.reason === 'concurrent_call').length, 20);
  assert.deepEqual(events.filter((e) => e.reason === 'suppressed').map((s) => s.byReason), [{ concurrent_call: FRAMES - MAX_PENDING - 20 }]);
  assert.equal(await metric(gw, 'rejected_messages_total', 'concurrent_call'), FRAMES - MAX_PENDING);
  assert.deepEqual(loop.failures, []);
  assert.ok(heapAfterGc() - baseline < HEAP_SLACK, `heap grew by ${((heapAfterGc() - baseline) / 1e6).toFixed(1)} MB`);
});

test('[SPEC §8] a CP pipelining CALLs without waiting: held to ocpp.max_frame_rate after its burst, every CALL still answered in order, others served', { timeout: 60_000 }, async (t) => {
  const { ocppUrl, gw, loop, baseline } = await setup(t, { 'ocpp.max_frame_rate': 400, 'ocpp.frame_burst': 100 });
  const atk = await rawSocket(t, `${ocppUrl}/ATK-PIPELINE`);
  const BURST = 500;
  const okBefore = loop.ok();
  const sentAt = Date.now();
  // An action no schema knows: each is answered NotImplemented at once, so only the rate holds it back.
  // Frames already read from the socket are handled (max_frames_per_turn at a time); the overdraft of
  // the bucket is then waited off before the socket is read again, so the second burst waits.
  for (const round of [0, 1]) {
    const answered = framesReceived(atk, (round + 1) * BURST);
    for (let i = 0; i < BURST; i++) atk.send(`[2,"p${round * BURST + i}","NoSuchAction",{}]`);
    await within(answered, 40_000, `${BURST} CALLERRORs to the attacker`);
  }
  const seconds = (Date.now() - sentAt) / 1000;
  const ids = atk.frames.map((f) => (f as unknown[])[1]);
  assert.deepEqual(ids, Array.from({ length: 2 * BURST }, (_, i) => `p${i}`), 'nothing dropped, in order');
  // The bucket's contract (the machine may only be slower): the first burst's overdraft beyond
  // frame_burst is waited off at max_frame_rate before the second burst is read.
  assert.ok(seconds >= (BURST - 100) / 400 - 0.1, `${2 * BURST} frames in two bursts read in ${seconds} s`);
  assert.ok(await metric(gw, 'read_pauses_total', 'rate') > 0);
  await loop.reached(okBefore + 10, WAIT);
  assert.deepEqual(loop.failures, []);
  assert.ok(heapAfterGc() - baseline < HEAP_SLACK, `heap grew by ${((heapAfterGc() - baseline) / 1e6).toFixed(1)} MB`);
});

test('[SPEC §9] 300 made-up actions from one CP do not take the metric label slots: a real action keeps its own label, the rest are "other"', { timeout: 60_000 }, async (t) => {
  const { ocppUrl, gw, svc } = await setup(t);
  const atk = await rawSocket(t, `${ocppUrl}/ATK-LABELS`);
  const answered = framesReceived(atk, 300);
  for (let i = 0; i < 300; i++) atk.send(`[2,"l${i}","Junk${i}",{}]`);
  await within(answered, WAIT, 'the NotImplemented answers');
  atk.send('[2,"s1","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Available"}]');
  await received(svc, (m) => m.topic.startsWith('ocpp/ATK-LABELS/up/request/StatusNotification/'), WAIT, 'the StatusNotification published');
  const text = (await gw.api?.inject('/metrics'))?.body ?? '';
  assert.match(text, /ocpp_gateway_frames_total\{direction="in",type="request",action="StatusNotification"\} 1/);
  assert.match(text, /ocpp_gateway_frames_total\{direction="in",type="request",action="other"\} 300/);
  assert.doesNotMatch(text, /action="Junk/);
});
