// Property-based fuzzing (fast-check) of everything that reads untrusted input: no exception escapes,
// and every outcome is one of the documented ones. [SPEC §6, §8]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeFrame, type DecodeProblem } from '../src/ocpp/codec.js';
import { PROTOCOLS, MAX_MESSAGE_ID_LENGTH } from '../src/ocpp/protocols.js';
import { parseBasicAuth, parseCpIdFromPath, parseProtocolList, selectProtocol } from '../src/transport/handshake.js';
import { decodeLevel, encodeLevel, TopicLayout } from '../src/bridge/topics.js';
import { Channel, type ChannelInput, type TimerKey } from '../src/session/channel.js';
import { MessageChecks } from '../src/validation/checks.js';
import { loadConfig } from '../src/config/load.js';

const RUNS = { numRuns: 3000 };
const PROBLEMS: ReadonlySet<DecodeProblem> = new Set(['not_json', 'not_array', 'bad_message_type', 'unknown_message_type', 'wrong_arity', 'bad_message_id', 'bad_action', 'bad_payload', 'bad_error_fields']);

/** Frame-shaped JSON: arrays whose first elements are often (but not always) right. */
const frameLike = fc.oneof(
  fc.string(),
  fc.json(),
  fc.tuple(fc.oneof(fc.constantFrom(2, 3, 4, 5, 6), fc.integer(), fc.double()), fc.oneof(fc.string({ maxLength: 40 }), fc.integer()), fc.jsonValue(), fc.jsonValue()).map((a) => JSON.stringify(a)),
  fc.array(fc.jsonValue(), { maxLength: 7 }).map((a) => JSON.stringify(a)),
  fc.tuple(fc.constantFrom(2, 6), fc.string({ minLength: 1, maxLength: 36 }), fc.string({ minLength: 1, maxLength: 20 }), fc.dictionary(fc.string(), fc.jsonValue())).map((a) => JSON.stringify(a)),
);

test('fuzz: the frame codec never throws and answers within the documented problems', () => {
  for (const spec of Object.values(PROTOCOLS)) {
    fc.assert(fc.property(frameLike, (text) => {
      const r = decodeFrame(text, spec);
      if (r.ok) {
        assert.ok(spec.messageTypes.has(r.frame.type));
        assert.ok(r.frame.messageId.length >= 1 && r.frame.messageId.length <= MAX_MESSAGE_ID_LENGTH);
        if ('payloadText' in r.frame) assert.deepEqual(JSON.parse(r.frame.payloadText), r.frame.payload, 'payloadText is the payload');
      } else {
        assert.ok(PROBLEMS.has(r.failure.problem), r.failure.problem);
        assert.ok(r.failure.messageId === undefined || r.failure.messageId.length <= MAX_MESSAGE_ID_LENGTH);
      }
    }), RUNS);
  }
});

test('fuzz: Basic header parsing never throws; the password is exactly the bytes after "<cpId>:"', () => {
  fc.assert(fc.property(fc.string(), fc.string({ maxLength: 50 }), fc.boolean(), (header, cpId, split) => {
    const r = parseBasicAuth(header, cpId, split);
    assert.ok(r === undefined || r.ok || r.refusal === 'unauthorized');
  }), RUNS);
  fc.assert(fc.property(fc.string({ minLength: 1, maxLength: 48 }), fc.uint8Array({ maxLength: 64 }), (cpId, bytes) => {
    const header = `Basic ${Buffer.concat([Buffer.from(`${cpId}:`), Buffer.from(bytes)]).toString('base64')}`;
    const r = parseBasicAuth(header, cpId, true);
    assert.ok(r?.ok);
    if (r?.ok) assert.ok(r.value.password.equals(Buffer.from(bytes)));
  }), RUNS);
});

test('fuzz: the subprotocol header parser never throws; the choice is from the gateway\'s list', () => {
  const preference = ['ocpp2.0.1', 'ocpp1.6'] as const;
  fc.assert(fc.property(fc.oneof(fc.string(), fc.array(fc.constantFrom('ocpp1.6', 'ocpp2.0.1', 'ocpp2.1', ' ', ',', 'x')).map((a) => a.join(''))), fc.boolean(), (header, withDefault) => {
    const offered = parseProtocolList(header);
    assert.ok(offered.every((p) => p.length > 0 && !p.includes(',') && p === p.trim()));
    const r = selectProtocol(offered, preference, withDefault ? 'ocpp1.6' : undefined);
    if (r.ok) assert.ok((preference as readonly string[]).includes(r.value.protocol));
    else assert.equal(r.refusal, 'no_subprotocol');
  }), RUNS);
});

test('fuzz: the cpId path parser never throws; accepted ids are valid topic levels', () => {
  const paths = fc.oneof(fc.string(), fc.webPath(), fc.string().map((s) => `/ocpp/${s}`), fc.string().map((s) => `/ocpp/${encodeURIComponent(s)}`));
  fc.assert(fc.property(paths, (path) => {
    const r = parseCpIdFromPath(path, '/ocpp', 48);
    if (r.ok) {
      assert.ok(r.value.length >= 1 && r.value.length <= 48);
      for (const c of ['/', '#', '\u0000']) assert.ok(!r.value.includes(c));
      assert.ok(r.value !== '.' && r.value !== '..');
    } else assert.ok(r.refusal === 'bad_cp_id' || r.refusal === 'path_not_found');
  }), RUNS);
  fc.assert(fc.property(fc.string({ minLength: 1, maxLength: 48 }).filter((s) => !/[/#\u0000]/.test(s) && s !== '.' && s !== '..'), (id) => {
    assert.deepEqual(parseCpIdFromPath(`/ocpp/${encodeURIComponent(id)}`, '/ocpp', 48), { ok: true, value: id });
  }), RUNS);
});

test('fuzz: downstream topics parse or are ignored, never throw; ids round-trip', () => {
  const layout = TopicLayout.create('ocpp/', { up: '${cpId}/up/${type}/${action}/${messageId}', dn: '${cpId}/dn/${type}/${action}/${messageId}', event: '${cpId}/event/${event}', status: '${cpId}/status' }) as TopicLayout;
  fc.assert(fc.property(fc.string(), (topic) => {
    layout.parseDn(topic);
  }), RUNS);
  fc.assert(fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (cpId, messageId) => {
    // The dn topic as a service writes it, with the same percent-encoding the up topic uses.
    const topic = `ocpp/${encodeLevel(cpId)}/dn/request/X/${encodeLevel(messageId)}`;
    assert.equal(layout.up(cpId, 'request', 'X', messageId, ''), `ocpp/${encodeLevel(cpId)}/up/request/X/${encodeLevel(messageId)}`);
    const parsed = layout.parseDn(topic);
    assert.deepEqual(parsed, { cpId, type: 'request', action: 'X', messageId });
  }), RUNS);
});

test('fuzz: the channel survives any sequence of inputs and keeps its limits', () => {
  const cfg = loadConfig({});
  if (!cfg.ok) throw new Error('config');
  const checker = new MessageChecks(cfg.config).forConnection('ocpp1.6', 'CP1');
  const ids = fc.constantFrom('a', 'b', 'c', 'd');
  const actions = fc.constantFrom('Heartbeat', 'Reset', 'BootNotification', 'Nope');
  const payloads = fc.oneof(fc.constant('{}'), fc.constant('{"type":"Soft"}'), fc.constant('[1]'), fc.constant('nope'), fc.json());
  const input: fc.Arbitrary<ChannelInput> = fc.oneof(
    frameLike.map((text) => {
      const r = decodeFrame(text, PROTOCOLS['ocpp1.6']);
      return r.ok ? { kind: 'cp_frame', frame: r.frame } as const : { kind: 'cp_bad_frame', failure: r.failure } as const;
    }),
    fc.record({ type: fc.constantFrom('request', 'response', 'error', 'send', 'resulterror'), action: actions, messageId: ids, payloadText: payloads }).map((message) => ({ kind: 'service', message }) as const),
    fc.oneof(ids.map((id) => `up:${id}` as TimerKey), fc.constant('dn' as TimerKey)).map((timer) => ({ kind: 'timer', timer }) as const),
    ids.map((messageId) => ({ kind: 'publish_failed', messageId }) as const),
    fc.constant({ kind: 'disconnected' } as const),
  );
  fc.assert(fc.property(fc.array(input, { maxLength: 40 }), fc.boolean(), (inputs, validate) => {
    const ch = new Channel({
      spec: PROTOCOLS['ocpp1.6'], awaitingTimeoutMs: 1000, onUpstreamTimeout: 'error', concurrentCalls: 'forward', maxPendingUpstream: 3,
      maxQueueLength: 2, retryIntervalMs: 1000, maxRetries: 1, maxBadMessages: 5, badMessagesWindowMs: 60_000, checker: validate ? checker : undefined,
    });
    let now = 0;
    for (const i of inputs) {
      const out = ch.handle(i, (now += 10));
      assert.ok(ch.queueLength <= 2 && ch.pendingUpstream <= 3 && ch.inFlightDownstream <= 1);
      for (const a of out) if (a.kind === 'send') JSON.parse(a.text);
    }
  }), { numRuns: 2000 });
});

test('fuzz: the PROXY protocol parser never throws and never consumes more than it was given', async () => {
  const { parseProxyHeader, PROXY_V2_SIGNATURE } = await import('../src/transport/proxy-protocol.js');
  const inputs = fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    fc.string({ maxLength: 120 }).map((s) => Buffer.from(`PROXY ${s}`)),
    fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from(a)])),
  );
  fc.assert(fc.property(inputs, (buf) => {
    const r = parseProxyHeader(buf);
    assert.ok(['incomplete', 'invalid', 'done'].includes(r.state));
    if (r.state === 'done') assert.ok(r.consumed > 0 && r.consumed <= buf.length);
  }), RUNS);
});

test('fuzz: parseDn (indexOf, no split) agrees with a split-based reading of the same template', () => {
  const layout = TopicLayout.create('ocpp/', { up: '${cpId}/up/${type}/${action}/${messageId}', dn: '${cpId}/dn/${type}/${action}/${messageId}', event: '${cpId}/event/${event}', status: '${cpId}/status' }) as TopicLayout;
  const reference = (topic: string) => {
    const p = topic.split('/');
    if (p.length !== 6 || p[0] !== 'ocpp' || p[2] !== 'dn') return undefined;
    const [cpId, type, action, messageId] = [p[1], p[3], p[4], p[5]].map((x) => decodeLevel(x as string));
    if (cpId === undefined || type === undefined || action === undefined || messageId === undefined) return undefined;
    if (!['request', 'response', 'error', 'send', 'resulterror'].includes(type)) return undefined;
    return { cpId, type, action, messageId };
  };
  const level = fc.oneof(fc.constantFrom('ocpp', 'dn', 'up', 'request', 'response', 'error', '', '%2F', '%zz', 'CP1'), fc.string({ maxLength: 6 }));
  fc.assert(fc.property(fc.array(level, { minLength: 0, maxLength: 8 }), (levels) => {
    const topic = levels.join('/');
    assert.deepEqual(layout.parseDn(topic), reference(topic));
  }), RUNS);
});
