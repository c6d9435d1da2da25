import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Channel, type ChannelAction, type ChannelOptions, type ServiceMessage } from '../src/session/channel.js';
import { decodeFrame } from '../src/ocpp/codec.js';
import { PROTOCOLS } from '../src/ocpp/protocols.js';

const base: ChannelOptions = {
  spec: PROTOCOLS['ocpp1.6'],
  awaitingTimeoutMs: 30_000,
  onUpstreamTimeout: 'error',
  concurrentCalls: 'forward',
  maxPendingUpstream: 4,
  maxQueueLength: 2,
  retryIntervalMs: 10_000,
  maxRetries: 0,
  maxBadMessages: 3,
  badMessagesWindowMs: 60_000,
  checker: undefined,
};

function channel(over: Partial<ChannelOptions> = {}): Channel {
  return new Channel({ ...base, ...over });
}

function cp(ch: Channel, text: string, now = 0): ChannelAction[] {
  const r = decodeFrame(text, base.spec);
  return ch.handle(r.ok ? { kind: 'cp_frame', frame: r.frame } : { kind: 'cp_bad_frame', failure: r.failure }, now);
}

function svc(ch: Channel, message: ServiceMessage, now = 0): ChannelAction[] {
  return ch.handle({ kind: 'service', message }, now);
}

const sends = (a: ChannelAction[]) => a.flatMap((x) => (x.kind === 'send' ? [x.text] : []));
const publishes = (a: ChannelAction[]) => a.flatMap((x) => (x.kind === 'publish' ? [x] : []));
const reasons = (a: ChannelAction[]) => publishes(a).map((p) => p.gatewayReason);

test('[SPEC §5] upstream CALL is published, armed, and answered by the service response', () => {
  const ch = channel();
  const a = cp(ch, '[2,"u1","Heartbeat",{}]', 1000);
  assert.deepEqual(publishes(a), [{ kind: 'publish', type: 'request', action: 'Heartbeat', messageId: 'u1', payloadText: '{}', tracksCall: true }]);
  assert.deepEqual(a.find((x) => x.kind === 'arm'), { kind: 'arm', timer: 'up:u1', at: 31_000 });
  const b = svc(ch, { type: 'response', action: 'Heartbeat', messageId: 'u1', payloadText: '{"currentTime":"2026-01-01T00:00:00Z"}' });
  assert.deepEqual(sends(b), ['[3,"u1",{"currentTime":"2026-01-01T00:00:00Z"}]']);
  assert.ok(b.some((x) => x.kind === 'disarm' && x.timer === 'up:u1'));
  assert.equal(ch.pendingUpstream, 0);
});

test('[SPEC §5] service error answers a CP CALL with a CALLERROR', () => {
  const ch = channel();
  cp(ch, '[2,"u1","Authorize",{"idTag":"A"}]');
  const b = svc(ch, { type: 'error', action: 'Authorize', messageId: 'u1', payloadText: '{"errorCode":"NotSupported"}' });
  assert.deepEqual(sends(b), ['[4,"u1","NotSupported","",{}]']);
});

test('[SPEC §5] upstream timeout: CALLERROR InternalError to the CP and a gateway timeout error; late answer is unknown_message_id', () => {
  const ch = channel();
  cp(ch, '[2,"u1","Heartbeat",{}]');
  const t = ch.handle({ kind: 'timer', timer: 'up:u1' }, 30_000);
  assert.equal(JSON.parse(sends(t)[0] ?? '')[2], 'InternalError');
  const [p] = publishes(t);
  assert.equal(p?.type, 'error');
  assert.equal(p?.action, 'Heartbeat');
  assert.deepEqual(JSON.parse(p?.payloadText ?? '').errorDetails, { gateway: { reason: 'timeout' } });
  const late = svc(ch, { type: 'response', action: 'Heartbeat', messageId: 'u1', payloadText: '{}' });
  assert.deepEqual(sends(late), []);
  assert.deepEqual(reasons(late), ['unknown_message_id']);
});

test('upstream timeout with on_timeout=silent sends nothing to the CP', () => {
  const ch = channel({ onUpstreamTimeout: 'silent' });
  cp(ch, '[2,"u1","Heartbeat",{}]');
  const t = ch.handle({ kind: 'timer', timer: 'up:u1' }, 30_000);
  assert.deepEqual(sends(t), []);
  assert.deepEqual(reasons(t), ['timeout']);
});

test('[SPEC §5] retransmission of the pending CALL is not published twice', () => {
  const ch = channel();
  cp(ch, '[2,"u1","Heartbeat",{}]');
  const again = cp(ch, '[2,"u1","Heartbeat",{}]');
  assert.deepEqual(publishes(again), []);
  assert.ok(again.some((x) => x.kind === 'rejected' && x.reason === 'duplicate_call'));
});

test('[SPEC §5] concurrent CP CALLs: forward counts, reject answers CALLERROR, forward is capped', () => {
  const fwd = channel({ maxPendingUpstream: 2 });
  cp(fwd, '[2,"u1","Heartbeat",{}]');
  const second = cp(fwd, '[2,"u2","Heartbeat",{}]');
  assert.equal(publishes(second).length, 1);
  assert.ok(second.some((x) => x.kind === 'counted' && x.what === 'concurrent_forwarded'));
  const capped = cp(fwd, '[2,"u3","Heartbeat",{}]');
  assert.equal(JSON.parse(sends(capped)[0] ?? '')[2], 'GenericError');
  const rej = channel({ concurrentCalls: 'reject' });
  cp(rej, '[2,"u1","Heartbeat",{}]');
  const r = cp(rej, '[2,"u2","Heartbeat",{}]');
  assert.deepEqual(publishes(r), []);
  assert.equal(JSON.parse(sends(r)[0] ?? '')[1], 'u2');
});

test('[SPEC §5] downstream: one CALL in flight, FIFO queue, queue_full beyond max_mqueue_len', () => {
  const ch = channel();
  const req = (id: string): ServiceMessage => ({ type: 'request', action: 'Reset', messageId: id, payloadText: '{"type":"Soft"}' });
  assert.deepEqual(sends(svc(ch, req('d1'))), ['[2,"d1","Reset",{"type":"Soft"}]']);
  assert.deepEqual(sends(svc(ch, req('d2'))), []);
  assert.deepEqual(sends(svc(ch, req('d3'))), []);
  assert.equal(ch.queueLength, 2);
  assert.deepEqual(reasons(svc(ch, req('d4'))), ['queue_full']);
  assert.deepEqual(reasons(svc(ch, req('d2'))), ['duplicate_message_id']);
  assert.deepEqual(reasons(svc(ch, req('d1'))), ['duplicate_message_id']);
  const answered = cp(ch, '[3,"d1",{"status":"Accepted"}]', 5);
  assert.deepEqual(publishes(answered).map((p) => [p.type, p.action, p.messageId, p.payloadText]), [['response', 'Reset', 'd1', '{"status":"Accepted"}']]);
  assert.deepEqual(sends(answered), ['[2,"d2","Reset",{"type":"Soft"}]']);
  const err = cp(ch, '[4,"d2","NotSupported","no",{}]', 6);
  assert.deepEqual(publishes(err).map((p) => [p.type, p.action, JSON.parse(p.payloadText)]), [['error', 'Reset', { errorCode: 'NotSupported', errorDescription: 'no', errorDetails: {} }]]);
  assert.deepEqual(sends(err), ['[2,"d3","Reset",{"type":"Soft"}]']);
});

test('[SPEC §5] downstream retries re-send the same frame, then time out and move on', () => {
  const ch = channel({ maxRetries: 1 });
  svc(ch, { type: 'request', action: 'Reset', messageId: 'd1', payloadText: '{"type":"Hard"}' }, 0);
  svc(ch, { type: 'request', action: 'Reset', messageId: 'd2', payloadText: '{"type":"Soft"}' }, 0);
  const retry = ch.handle({ kind: 'timer', timer: 'dn' }, 10_000);
  assert.deepEqual(sends(retry), ['[2,"d1","Reset",{"type":"Hard"}]']);
  assert.ok(retry.some((x) => x.kind === 'counted' && x.what === 'retransmission'));
  assert.deepEqual(retry.find((x) => x.kind === 'arm'), { kind: 'arm', timer: 'dn', at: 20_000 });
  const timeout = ch.handle({ kind: 'timer', timer: 'dn' }, 20_000);
  assert.deepEqual(reasons(timeout), ['timeout']);
  assert.deepEqual(sends(timeout), ['[2,"d2","Reset",{"type":"Soft"}]']);
});

test('[SPEC §5] disconnect: every queued and in-flight CALL gets a disconnected error; later messages not_connected', () => {
  const ch = channel();
  svc(ch, { type: 'request', action: 'Reset', messageId: 'd1', payloadText: '{}' });
  svc(ch, { type: 'request', action: 'UnlockConnector', messageId: 'd2', payloadText: '{"connectorId":1}' });
  const d = ch.handle({ kind: 'disconnected' }, 1);
  assert.deepEqual(publishes(d).map((p) => [p.messageId, p.action, p.gatewayReason]), [['d1', 'Reset', 'disconnected'], ['d2', 'UnlockConnector', 'disconnected']]);
  assert.deepEqual(reasons(svc(ch, { type: 'request', action: 'Reset', messageId: 'd3', payloadText: '{}' })), ['not_connected']);
  assert.deepEqual(ch.handle({ kind: 'disconnected' }, 2), []);
});

test('CALLRESULT from the CP for no pending CALL is dropped and reported', () => {
  const ch = channel();
  const a = cp(ch, '[3,"nope",{}]');
  assert.deepEqual(publishes(a), []);
  assert.ok(a.some((x) => x.kind === 'rejected' && x.reason === 'unknown_message_id'));
  assert.deepEqual(a.find((x) => x.kind === 'frame_in'), { kind: 'frame_in', type: 'response', action: 'unknown' });
});

test('[OCPP-J 1.6 §4.2.3] malformed frames: CALLERROR with the id when readable, -1 otherwise; never in reply to a CALLRESULT; close at max_bad_messages', () => {
  const ch = channel();
  const [, id, code, description, details] = JSON.parse(sends(cp(ch, 'not json', 0))[0] ?? '') as unknown[];
  assert.deepEqual([id, code, details], ['-1', 'FormationViolation', {}]);
  assert.match(String(description), /^not JSON/);
  const withId = cp(ch, '[2,"m7","Heartbeat"]', 1);
  assert.equal(JSON.parse(sends(withId)[0] ?? '')[1], 'm7');
  const third = cp(ch, '[3,"m8",{},1]', 2);
  assert.deepEqual(sends(third), []);
  assert.ok(third.some((x) => x.kind === 'close' && x.reason === 'too_many_bad_messages'));
});

test('bad-message window resets after the window passes', () => {
  const ch = channel();
  cp(ch, 'x', 0);
  cp(ch, 'x', 1);
  const later = cp(ch, 'x', 60_001);
  assert.ok(!later.some((x) => x.kind === 'close'));
});

test('[OCPP-J 2.0.1 §4.1.3] [OCPP-J 1.6 §4.1.3] [OCPP-J 2.1 §4.4] unknown MessageTypeId: 2.0.1 answers MessageTypeNotSupported; 1.6 and 2.1 ignore it (reported, counted)', () => {
  for (const [name, answer] of [['ocpp2.0.1', 'MessageTypeNotSupported'], ['ocpp1.6', undefined], ['ocpp2.1', undefined]] as const) {
    const ch = new Channel({ ...base, spec: PROTOCOLS[name] });
    const r = decodeFrame('[9,"q","X",{}]', PROTOCOLS[name]);
    assert.ok(!r.ok);
    if (r.ok) return;
    const a = ch.handle({ kind: 'cp_bad_frame', failure: r.failure }, 0);
    assert.deepEqual(sends(a).map((t) => JSON.parse(t)[2]), answer === undefined ? [] : [answer], name);
    assert.ok(a.some((x) => x.kind === 'rejected' && x.reason === 'malformed_frame' && x.messageId === 'q'), name);
  }
  // SEND on a version without it is an unknown type too
  const v16 = channel();
  assert.deepEqual(sends(cp(v16, '[6,"s","NotifyPeriodicEventStream",{}]')), []);
});

test('[SPEC §6] a 37-character messageId is echoed in the CALLERROR; an unreadable one gets "-1"', () => {
  const long = 'y'.repeat(37);
  assert.deepEqual(JSON.parse(sends(cp(channel(), `[2,"${long}","Heartbeat",{}]`))[0] ?? '').slice(0, 3), [4, long, 'FormationViolation']);
  assert.deepEqual(JSON.parse(sends(cp(channel(), '[2,17,"Heartbeat",{}]'))[0] ?? '').slice(0, 3), [4, '-1', 'FormationViolation']);
});

test('[SPEC §6] [OCPP-J 2.0.1 §4.1.4] a reused pending messageId for another CALL gets a CALLERROR; the first stays pending; an identical retransmission is dropped', () => {
  const ch = channel();
  cp(ch, '[2,"r1","Authorize",{"idTag":"A"}]');
  const other = cp(ch, '[2,"r1","Heartbeat",{}]');
  assert.deepEqual(JSON.parse(sends(other)[0] ?? '').slice(0, 3), [4, 'r1', 'FormationViolation']);
  assert.deepEqual(publishes(other), []);
  const otherPayload = cp(ch, '[2,"r1","Authorize",{"idTag":"B"}]');
  assert.equal(sends(otherPayload).length, 1);
  const same = cp(ch, '[2,"r1","Authorize",{"idTag":"A"}]');
  assert.deepEqual(sends(same), []);
  assert.deepEqual(publishes(same), []);
  assert.equal(ch.pendingUpstream, 1);
  assert.deepEqual(sends(svc(ch, { type: 'response', action: 'Authorize', messageId: 'r1', payloadText: '{"idTagInfo":{"status":"Accepted"}}' })), ['[3,"r1",{"idTagInfo":{"status":"Accepted"}}]']);
});

test('[SPEC §4] [OCPP-J 2.1 §4.2.5] a malformed SEND is never answered (reported and counted); a valid one is published', () => {
  const ch = new Channel({ ...base, spec: PROTOCOLS['ocpp2.1'] });
  for (const text of ['[6,"s1","NotifyPeriodicEventStream",[]]', '[6,"s2","NotifyPeriodicEventStream"]', '[6,"s3","",{}]']) {
    const r = decodeFrame(text, PROTOCOLS['ocpp2.1']);
    assert.ok(!r.ok, text);
    if (r.ok) return;
    const a = ch.handle({ kind: 'cp_bad_frame', failure: r.failure }, 0);
    assert.deepEqual(sends(a), [], text);
    assert.ok(a.some((x) => x.kind === 'rejected' && x.reason === 'malformed_frame'), text);
  }
});

test('[SPEC §4] [SPEC §6] a service CALLERROR must use the version\'s error codes and (2.x) a description of at most 255 characters', () => {
  const answer = (spec: keyof typeof PROTOCOLS, payload: object) => {
    const ch = new Channel({ ...base, spec: PROTOCOLS[spec] });
    const r = decodeFrame('[2,"e1","Heartbeat",{}]', PROTOCOLS[spec]);
    if (!r.ok) throw new Error('bad fixture');
    ch.handle({ kind: 'cp_frame', frame: r.frame }, 0);
    const a = svc(ch, { type: 'error', action: 'Heartbeat', messageId: 'e1', payloadText: JSON.stringify(payload) });
    return { sent: sends(a), reasons: reasons(a), pending: ch.pendingUpstream };
  };
  assert.deepEqual(answer('ocpp1.6', { errorCode: 'Oops' }), { sent: [], reasons: ['invalid_payload'], pending: 1 });
  assert.deepEqual(answer('ocpp2.0.1', { errorCode: 'FormationViolation' }).reasons, ['invalid_payload'], '1.6 spelling on 2.0.1');
  assert.equal(answer('ocpp1.6', { errorCode: 'FormationViolation' }).sent.length, 1);
  assert.deepEqual(answer('ocpp2.1', { errorCode: 'GenericError', errorDescription: 'd'.repeat(256) }), { sent: [], reasons: ['invalid_payload'], pending: 1 });
  assert.equal(answer('ocpp2.1', { errorCode: 'GenericError', errorDescription: 'd'.repeat(255) }).sent.length, 1);
  assert.equal(answer('ocpp1.6', { errorCode: 'GenericError', errorDescription: 'd'.repeat(1000) }).sent.length, 1, '1.6 sets no bound');
});

test('invalid service payloads get invalid_payload / invalid_message_id and nothing is sent', () => {
  const ch = channel();
  const bad = svc(ch, { type: 'request', action: 'Reset', messageId: 'd1', payloadText: '[1]' });
  assert.deepEqual(sends(bad), []);
  assert.deepEqual(reasons(bad), ['invalid_payload']);
  assert.equal(JSON.parse(publishes(bad)[0]?.payloadText ?? '').errorCode, 'FormationViolation');
  assert.deepEqual(reasons(svc(ch, { type: 'request', action: 'Reset', messageId: 'z'.repeat(37), payloadText: '{}' })), ['invalid_message_id']);
  cp(ch, '[2,"u1","Heartbeat",{}]');
  assert.deepEqual(reasons(svc(ch, { type: 'error', action: 'Heartbeat', messageId: 'u1', payloadText: '{"errorDescription":"x"}' })), ['invalid_payload']);
  assert.equal(ch.pendingUpstream, 1, 'an invalid answer leaves the CALL pending');
});

test('publish failure of a CP CALL answers the CP with a CALLERROR, never a result', () => {
  const ch = channel();
  cp(ch, '[2,"u1","StatusNotification",{}]');
  const f = ch.handle({ kind: 'publish_failed', messageId: 'u1' }, 5);
  const frame = JSON.parse(sends(f)[0] ?? '');
  assert.equal(frame[0], 4);
  assert.equal(frame[2], 'InternalError');
  assert.equal(ch.pendingUpstream, 0);
});

test('accepted BootNotification reports its heartbeat interval', () => {
  const ch = channel();
  cp(ch, '[2,"b1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]');
  const a = svc(ch, { type: 'response', action: 'BootNotification', messageId: 'b1', payloadText: '{"status":"Accepted","interval":300,"currentTime":"2026-01-01T00:00:00Z"}' });
  assert.deepEqual(a.find((x) => x.kind === 'heartbeat_interval'), { kind: 'heartbeat_interval', seconds: 300 });
});

test('[OCPP-J 2.1] SEND is published without pending state; send on 1.6 is unsupported_type', () => {
  const ch = new Channel({ ...base, spec: PROTOCOLS['ocpp2.1'] });
  const r = decodeFrame('[6,"s1","NotifyPeriodicEventStream",{"id":1}]', PROTOCOLS['ocpp2.1']);
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.deepEqual(publishes(ch.handle({ kind: 'cp_frame', frame: r.frame }, 0)).map((p) => p.type), ['send']);
  assert.equal(ch.pendingUpstream, 0);
  assert.deepEqual(reasons(svc(channel(), { type: 'send', action: 'X', messageId: 's', payloadText: '{}' })), ['unsupported_type']);
});

// ---- validation in the channel [SPEC §6] ---------------------------------------------------------
import { MessageChecks } from '../src/validation/checks.js';
import { loadConfig } from '../src/config/load.js';

function checked(settings: Array<[string, unknown]> = [], cpId = 'CP1'): Channel {
  const cfg = loadConfig({ overrides: settings });
  if (!cfg.ok) throw new Error(cfg.errors.join());
  return channel({ checker: new MessageChecks(cfg.config).forConnection('ocpp1.6', cpId) });
}

test('[SPEC §6] invalid CP CALL: CALLERROR with the code and path, not published, reported', () => {
  const ch = checked();
  const a = cp(ch, '[2,"v1","BootNotification",{"chargePointVendor":"A"}]');
  assert.deepEqual(publishes(a), []);
  assert.deepEqual(JSON.parse(sends(a)[0] ?? ''), [4, 'v1', 'OccurenceConstraintViolation', '/chargePointModel: required property "chargePointModel" is missing', { keyword: 'required', path: '/chargePointModel' }]);
  assert.ok(a.some((x) => x.kind === 'rejected' && x.reason === 'validation_failed'));
  assert.ok(a.some((x) => x.kind === 'validation_failed' && x.direction === 'upstream' && !x.forwarded));
  assert.equal(ch.pendingUpstream, 0);
});

test('[SPEC §6] unknown action upstream -> NotImplemented; message_format_checking=disable lets it through', () => {
  assert.equal(JSON.parse(sends(cp(checked(), '[2,"v1","FlyToTheMoon",{}]'))[0] ?? '')[2], 'NotImplemented');
  const off = checked([['message_format_checking', 'disable']]);
  assert.deepEqual(publishes(cp(off, '[2,"v1","FlyToTheMoon",{"x":1}]')).map((p) => p.payloadText), ['{"x":1}']);
});

test('[SPEC §6] invalid service CALL: invalid_payload with the code, nothing sent; upstream_only skips it', () => {
  const a = svc(checked(), { type: 'request', action: 'Reset', messageId: 'd1', payloadText: '{"type":"Warm"}' });
  assert.deepEqual(sends(a), []);
  const err = JSON.parse(publishes(a)[0]?.payloadText ?? '');
  assert.equal(err.errorCode, 'PropertyConstraintViolation');
  assert.equal(err.errorDetails.gateway.reason, 'invalid_payload');
  assert.equal(err.errorDetails.gateway.path, '/type');
  assert.equal(err.errorDetails.gateway.keyword, 'enum');
  const up = checked([['message_format_checking', 'upstream_only']]);
  assert.equal(sends(svc(up, { type: 'request', action: 'Reset', messageId: 'd1', payloadText: '{"type":"Warm"}' })).length, 1);
});

test('[SPEC §6] invalid service response keeps the CP CALL pending; a valid one then answers it', () => {
  const ch = checked();
  cp(ch, '[2,"b1","BootNotification",{"chargePointVendor":"A","chargePointModel":"B"}]');
  const bad = svc(ch, { type: 'response', action: 'BootNotification', messageId: 'b1', payloadText: '{"status":"Accepted"}' });
  assert.deepEqual(sends(bad), []);
  assert.deepEqual(reasons(bad), ['invalid_payload']);
  assert.equal(ch.pendingUpstream, 1);
  const good = svc(ch, { type: 'response', action: 'BootNotification', messageId: 'b1', payloadText: '{"status":"Accepted","currentTime":"2026-11-23T10:00:00Z","interval":60}' });
  assert.equal(sends(good).length, 1);
});

test('[SPEC §6] invalid CP CALLRESULT -> invalid_response error carrying the payload, next CALL sent', () => {
  const ch = checked();
  svc(ch, { type: 'request', action: 'Reset', messageId: 'd1', payloadText: '{"type":"Soft"}' });
  svc(ch, { type: 'request', action: 'Reset', messageId: 'd2', payloadText: '{"type":"Hard"}' });
  const a = cp(ch, '[3,"d1",{"status":"Maybe"}]');
  const [p] = publishes(a);
  assert.equal(p?.type, 'error');
  const err = JSON.parse(p?.payloadText ?? '');
  assert.equal(err.errorCode, 'PropertyConstraintViolation');
  assert.equal(err.errorDetails.gateway.reason, 'invalid_response');
  assert.deepEqual(err.errorDetails.gateway.payload, { status: 'Maybe' });
  assert.deepEqual(sends(a), ['[2,"d2","Reset",{"type":"Hard"}]']);
});

test('[SPEC §6] leniency: exempt actions, exempt cpIds, log_only', () => {
  const bad = '[2,"v1","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Busy"}]';
  assert.equal(publishes(cp(checked([['validation.exempt_actions', 'StatusNotification']]), bad)).length, 1);
  assert.equal(publishes(cp(checked([['validation.exempt_cp_ids', 'OLD-1']], 'OLD-1'), bad)).length, 1);
  assert.equal(publishes(cp(checked([['validation.exempt_cp_ids', 'OLD-1']], 'CP1'), bad)).length, 0);
  const logOnly = cp(checked([['validation.log_only', true]]), bad);
  assert.equal(publishes(logOnly).length, 1);
  assert.deepEqual(sends(logOnly), []);
  assert.ok(logOnly.some((x) => x.kind === 'validation_failed' && x.forwarded));
});

// ---- hostile depth and unanswerable frames [SPEC §6, §8] -----------------------------------------
import type { Frame } from '../src/ocpp/codec.js';

/** 20,000 levels, ~120 KB: JSON.stringify of its parsed form overflows the stack. */
const DEEP_TEXT = `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`;
const kinds = (a: ChannelAction[]) => a.map((x) => (x.kind === 'rejected' ? `rejected:${x.reason}` : x.kind));

test('[SPEC §6] deep CALLERROR answering the in-flight CALL: dropped, reported, counted, never answered', () => {
  const ch = channel();
  svc(ch, { type: 'request', action: 'Reset', messageId: 'd1', payloadText: '{"type":"Soft"}' });
  const a = cp(ch, `[4,"d1","GenericError","x",${DEEP_TEXT}]`);
  assert.deepEqual(sends(a), []);
  assert.deepEqual(publishes(a), []);
  assert.ok(a.some((x) => x.kind === 'rejected' && x.reason === 'malformed_frame' && x.messageId === 'd1' && /deeper than/.test(x.detail)));
  assert.equal(ch.inFlightDownstream, 1, 'the CALL stays in flight until a readable answer or its timeout');
});

test('[SPEC §6] deep CALLRESULT (would be invalid_response) and deep 2.1 CALLRESULTERROR: dropped, never answered', () => {
  const ch = checked();
  svc(ch, { type: 'request', action: 'Reset', messageId: 'd1', payloadText: '{"type":"Soft"}' });
  const a = cp(ch, `[3,"d1",{"status":"Maybe","x":${DEEP_TEXT}}]`);
  assert.deepEqual([sends(a), publishes(a)], [[], []]);
  assert.ok(a.some((x) => x.kind === 'rejected' && x.reason === 'malformed_frame'));
  const v21 = new Channel({ ...base, spec: PROTOCOLS['ocpp2.1'] });
  const r = decodeFrame(`[5,"z","FormatViolation","x",${DEEP_TEXT}]`, PROTOCOLS['ocpp2.1']);
  assert.ok(!r.ok);
  if (r.ok) return;
  const b = v21.handle({ kind: 'cp_bad_frame', failure: r.failure }, 0);
  assert.deepEqual([sends(b), publishes(b)], [[], []]);
});

test('[SPEC §6] deep CALL: CALLERROR FormationViolation (1.6) / RpcFrameworkError (2.x) with its messageId', () => {
  assert.deepEqual(JSON.parse(sends(cp(channel(), `[2,"c1","DataTransfer",${DEEP_TEXT}]`))[0] ?? '').slice(0, 3), [4, 'c1', 'FormationViolation']);
  const v2 = new Channel({ ...base, spec: PROTOCOLS['ocpp2.0.1'] });
  const r = decodeFrame(`[2,"c2","DataTransfer",${DEEP_TEXT}]`, PROTOCOLS['ocpp2.0.1']);
  assert.ok(!r.ok);
  if (r.ok) return;
  assert.deepEqual(JSON.parse(sends(v2.handle({ kind: 'cp_bad_frame', failure: r.failure }, 0))[0] ?? '').slice(0, 3), [4, 'c2', 'RpcFrameworkError']);
});

test('[SPEC §8] the channel never re-serialises a CP payload: deep frames that got past decoding cause no RangeError', () => {
  const deep: object = JSON.parse(DEEP_TEXT) as object;
  assert.throws(() => JSON.stringify(deep), RangeError, 'the input really is deep enough to overflow');
  const handle = (ch: Channel, frame: Frame) => ch.handle({ kind: 'cp_frame', frame }, 0);
  // CALLERROR answering a downstream CALL: errorDetails passed on as the text the CP sent.
  const a = channel();
  svc(a, { type: 'request', action: 'Reset', messageId: 'd1', payloadText: '{"type":"Soft"}' });
  const err = handle(a, { type: 4, messageId: 'd1', errorCode: 'GenericError', errorDescription: 'x', errorDetails: deep, errorDetailsText: DEEP_TEXT });
  assert.equal(publishes(err)[0]?.payloadText.length, DEEP_TEXT.length + '{"errorCode":"GenericError","errorDescription":"x","errorDetails":}'.length);
  // An invalid CALLRESULT: invalid_response carries the CP's payload, spliced in as text.
  const b = checked();
  svc(b, { type: 'request', action: 'Reset', messageId: 'd1', payloadText: '{"type":"Soft"}' });
  const payloadText = `{"status":"Maybe","x":${DEEP_TEXT}}`;
  const res = handle(b, { type: 3, messageId: 'd1', payload: { status: 'Maybe', x: deep }, payloadText });
  assert.deepEqual(reasons(res), ['invalid_response']);
  assert.ok(publishes(res)[0]?.payloadText.endsWith(`"payload":${payloadText}}}}`));
  // A 2.1 CALLRESULTERROR about a recent answer.
  const c = new Channel({ ...base, spec: PROTOCOLS['ocpp2.1'] });
  cp(c, '[2,"u1","Heartbeat",{}]');
  svc(c, { type: 'response', action: 'Heartbeat', messageId: 'u1', payloadText: '{"currentTime":"2026-01-01T00:00:00Z"}' });
  const re = handle(c, { type: 5, messageId: 'u1', errorCode: 'FormatViolation', errorDescription: 'x', errorDetails: deep, errorDetailsText: DEEP_TEXT });
  assert.deepEqual(publishes(re).map((p) => [p.type, p.action]), [['resulterror', 'Heartbeat']]);
});

test('[SPEC §8] deep service payloads are refused as invalid_payload before parsing (request, response, error)', () => {
  const ch = channel();
  cp(ch, '[2,"u1","Authorize",{"idTag":"A"}]');
  for (const [type, payloadText] of [['request', DEEP_TEXT], ['response', DEEP_TEXT], ['error', `{"errorCode":"GenericError","errorDetails":${DEEP_TEXT}}`]] as const) {
    const a = svc(ch, { type, action: 'Authorize', messageId: 'u1', payloadText });
    assert.deepEqual(sends(a), [], type);
    assert.deepEqual(reasons(a), ['invalid_payload'], type);
    assert.match(JSON.parse(publishes(a)[0]?.payloadText ?? '').errorDescription, /nested deeper than 31 levels/);
  }
  assert.equal(ch.pendingUpstream, 1);
});

test('[SPEC §6] unanswerable frames count toward max_bad_messages: CALLRESULT, CALLERROR, 2.1 CALLRESULTERROR for nothing pending', () => {
  const ch = channel();
  assert.deepEqual(kinds(cp(ch, '[3,"n1",{}]', 0)), ['frame_in', 'rejected:unknown_message_id']);
  assert.deepEqual(kinds(cp(ch, '[4,"n2","GenericError","",{}]', 1)), ['frame_in', 'rejected:unknown_message_id']);
  assert.deepEqual(kinds(cp(ch, '[3,"n3",{}]', 2)), ['frame_in', 'rejected:unknown_message_id', 'close']);
  const v21 = new Channel({ ...base, spec: PROTOCOLS['ocpp2.1'] });
  const r = decodeFrame('[5,"never","FormatViolation","",{}]', PROTOCOLS['ocpp2.1']);
  assert.ok(r.ok);
  if (!r.ok) return;
  const a = v21.handle({ kind: 'cp_frame', frame: r.frame }, 0);
  assert.deepEqual(publishes(a), []);
  assert.ok(a.some((x) => x.kind === 'rejected' && x.reason === 'unknown_message_id' && /CALLRESULTERROR/.test(x.detail)));
});

/** A checker that refuses exactly the payloads carrying "bad": true, with a 2.x occurrence failure. */
const refusesBad: ChannelOptions['checker'] = {
  logOnly: false,
  check: (_direction, _action, _kind, payload) =>
    (payload as { bad?: boolean }).bad === true ? { ok: false, failure: { code: 'OccurrenceConstraintViolation', keyword: 'required', path: '/x', reason: 'required property "x" is missing' } } : { ok: true },
};

test('[OCPP-J 2.1 §4.2.4] [SPEC §4] 2.1: an invalid CALLRESULT from the CP gets a CALLRESULTERROR and the service an invalid_response; 2.0.1 only reports', () => {
  for (const [name, told] of [['ocpp2.1', true], ['ocpp2.0.1', false]] as const) {
    const ch: Channel = new Channel({ ...base, spec: PROTOCOLS[name], checker: refusesBad });
    svc(ch, { type: 'request', action: 'GetVariables', messageId: 'g1', payloadText: '{"getVariableData":[]}' });
    const r = decodeFrame('[3,"g1",{"bad":true}]', PROTOCOLS[name]);
    if (!r.ok) throw new Error('bad fixture');
    const a: ChannelAction[] = ch.handle({ kind: 'cp_frame', frame: r.frame }, 0);
    const sent: unknown[][] = sends(a).map((t) => JSON.parse(t) as unknown[]);
    assert.deepEqual(sent.map((f) => f.slice(0, 3)), told ? [[5, 'g1', 'OccurrenceConstraintViolation']] : [], name);
    assert.deepEqual(reasons(a), ['invalid_response'], name);
    assert.equal(publishes(a)[0]?.action, 'GetVariables');
  }
});

test('[SPEC §4] 2.1: a SEND from the CP is validated like a CALL: an invalid one is reported, not published, not answered', () => {
  const ch = new Channel({ ...base, spec: PROTOCOLS['ocpp2.1'], checker: refusesBad });
  const send = (text: string) => {
    const r = decodeFrame(text, PROTOCOLS['ocpp2.1']);
    if (!r.ok) throw new Error('bad fixture');
    return ch.handle({ kind: 'cp_frame', frame: r.frame }, 0);
  };
  const bad = send('[6,"s1","NotifyPeriodicEventStream",{"bad":true}]');
  assert.deepEqual([sends(bad), publishes(bad)], [[], []]);
  assert.ok(bad.some((x) => x.kind === 'rejected' && x.reason === 'validation_failed' && x.messageId === 's1'));
  const good = send('[6,"s2","NotifyPeriodicEventStream",{"id":1}]');
  assert.deepEqual(sends(good), []);
  assert.deepEqual(publishes(good).map((p) => [p.type, p.action, p.messageId, p.payloadText]), [['send', 'NotifyPeriodicEventStream', 's2', '{"id":1}']]);
});

test('[SPEC §6] the gateway\'s own CALLERROR descriptions stay within 255 characters on 2.x', () => {
  const ch = new Channel({ ...base, spec: PROTOCOLS['ocpp2.0.1'] });
  const r = decodeFrame(`[2,"${'z'.repeat(400)}","Heartbeat",{}]`, PROTOCOLS['ocpp2.0.1']);
  assert.ok(!r.ok);
  if (r.ok) return;
  const longDetail = { ...r.failure, detail: 'w'.repeat(600) };
  const [frame] = sends(ch.handle({ kind: 'cp_bad_frame', failure: longDetail }, 0)).map((t) => JSON.parse(t) as unknown[]);
  assert.equal(frame?.[1], 'z'.repeat(400));
  assert.ok(String(frame?.[3]).length <= 255);
});

test('[SPEC §5] fromCp / fromService (the hot path) act exactly as handle() with the input object', () => {
  const a = channel();
  const b = channel();
  const frames = ['[2,"u1","Heartbeat",{}]', '[2,"u2","Heartbeat",{}]', '[3,"nobody",{}]', '[2,"u1","Heartbeat",{}]'];
  const messages: ServiceMessage[] = [
    { type: 'response', action: 'Heartbeat', messageId: 'u1', payloadText: '{"currentTime":"2026-12-02T18:00:00Z"}' },
    { type: 'request', action: 'Reset', messageId: 'd1', payloadText: '{"type":"Soft"}' },
    { type: 'response', action: 'Heartbeat', messageId: 'unknown', payloadText: '{}' },
  ];
  for (const [i, text] of frames.entries()) {
    const r = decodeFrame(text, base.spec);
    assert.ok(r.ok);
    assert.deepEqual(b.fromCp(r.frame, i), a.handle({ kind: 'cp_frame', frame: r.frame }, i));
  }
  for (const [i, m] of messages.entries()) assert.deepEqual(b.fromService(m, 10 + i), a.handle({ kind: 'service', message: m }, 10 + i));
});
