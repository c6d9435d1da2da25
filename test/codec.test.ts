import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFAULT_MAX_JSON_DEPTH, decodeFrame, encodeCall, exceedsJsonDepth, encodeCallError, encodeCallResult, lastElementText, type DecodeProblem } from '../src/ocpp/codec.js';
import { PROTOCOLS } from '../src/ocpp/protocols.js';

const v16 = PROTOCOLS['ocpp1.6'];
const v21 = PROTOCOLS['ocpp2.1'];

// [OCPP-J 1.6 §4] every error branch of the decoder has a row.
const failures: Array<[string, string, DecodeProblem, { id?: string; type?: number }]> = [
  ['empty text', '', 'not_json', {}],
  ['truncated JSON', '[2,"a","Heartbeat",{}', 'not_json', {}],
  ['object, not array', '{"a":1}', 'not_array', {}],
  ['string', '"hello"', 'not_array', {}],
  ['null', 'null', 'not_array', {}],
  ['empty array', '[]', 'bad_message_type', {}],
  ['type id as string', '["2","a","Heartbeat",{}]', 'bad_message_type', {}],
  ['type id fractional', '[2.5,"a","Heartbeat",{}]', 'bad_message_type', {}],
  ['unknown type id 7', '[7,"a","X",{}]', 'unknown_message_type', { id: 'a', type: 7 }],
  ['type 6 in 1.6', '[6,"a","X",{}]', 'unknown_message_type', { id: 'a', type: 6 }],
  ['huge type id', '[1e400,"a"]', 'bad_message_type', {}],
  ['CALL with 3 elements', '[2,"a","Heartbeat"]', 'wrong_arity', { id: 'a', type: 2 }],
  ['CALL with 5 elements', '[2,"a","Heartbeat",{},{}]', 'wrong_arity', { id: 'a', type: 2 }],
  ['CALLRESULT with 4 elements', '[3,"a",{},{}]', 'wrong_arity', { id: 'a', type: 3 }],
  ['CALLERROR with 4 elements', '[4,"a","GenericError",""]', 'wrong_arity', { id: 'a', type: 4 }],
  ['numeric messageId', '[2,17,"Heartbeat",{}]', 'bad_message_id', { type: 2 }],
  ['empty messageId', '[2,"","Heartbeat",{}]', 'bad_message_id', { type: 2 }],
  // [SPEC §6] a too-long id is still read, so the CALLERROR can echo it
  ['messageId of 37 chars', `[2,"${'x'.repeat(37)}","Heartbeat",{}]`, 'bad_message_id', { id: 'x'.repeat(37), type: 2 }],
  ['action not a string', '[2,"a",5,{}]', 'bad_action', { id: 'a', type: 2 }],
  ['empty action', '[2,"a","",{}]', 'bad_action', { id: 'a', type: 2 }],
  ['payload array', '[2,"a","Heartbeat",[]]', 'bad_payload', { id: 'a', type: 2 }],
  ['payload a string', '[2,"a","Heartbeat","x"]', 'bad_payload', { id: 'a', type: 2 }],
  ['CALLRESULT payload string', '[3,"a","ok"]', 'bad_payload', { id: 'a', type: 3 }],
  ['CALLERROR code number', '[4,"a",1,"",{}]', 'bad_error_fields', { id: 'a', type: 4 }],
  ['CALLERROR description null', '[4,"a","GenericError",null,{}]', 'bad_error_fields', { id: 'a', type: 4 }],
  ['CALLERROR details array', '[4,"a","GenericError","",[]]', 'bad_error_fields', { id: 'a', type: 4 }],
];

for (const [name, text, problem, expect] of failures) {
  test(`decode rejects: ${name}`, () => {
    const r = decodeFrame(text, v16);
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.failure.problem, problem);
    assert.equal(r.failure.messageId, expect.id);
    assert.equal(r.failure.messageTypeId, expect.type);
    assert.ok(r.failure.detail.length > 0);
  });
}

test('decode: CALL keeps the payload text exactly as sent (big numbers, spacing, key order)', () => {
  const text = '[2, "id-1" , "MeterValues", {"b": 12345678901234567890123, "a": 1.50, "s": "x,]}\\"y"} ]';
  const r = decodeFrame(text, v16);
  assert.ok(r.ok);
  assert.equal(r.frame.type, 2);
  if (r.frame.type !== 2) return;
  assert.equal(r.frame.messageId, 'id-1');
  assert.equal(r.frame.action, 'MeterValues');
  assert.equal(r.frame.payloadText, '{"b": 12345678901234567890123, "a": 1.50, "s": "x,]}\\"y"}');
});

test('decode: duplicate keys are carried as sent; the parsed view keeps the last (as JSON.parse)', () => {
  const r = decodeFrame('[3,"a",{"k":1,"k":2}]', v16);
  assert.ok(r.ok && r.frame.type === 3);
  if (!r.ok || r.frame.type !== 3) return;
  assert.equal(r.frame.payloadText, '{"k":1,"k":2}');
  assert.deepEqual(r.frame.payload, { k: 2 });
});

test('decode: escaped lone surrogates pass through unchanged', () => {
  const r = decodeFrame('[2,"a","DataTransfer",{"data":"\\ud800"}]', v16);
  assert.ok(r.ok && r.frame.type === 2);
  if (r.ok && r.frame.type === 2) assert.equal(r.frame.payloadText, '{"data":"\\ud800"}');
});

test('decode: messageId of exactly 36 characters is accepted', () => {
  const id = 'y'.repeat(36);
  const r = decodeFrame(`[3,"${id}",{}]`, v16);
  assert.ok(r.ok);
});

test('decode: CALLERROR and 2.1 SEND / CALLRESULTERROR', () => {
  const e = decodeFrame('[4,"a","NotImplemented","nope",{"x":1}]', v16);
  assert.deepEqual(e.ok && e.frame, { type: 4, messageId: 'a', errorCode: 'NotImplemented', errorDescription: 'nope', errorDetails: { x: 1 }, errorDetailsText: '{"x":1}' });
  const s = decodeFrame('[6,"s1","NotifyPeriodicEventStream",{"id":1}]', v21);
  assert.ok(s.ok && s.frame.type === 6);
  const re = decodeFrame('[5,"r1","FormatViolation","bad",{}]', v21);
  assert.ok(re.ok && re.frame.type === 5);
});

test('lastElementText handles nesting, strings with brackets and commas, escapes and spacing', () => {
  assert.equal(lastElementText('[3,"a",{"x":[1,{"y":"]"}]}]', 3), '{"x":[1,{"y":"]"}]}');
  assert.equal(lastElementText('[2,"a","b",\n {}\n]', 4), '{}');
  assert.equal(lastElementText(' [ 2 , "a,\\",x" , "b" , {"k":","} ] ', 4), '{"k":","}');
});

test('encoders produce frames the decoder reads back', () => {
  const call = decodeFrame(encodeCall('m"1', 'Reset', '{"type":"Soft"}'), v16);
  assert.deepEqual(call.ok && call.frame.type === 2 && [call.frame.messageId, call.frame.action, call.frame.payloadText], ['m"1', 'Reset', '{"type":"Soft"}']);
  const res = decodeFrame(encodeCallResult('m1', '{"status":"Accepted"}'), v16);
  assert.ok(res.ok && res.frame.type === 3);
  const err = decodeFrame(encodeCallError('m1', 'GenericError', 'x', { a: 1 }), v16);
  assert.ok(err.ok && err.frame.type === 4);
});

// ---- JSON nesting bound [SPEC §6]: a linear scan before JSON.parse ----------------------------------

/** `n` nested arrays (or objects) around a number: depth n. */
const nest = (n: number, open = '[', close = ']') => `${open.repeat(n)}1${close.repeat(n)}`;
const deepObject = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
/** 20,000 levels, ~120 KB: the crash frame, under max_frame_size. */
const DEEP = 20_000;

const depthRows: Array<[string, string, number, boolean]> = [
  ['flat frame', '[2,"a","Heartbeat",{}]', 2, false],
  ['frame of depth 3 at bound 3', '[2,"a","X",{"k":[1]}]', 3, false],
  ['frame of depth 4 at bound 3', '[2,"a","X",{"k":[[1]]}]', 3, true],
  ['brackets inside strings do not count', '[2,"[[[[","X",{"s":"{{{{[[[["}]', 2, false],
  ['escaped quote keeps the string open', '[2,"a","X",{"s":"\\"[[[["}]', 2, false],
  ['escaped backslash then escaped quote keeps it open', '[2,"a","X",{"s":"\\\\\\"[[[["}]', 2, false],
  ['unterminated string: nothing more to count (JSON.parse refuses it)', '[2,"a","X",{"s":"[[[[}]', 2, false],
  ['escaped backslash closes the string', '[2,"a","X",{"s":"\\\\",  "t":[[1]]}]', 3, true],
  ['unicode escape is skipped as text', '[2,"a","X",{"s":"\\u005b\\u005b"}]', 2, false],
  ['depth counts nesting, not brackets in total', `[${Array.from({ length: 50 }, () => '[1]').join(',')}]`, 2, false],
  ['objects count like arrays', deepObject(33), 32, true],
  ['exactly the default bound', nest(DEFAULT_MAX_JSON_DEPTH), DEFAULT_MAX_JSON_DEPTH, false],
  ['one beyond the default bound', nest(DEFAULT_MAX_JSON_DEPTH + 1), DEFAULT_MAX_JSON_DEPTH, true],
  ['unbalanced closers do not hide depth', `]]]]${nest(5)}`, 4, true],
  [`${DEEP} levels`, nest(DEEP), DEFAULT_MAX_JSON_DEPTH, true],
];

for (const [name, text, bound, tooDeep] of depthRows) {
  test(`depth scan: ${name}`, () => {
    assert.equal(exceedsJsonDepth(text, bound), tooDeep);
  });
}

const deepRows: Array<[string, string, { id?: string; type?: number }]> = [
  ['CALL with a deep payload', `[2,"c1","DataTransfer",${deepObject(DEEP)}]`, { id: 'c1', type: 2 }],
  ['CALLRESULT with a deep payload', `[3,"r1",${deepObject(DEEP)}]`, { id: 'r1', type: 3 }],
  ['CALLERROR with deep errorDetails', `[4,"e1","GenericError","x",${deepObject(DEEP)}]`, { id: 'e1', type: 4 }],
  ['unknown type with a deep element', `[9,"u1",${nest(DEEP)}]`, { id: 'u1', type: 9 }],
  ['deep second element: only the type is read', `[3,${nest(DEEP)}]`, { type: 3 }],
  ['deep first element: nothing is read', nest(DEEP), {}],
  ['deep object, not an array', deepObject(DEEP), {}],
  ['messageId too long: still read, for the echo', `[2,"${'x'.repeat(37)}","X",${nest(DEEP)}]`, { id: 'x'.repeat(37), type: 2 }],
  ['deep and not JSON after the prefix', `[2,"c2","X",${'['.repeat(DEEP)}`, { id: 'c2', type: 2 }],
];

for (const [name, text, expect] of deepRows) {
  test(`decode too_deep: ${name}`, () => {
    const r = decodeFrame(text, v21);
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.failure.problem, 'too_deep');
    assert.equal(r.failure.messageId, expect.id);
    assert.equal(r.failure.messageTypeId, expect.type);
    assert.match(r.failure.detail, /deeper than 32 levels/);
  });
}

test('decode: the bound is a parameter (ocpp.max_json_depth), the frame array is level 1', () => {
  assert.ok(decodeFrame('[2,"a","X",{"k":{"l":1}}]', v16, 3).ok);
  const r = decodeFrame('[2,"a","X",{"k":{"l":{}}}]', v16, 3);
  assert.ok(!r.ok && r.failure.problem === 'too_deep');
});

test('decode: a CALLERROR keeps errorDetails as the text it was sent in', () => {
  const r = decodeFrame('[4,"a","GenericError","x", {"n": 1.50, "s":"]"} ]', v16);
  assert.ok(r.ok && r.frame.type === 4);
  if (r.ok && r.frame.type === 4) assert.equal(r.frame.errorDetailsText, '{"n": 1.50, "s":"]"}');
});

test('depth scan agrees with the depth of the parsed value (generated JSON, strings with quotes and backslashes)', () => {
  const depthOf = (v: unknown): number => (typeof v === 'object' && v !== null ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0);
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 1, max: 9 }), (value, bound) => {
      const text = JSON.stringify([2, 'id', 'X', value]);
      assert.equal(exceedsJsonDepth(text, bound), depthOf([value]) > bound, text);
    }),
    { numRuns: 2000 },
  );
});

test('[SPEC §6] a null payload is the empty payload: read and carried as {} (CALL, SEND, CALLRESULT)', () => {
  const call = decodeFrame('[2,"a","Heartbeat",null]', v16);
  assert.ok(call.ok && call.frame.type === 2);
  if (call.ok && call.frame.type === 2) {
    assert.deepEqual(call.frame.payload, {});
    assert.equal(call.frame.payloadText, '{}');
  }
  const send = decodeFrame('[6,"s","NotifyPeriodicEventStream", null ]', v21);
  assert.ok(send.ok && send.frame.type === 6 && send.frame.payloadText === '{}');
  const result = decodeFrame('[3,"r",null]', v16);
  assert.ok(result.ok && result.frame.type === 3 && result.frame.payloadText === '{}');
});

test('[SPEC §6] a CALLERROR with null errorDetails is read as {} (the CP\'s answer is not lost)', () => {
  const r = decodeFrame('[4,"e","NotSupported","no",null]', v16);
  assert.ok(r.ok && r.frame.type === 4);
  if (r.ok && r.frame.type === 4) {
    assert.deepEqual(r.frame.errorDetails, {});
    assert.equal(r.frame.errorDetailsText, '{}');
  }
});
