import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileTemplate, decodeLevel, encodeLevel, TopicLayout } from '../src/bridge/topics.js';
import { Emqx5Format } from '../src/bridge/message-format.js';

const DEFAULTS = { up: '${cpId}/up/${type}/${action}/${messageId}', dn: '${cpId}/dn/${type}/${action}/${messageId}', event: '${cpId}/event/${event}', status: '${cpId}/status' };

test('[SPEC §4] default layout', () => {
  const t = TopicLayout.create('ocpp/', DEFAULTS);
  assert.ok(t instanceof TopicLayout);
  if (!(t instanceof TopicLayout)) return;
  assert.equal(t.up('CP1', 'request', 'BootNotification', 'm1', 'ocpp1.6'), 'ocpp/CP1/up/request/BootNotification/m1');
  assert.equal(t.event('CP1', 'connected'), 'ocpp/CP1/event/connected');
  assert.equal(t.status('CP1'), 'ocpp/CP1/status');
  assert.equal(t.dnFilter('CP1'), 'ocpp/CP1/dn/+/+/+');
  assert.deepEqual(t.parseDn('ocpp/CP1/dn/request/Reset/r1'), { cpId: 'CP1', type: 'request', action: 'Reset', messageId: 'r1' });
  assert.equal(t.parseDn('ocpp/CP1/dn/bogus/Reset/r1'), undefined);
  assert.equal(t.parseDn('ocpp/CP1/up/request/Reset/r1'), undefined);
  assert.equal(t.parseDn('ocpp/CP1/dn/request/Reset'), undefined);
  assert.equal(t.parseDn('ocpp/CP1/dn/request/Reset/%ZZ'), undefined);
});

/** Every code unit or code point the encoder must never let through raw. [SPEC §4] [MQTT-1.5.3-1/2] */
function forbiddenAt(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2f || c === 0x2b || c === 0x23) return i;
    if (c >= 0xfdd0 && c <= 0xfdef) return i;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return i;
      const cp = s.codePointAt(i) as number;
      if ((cp & 0xfffe) === 0xfffe) return i;
      i++;
      continue;
    }
    if (c >= 0xdc00 && c <= 0xdfff) return i;
    if ((c & 0xfffe) === 0xfffe) return i;
  }
  return -1;
}

/** Strings rich in what the encoder must handle: any code unit (lone surrogates too), astral non-characters, `%` runs. */
const hostileText = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
    fc.integer({ min: 0, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
    fc.integer({ min: 1, max: 16 }).chain((plane) => fc.constantFrom(0xfffe, 0xffff).map((low) => String.fromCodePoint(plane * 0x10000 + low))),
    fc.constantFrom('%', '%2F', '/', '+', '#', '\u0000', '\u007f', '\u0085', '\ufdd0', '\ufffe', '\ud800', '\udfff', 'a', 'é'),
  ),
  maxLength: 40,
});

test('[SPEC §4] property: decodeLevel inverts encodeLevel for every JS string, and the encoding has nothing forbidden', () => {
  fc.assert(
    fc.property(hostileText, (s) => {
      const e = encodeLevel(s);
      assert.equal(decodeLevel(e), s);
      assert.equal(forbiddenAt(e), -1, JSON.stringify(e));
      // `%` only ever starts an escape: decoding is exact.
      for (let i = e.indexOf('%'); i !== -1; i = e.indexOf('%', i + 1)) assert.match(e.slice(i, i + 3), /^%[0-9A-F]{2}$/);
    }),
    { numRuns: 5000 },
  );
});

test('[SPEC §4] property: nothing to encode -> the very same string back', () => {
  fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (s) => {
    if (forbiddenAt(s) === -1 && !s.includes('%')) assert.equal(encodeLevel(s), s);
  }), { numRuns: 2000 });
});

test('[SPEC §4] every hostile class is percent-encoded as its UTF-8 bytes (lone surrogates as generalised UTF-8)', () => {
  const cases: Array<[string, string]> = [
    ['\u0001', '%01'], ['\u001f', '%1F'], ['\u007f', '%7F'], ['\u0080', '%C2%80'], ['\u009f', '%C2%9F'],
    ['\ufdd0', '%EF%B7%90'], ['\ufdef', '%EF%B7%AF'], ['\ufffe', '%EF%BF%BE'], ['\uffff', '%EF%BF%BF'],
    [String.fromCodePoint(0x1fffe), '%F0%9F%BF%BE'], [String.fromCodePoint(0x10ffff), '%F4%8F%BF%BF'],
    ['\ud800', '%ED%A0%80'], ['\udfff', '%ED%BF%BF'], ['x\udc00\ud800y', 'x%ED%B0%80%ED%A0%80y'],
    ['\u00a0é😀\ufdcf\ufdf0', '\u00a0é😀\ufdcf\ufdf0'], ['*-_=:|@. ', '*-_=:|@. '],
  ];
  for (const [raw, encoded] of cases) {
    assert.equal(encodeLevel(raw), encoded, JSON.stringify(raw));
    assert.equal(decodeLevel(encoded), raw);
  }
});

test('[SPEC §4] decodeLevel: a service\'s own encoding is read; malformed escapes and bytes are not', () => {
  assert.equal(decodeLevel('a%2fb%e2%82%ac'), 'a/b€');
  assert.equal(decodeLevel('%41%42'), 'AB');
  for (const bad of ['%', '%2', '%ZZ', '%C0%80', '%E2%82', '%E2%82x%AC', '%80', '%F4%90%80%80', '%FF', '%E0%80%80']) assert.equal(decodeLevel(bad), undefined, bad);
});

test('[SPEC §4] percent-encoding of / + # % NUL round-trips', () => {
  const raw = 'a/b+c#d%e\u0000f';
  assert.equal(encodeLevel(raw), 'a%2Fb%2Bc%23d%25e%00f');
  assert.equal(decodeLevel(encodeLevel(raw)), raw);
  assert.equal(encodeLevel('plain'), 'plain');
  const t = TopicLayout.create('ocpp/', DEFAULTS) as TopicLayout;
  assert.equal(t.dnFilter('a%b'), 'ocpp/a%25b/dn/+/+/+');
  assert.equal(t.parseDn('ocpp/a%25b/dn/response/X/1')?.cpId, 'a%b');
});

test('[SPEC §4] custom templates with aliases and a protocol level', () => {
  const t = TopicLayout.create('', { up: 'cs/${protocol}/${clientid}/${type}/${action}/${id}', dn: 'cmd/${cid}/${type}/${action}/${id}', event: 'ev/${cpId}/${event}', status: 'presence/${cpId}' });
  assert.ok(t instanceof TopicLayout);
  if (!(t instanceof TopicLayout)) return;
  assert.equal(t.up('CP1', 'response', 'Reset', 'x', 'ocpp1.6'), 'cs/ocpp1.6/CP1/response/Reset/x');
  assert.equal(t.dnFilter('CP1'), 'cmd/CP1/+/+/+');
  assert.deepEqual(t.parseDn('cmd/CP1/error/Reset/x'), { cpId: 'CP1', type: 'error', action: 'Reset', messageId: 'x' });
});

test('template errors name the key', () => {
  assert.match(String(TopicLayout.create('ocpp/', { ...DEFAULTS, up: '${nope}/x' })), /topics\.up: unknown placeholder/);
  assert.match(String(TopicLayout.create('ocpp/', { ...DEFAULTS, dn: '${cpId}/dn/${type}' })), /topics\.dn: must contain \$\{action\}/);
  assert.match(String(TopicLayout.create('ocpp/', { ...DEFAULTS, dn: '${cpId}/dn/t-${type}/${action}/${messageId}' })), /whole topic level/);
  assert.equal(typeof compileTemplate('${cpId'), 'string');
});

test('[SPEC §4] every topic the gateway renders goes through the encoder', () => {
  const t = TopicLayout.create('ocpp/', DEFAULTS) as TopicLayout;
  const hostile = 'a\u0001/\ud800';
  const enc = 'a%01%2F%ED%A0%80';
  assert.equal(t.up('CP+1', 'request', hostile, hostile, 'ocpp1.6'), `ocpp/CP%2B1/up/request/${enc}/${enc}`);
  assert.equal(t.event('CP+1', 'rejected'), 'ocpp/CP%2B1/event/rejected');
  assert.equal(t.event('CP+1', 'takeover'), 'ocpp/CP%2B1/event/takeover');
  assert.equal(t.parseEvent('ocpp/CP%2B1/event/takeover', 'takeover'), 'CP+1');
  assert.equal(t.status('CP+1'), 'ocpp/CP%2B1/status');
  assert.equal(t.dnFilter('CP+1'), 'ocpp/CP%2B1/dn/+/+/+');
  assert.deepEqual(t.parseDn(`ocpp/CP%2B1/dn/response/${enc}/${enc}`), { cpId: 'CP+1', type: 'response', action: hostile, messageId: hostile });
});

test('[SPEC §4] the emqx5 preset encodes the cpId level with the same encoder', () => {
  const f = new Emqx5Format('ocpp/');
  assert.equal(f.up('CP+1', 'request', 'a\u0001', 'm\u0001', 'ocpp1.6', '{}').topic, 'ocpp/cp/CP%2B1');
  assert.equal(f.up('CP+1', 'response', 'a', 'm', 'ocpp1.6', '{}').topic, 'ocpp/cp/CP%2B1/Reply');
  assert.equal(f.dnFilter('CP+1'), 'ocpp/cs/CP%2B1');
  assert.equal(f.parseDn('ocpp/cs/CP%2B1', Buffer.from('{"MessageTypeId":3,"UniqueId":"m","Payload":{}}'))?.cpId, 'CP+1');
});

test('[SPEC §4] [SPEC §7] parseEvent reads the cpId of one event only; dn topics, other events and other shapes are refused', () => {
  const t = TopicLayout.create('ocpp/', DEFAULTS) as TopicLayout;
  assert.equal(t.parseEvent('ocpp/CP1/event/takeover', 'takeover'), 'CP1');
  assert.equal(t.parseEvent('ocpp/CP1/event/takeovers', 'takeover'), undefined);
  assert.equal(t.parseEvent('ocpp/CP1/event/connected', 'takeover'), undefined);
  assert.equal(t.parseEvent('ocpp/CP1/dn/request/Reset/r1', 'takeover'), undefined);
  assert.equal(t.parseEvent('ocpp/CP1/event/takeover/x', 'takeover'), undefined);
  assert.equal(t.parseEvent('ocpp/CP1/event', 'takeover'), undefined);
  assert.equal(t.parseEvent('other/CP1/event/takeover', 'takeover'), undefined);
  assert.equal(t.parseEvent('ocpp/CP%ZZ/event/takeover', 'takeover'), undefined, 'a cpId that does not decode');
  assert.equal(t.dnWildcard(), 'ocpp/+/dn/+/+/+');
  const custom = TopicLayout.create('site1/', { ...DEFAULTS, event: 'events/${event}/cp-${cpId}', dn: 'to/${cpId}/${type}/${action}/${messageId}' }) as TopicLayout;
  assert.equal(custom.parseEvent('site1/events/takeover/cp-', 'takeover'), undefined, 'a level with a literal and a placeholder is compared on its literal part, as rendered levels are not');
  assert.equal(custom.dnWildcard(), 'site1/to/+/+/+/+');
});
