// Schema validation of OCPP 1.6 payloads: the corpus, the keyword -> error code table, and the
// equivalence of the bundled schemas with the official OCA files on the corpus; one 2.1 case. (Every
// version's whole set against the official files: test/schemas.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { PROTOCOLS } from '../src/ocpp/protocols.js';
import { codeForKeyword, roleOfKeyword } from '../src/validation/error-codes.js';
import { bundledSchemas, classifySchemaFile, directorySchemas } from '../src/validation/schema-source.js';
import { SchemaValidator } from '../src/validation/validator.js';
import { loadCorpus } from './support/corpus.js';

const OFFICIAL_V16 = new URL('../../shared/ocpp-schemas/v16', import.meta.url).pathname;
const v16 = PROTOCOLS['ocpp1.6'];
const bundled = bundledSchemas('ocpp1.6');
const validator = new SchemaValidator(v16, bundled);
const corpus = loadCorpus(bundled);

const SECURITY_ACTIONS = ['CertificateSigned', 'DeleteCertificate', 'ExtendedTriggerMessage', 'GetInstalledCertificateIds', 'GetLog', 'InstallCertificate', 'LogStatusNotification', 'SecurityEventNotification', 'SignCertificate', 'SignedFirmwareStatusNotification', 'SignedUpdateFirmware'];

test('bundled 1.6 schemas: 39 actions (28 core + 11 Security Whitepaper), request and response each', () => {
  assert.equal(validator.actions('req').length, 39);
  assert.deepEqual(validator.actions('req'), validator.actions('conf'));
  for (const a of [...SECURITY_ACTIONS, 'BootNotification', 'MeterValues', 'StatusNotification']) assert.ok(validator.actions('req').includes(a), a);
});

test('[SPEC §6] every corpus case gets its verdict, with the 1.6 code of its role', () => {
  assert.ok(corpus.length > 150, `corpus has ${corpus.length} cases`);
  const actionsCovered = new Set(corpus.filter((c) => c.role === undefined).map((c) => `${c.action}.${c.kind}`));
  assert.equal(actionsCovered.size, 78, 'a valid payload for every action, both directions');
  for (const c of corpus) {
    const r = validator.validate(c.action, c.kind, c.payload);
    if (c.role === undefined) {
      assert.deepEqual(r, { ok: true }, c.name);
      continue;
    }
    assert.ok(!r.ok && !('unknownAction' in r), c.name);
    if (r.ok || 'unknownAction' in r) continue;
    assert.equal(r.failure.code, v16.codes[c.role], `${c.name}: ${r.failure.keyword} ${r.failure.path}`);
  }
});

test('[SPEC §6] failures name the first failing path and the reason', () => {
  const missing = validator.validate('BootNotification', 'req', { chargePointVendor: 'A' });
  assert.deepEqual(missing, { ok: false, failure: { code: 'OccurenceConstraintViolation', keyword: 'required', path: '/chargePointModel', reason: 'required property "chargePointModel" is missing' } });
  const nested = validator.validate('MeterValues', 'req', { connectorId: 1, meterValue: [{ timestamp: '2026-11-23T10:00:00Z', sampledValue: [{ value: 5 }] }] });
  assert.ok(!nested.ok && 'failure' in nested);
  if (!nested.ok && 'failure' in nested) {
    assert.equal(nested.failure.path, '/meterValue/0/sampledValue/0/value');
    assert.equal(nested.failure.code, 'TypeConstraintViolation');
  }
  const extra = validator.validate('Heartbeat', 'req', { x: 1 });
  assert.ok(!extra.ok && 'failure' in extra && extra.failure.code === 'FormationViolation' && extra.failure.path === '/x');
  const tooLong = validator.validate('Authorize', 'req', { idTag: 'x'.repeat(21) });
  assert.ok(!tooLong.ok && 'failure' in tooLong && tooLong.failure.code === 'PropertyConstraintViolation');
  const badDate = validator.validate('StatusNotification', 'req', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: 'noon' });
  assert.ok(!badDate.ok && 'failure' in badDate && badDate.failure.keyword === 'format');
});

test('[SPEC §6] 2.1 BootNotificationRequest: a valid one passes, one without reason fails with OccurrenceConstraintViolation', () => {
  const v21 = new SchemaValidator(PROTOCOLS['ocpp2.1'], bundledSchemas('ocpp2.1'));
  const boot = { reason: 'PowerUp', chargingStation: { model: 'SingleSocketCharger', vendorName: 'VendorX' } };
  assert.deepEqual(v21.validate('BootNotification', 'req', boot), { ok: true });
  const { reason: _gone, ...withoutReason } = boot;
  assert.deepEqual(v21.validate('BootNotification', 'req', withoutReason), {
    ok: false,
    failure: { code: 'OccurrenceConstraintViolation', keyword: 'required', path: '/reason', reason: 'required property "reason" is missing' },
  });
});

test('[SPEC §6] an unknown action is reported as such', () => {
  assert.deepEqual(validator.validate('FlyToTheMoon', 'req', {}), { ok: false, unknownAction: true });
});

test('[SPEC §6] keyword table, 1.6 and 2.x spellings', () => {
  const v2 = PROTOCOLS['ocpp2.0.1'].codes;
  const table: Array<[string, string, string]> = [
    ['required', 'OccurenceConstraintViolation', 'OccurrenceConstraintViolation'],
    ['minItems', 'OccurenceConstraintViolation', 'OccurrenceConstraintViolation'],
    ['maxItems', 'OccurenceConstraintViolation', 'OccurrenceConstraintViolation'],
    ['minProperties', 'OccurenceConstraintViolation', 'OccurrenceConstraintViolation'],
    ['maxProperties', 'OccurenceConstraintViolation', 'OccurrenceConstraintViolation'],
    ['type', 'TypeConstraintViolation', 'TypeConstraintViolation'],
    ['enum', 'PropertyConstraintViolation', 'PropertyConstraintViolation'],
    ['const', 'PropertyConstraintViolation', 'PropertyConstraintViolation'],
    ['maxLength', 'PropertyConstraintViolation', 'PropertyConstraintViolation'],
    ['minLength', 'PropertyConstraintViolation', 'PropertyConstraintViolation'],
    ['maximum', 'PropertyConstraintViolation', 'PropertyConstraintViolation'],
    ['minimum', 'PropertyConstraintViolation', 'PropertyConstraintViolation'],
    ['exclusiveMaximum', 'PropertyConstraintViolation', 'PropertyConstraintViolation'],
    ['exclusiveMinimum', 'PropertyConstraintViolation', 'PropertyConstraintViolation'],
    ['multipleOf', 'PropertyConstraintViolation', 'PropertyConstraintViolation'],
    ['pattern', 'PropertyConstraintViolation', 'PropertyConstraintViolation'],
    ['format', 'PropertyConstraintViolation', 'PropertyConstraintViolation'],
    ['additionalProperties', 'FormationViolation', 'FormatViolation'],
    ['oneOf', 'FormationViolation', 'FormatViolation'],
  ];
  for (const [keyword, c16, c2] of table) {
    assert.equal(codeForKeyword(keyword, v16.codes), c16, keyword);
    assert.equal(codeForKeyword(keyword, v2), c2, keyword);
  }
  assert.equal(roleOfKeyword('anythingElse'), 'formation');
});

test('json_schema_dir: files are matched to actions by id prefix, title, .req/.conf id or file name', () => {
  assert.deepEqual(classifySchemaFile('x.json', { id: 'urn:OCPP:1.6:2019:12:BootNotificationRequest' }, 'urn:OCPP:1.6:2019:12:'), ['BootNotification', 'req']);
  assert.deepEqual(classifySchemaFile('BootNotification.json', { title: 'BootNotificationRequest' }, 'urn:OCPP:1.6:2019:12:'), ['BootNotification', 'req']);
  assert.deepEqual(classifySchemaFile('GetLogResponse.json', { $id: 'urn:OCPP:Cp:1.6:2020:3:GetLog.conf' }, 'urn:OCPP:1.6:2019:12:'), ['GetLog', 'conf']);
  assert.deepEqual(classifySchemaFile('ResetResponse.json', {}, ''), ['Reset', 'conf']);
  assert.deepEqual(classifySchemaFile('Reset.json', {}, ''), ['Reset', 'req']);
  assert.equal(classifySchemaFile('weird name.json', {}, ''), undefined);
});

const officialPresent = existsSync(OFFICIAL_V16);
if (!officialPresent && process.env['CI'] === 'true') {
  test('official schemas are required on CI', () => assert.fail(`${OFFICIAL_V16} is missing: CI runs with ../shared beside the repo`));
}

test('[SPEC §6] bundled schemas and the official OCA files give the same verdict on every corpus case', { skip: officialPresent ? false : `../shared/ocpp-schemas/v16 not found at ${OFFICIAL_V16}` }, () => {
  const official = new SchemaValidator(v16, directorySchemas(OFFICIAL_V16, 'urn:OCPP:1.6:2019:12:'));
  assert.equal(official.size, 78);
  for (const c of corpus) {
    const a = validator.validate(c.action, c.kind, c.payload);
    const b = official.validate(c.action, c.kind, c.payload);
    assert.equal(a.ok, b.ok, `${c.name}: bundled ${JSON.stringify(a)} vs official ${JSON.stringify(b)}`);
    if (!a.ok && !b.ok && 'failure' in a && 'failure' in b) assert.equal(a.failure.code, b.failure.code, c.name);
  }
});

test('bundled sets compile lazily: nothing at construction, each schema on the first message of its action, every one of every version compiles', () => {
  for (const protocol of Object.keys(PROTOCOLS) as Array<keyof typeof PROTOCOLS>) {
    const schemas = bundledSchemas(protocol);
    const lazy = new SchemaValidator(PROTOCOLS[protocol], schemas, { lazy: true });
    assert.equal(lazy.compiled, 0, protocol);
    assert.equal(lazy.size, schemas.size, protocol);
    // The action lists come from the set, not from what has been compiled.
    assert.deepEqual(lazy.actions('req'), new SchemaValidator(PROTOCOLS[protocol], new Map([...schemas].filter(([k]) => k.endsWith('.req')))).actions('req'), protocol);
    assert.deepEqual(lazy.validate('FlyToTheMoon', 'req', {}), { ok: false, unknownAction: true });
    assert.equal(lazy.compiled, 0, `${protocol}: an unknown action compiles nothing`);
    for (const kind of ['req', 'conf'] as const) {
      for (const action of lazy.actions(kind)) {
        const verdict = lazy.validate(action, kind, {});
        assert.ok(!('unknownAction' in verdict), `${protocol} ${action}.${kind}`);
        // Once compiled, the same function answers: no second compile (Ajv would refuse the $id twice).
        assert.deepEqual(lazy.validate(action, kind, {}), verdict);
      }
    }
    assert.equal(lazy.compiled, schemas.size, `${protocol}: every schema compiled`);
  }
});

test('an eager set (json_schema_dir, schemas handed in) refuses to construct when a schema does not compile, naming it', () => {
  const broken = new Map([['Heartbeat.req', { type: 'object', properties: { a: { $ref: '#/definitions/missing' } } }]]);
  assert.throws(() => new SchemaValidator(v16, broken), /schema Heartbeat\.req for ocpp1\.6 does not compile/);
  const lazy = new SchemaValidator(v16, broken, { lazy: true });
  assert.throws(() => lazy.validate('Heartbeat', 'req', {}), /schema Heartbeat\.req for ocpp1\.6 does not compile/);
});
