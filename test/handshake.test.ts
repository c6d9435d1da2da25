import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeOffers, parseBasicAuth, parseCpIdFromPath, parseProtocolList, selectProtocol } from '../src/transport/handshake.js';

test('[SPEC §3] cpId from the path', () => {
  const ok = (url: string, id: string) => assert.deepEqual(parseCpIdFromPath(url, '/ocpp', 48), { ok: true, value: id }, url);
  const no = (url: string, refusal: string) => {
    const r = parseCpIdFromPath(url, '/ocpp', 48);
    assert.equal(!r.ok && r.refusal, refusal, url);
  };
  ok('/ocpp/CP1', 'CP1');
  ok('/ocpp/CP1?token=1', 'CP1');
  ok('/ocpp/site/CP1', 'CP1');
  ok('/ocpp/CP%201', 'CP 1');
  ok('/ocpp/%C3%A9', 'é');
  ok(`/ocpp/${'a'.repeat(48)}`, 'a'.repeat(48));
  no(`/ocpp/${'a'.repeat(49)}`, 'bad_cp_id');
  no('/ocpp', 'bad_cp_id');
  no('/ocpp/', 'bad_cp_id');
  no('/ocpp/CP1/', 'bad_cp_id');
  no('/ocpp/a%2Fb', 'bad_cp_id');
  ok('/ocpp/a+b', 'a+b'); // OCPP 2.x identifierString allows *-_=:+|@. [SPEC §3]
  ok('/ocpp/*-_%3D:+%7C@.x', '*-_=:+|@.x');
  ok('/ocpp/a%25b', 'a%b');
  ok('/ocpp/%C2%A0%F0%9F%98%80', '\u00a0😀');
  ok('/ocpp/...', '...');
  no('/ocpp/a%23b', 'bad_cp_id');
  no('/ocpp/a%00', 'bad_cp_id');
  no('/ocpp/%ZZ', 'bad_cp_id');
  no('/ocppx/CP1', 'path_not_found');
  no('/', 'path_not_found');
  no('', 'path_not_found');
  assert.deepEqual(parseCpIdFromPath('/CP1', '/', 48), { ok: true, value: 'CP1' });
  assert.deepEqual(parseCpIdFromPath('/ocpp/CP1', '/ocpp/', 48), { ok: true, value: 'CP1' });
});

test('[SPEC §3] subprotocol: the gateway\'s own preference order wins; default assumed but not echoed', () => {
  assert.deepEqual(parseProtocolList(' ocpp1.6 ,ocpp2.0.1,, '), ['ocpp1.6', 'ocpp2.0.1']);
  assert.deepEqual(parseProtocolList(undefined), []);
  assert.deepEqual(selectProtocol(['ocpp1.6', 'ocpp2.0.1'], ['ocpp2.0.1', 'ocpp1.6'], undefined), { ok: true, value: { protocol: 'ocpp2.0.1', echo: true } });
  assert.deepEqual(selectProtocol(['ocpp1.5'], ['ocpp1.6'], 'ocpp1.6'), { ok: true, value: { protocol: 'ocpp1.6', echo: false } });
  const none = selectProtocol(['ocpp1.5'], ['ocpp1.6'], undefined);
  assert.equal(!none.ok && none.refusal, 'no_subprotocol');
  assert.equal(!none.ok && none.detail, 'none of the offered subprotocols ("ocpp1.5") is supported; supported: ocpp1.6');
  const nothing = selectProtocol([], ['ocpp2.1', 'ocpp1.6'], undefined);
  assert.equal(!nothing.ok && nothing.detail, 'no subprotocol was offered; supported: ocpp2.1, ocpp1.6');
});

test('[SPEC §3, §8] the offers named in a no_subprotocol detail are client input: bounded, quoted, escaped', () => {
  const many = Array.from({ length: 500 }, (_, i) => `${'p'.repeat(100)}${i}`);
  const shown = describeOffers(many);
  assert.ok(shown.length < 8 * 50 + 40, `${shown.length} characters`);
  assert.match(shown, / and 492 more$/);
  assert.ok(shown.startsWith(`"${'p'.repeat(40)}…", `));
  // Quotes cannot close the quoting; C0 and C1 controls and bidi overrides become visible escapes.
  const nasty = describeOffers(['a"b', 'x\u001b[2Jy', 'c\u009bd', 'e\u202ef']);
  assert.equal(nasty, String.raw`"a\"b", "x\u001b[2Jy", "c\x9bd", "e\u202ef"`);
});

test('[SPEC §8] Basic auth is binary-safe and split after the cpId', () => {
  const b64 = (b: Buffer | string) => `Basic ${Buffer.from(b).toString('base64')}`;
  const r = parseBasicAuth(b64('CP:1:pa:ss'), 'CP:1', true);
  assert.ok(r?.ok);
  if (r?.ok) {
    assert.equal(r.value.username, 'CP:1');
    assert.equal(r.value.password.toString(), 'pa:ss');
  }
  const bin = Buffer.concat([Buffer.from('CP1:'), Buffer.from([0, 0xff, 0x3a])]);
  const rb = parseBasicAuth(b64(bin), 'CP1', true);
  assert.ok(rb?.ok && rb.value.password.equals(Buffer.from([0, 0xff, 0x3a])));
  assert.equal(parseBasicAuth(undefined, 'CP1', true), undefined);
  for (const bad of ['Bearer abc', 'Basic', 'Basic !!!!', 'Basic YWJj', b64('OTHER:pw')]) {
    const x = parseBasicAuth(bad, 'CP1', true);
    assert.equal(x?.ok, false, bad);
  }
  const loose = parseBasicAuth(b64('someone:pw:x'), 'CP1', false);
  assert.ok(loose?.ok && loose.value.username === 'someone' && loose.value.password.toString() === 'pw:x');
  assert.equal(parseBasicAuth('basic ' + Buffer.from('CP1:x').toString('base64'), 'CP1', true)?.ok, true, 'scheme is case-insensitive');
});

test('[SPEC §3] cpId: controls, non-characters, lone surrogates and dot-segments are refused with bad_cp_id', () => {
  const refused = [
    '%01', 'a%1Fb', '%7F', '%C2%80', '%C2%9F', '%EF%B7%90', '%EF%B7%AF', '%EF%BF%BE', '%EF%BF%BF', '%F0%9F%BF%BE', '%F4%8F%BF%BF',
    '%ED%A0%80', '%ED%BF%BF', 'a%2Fb', 'a%23b', '%00', '.', '..', '%2E', '%2e%2E', 'a%0Ab', '%1B%5B31m',
  ];
  for (const segment of refused) {
    const r = parseCpIdFromPath(`/ocpp/${segment}`, '/ocpp', 48);
    assert.equal(!r.ok && r.refusal, 'bad_cp_id', segment);
  }
  const r = parseCpIdFromPath('/ocpp/a%01b', '/ocpp', 48);
  assert.match(!r.ok ? r.detail : '', /control character \(U\+0001\)/);
});
