// What the dashboard shows about a charge point, as pure functions: the facts from its BootNotification
// and StatusNotifications (1.6 and 2.x shapes, bounded, client input), the recently disconnected list
// (size and age limits), the CSMS actions of each profile and the CALL form's templates. [SPEC §9]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CpFacts, MAX_CONNECTORS, MAX_FACT_LENGTH, MAX_REMEMBERED_USERNAME, NO_FACTS, noteFacts, RecentDisconnects, type EndedConnection } from '../src/session/cp-facts.js';
import { callTemplate } from '../src/api/call-templates.js';
import { PROTOCOL_NAMES, PROTOCOLS } from '../src/ocpp/protocols.js';
import { bundledSchemas, schemaKey } from '../src/validation/schema-source.js';
import { SchemaValidator } from '../src/validation/validator.js';

const T0 = Date.parse('2026-11-23T10:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

test('facts: a 1.6 BootNotification and StatusNotifications per connector (0 = the charge point)', () => {
  const f = new CpFacts();
  f.observe('BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'Rapid-50', firmwareVersion: '1.2.3', chargeBoxSerialNumber: 'BOX-1' }, T0);
  f.observe('StatusNotification', { connectorId: 2, status: 'Faulted', errorCode: 'GroundFailure', info: 'RCD tripped' }, T0 + 1);
  f.observe('StatusNotification', { connectorId: 0, status: 'Available', errorCode: 'NoError' }, T0 + 2);
  f.observe('StatusNotification', { connectorId: 2, status: 'Available', errorCode: 'NoError' }, T0 + 3);
  assert.deepEqual(f.view(), {
    vendor: 'Acme', model: 'Rapid-50', firmwareVersion: '1.2.3', serialNumber: 'BOX-1', bootReason: null, bootedAt: iso(T0),
    connectors: [
      { evseId: null, connectorId: 0, status: 'Available', errorCode: 'NoError', info: null, updatedAt: iso(T0 + 2) },
      { evseId: null, connectorId: 2, status: 'Available', errorCode: 'NoError', info: null, updatedAt: iso(T0 + 3) },
    ],
  });
});

test('facts: the 2.0.1 / 2.1 shapes (chargingStation, evseId + connectorId + connectorStatus)', () => {
  const f = new CpFacts();
  f.observe('BootNotification', { reason: 'RemoteReset', chargingStation: { vendorName: 'Volta', model: 'V2', firmwareVersion: '2.0.7', serialNumber: 'SN-9' } }, T0);
  f.observe('StatusNotification', { timestamp: iso(T0), connectorStatus: 'Occupied', evseId: 2, connectorId: 1 }, T0 + 1);
  f.observe('StatusNotification', { timestamp: iso(T0), connectorStatus: 'Available', evseId: 1, connectorId: 1 }, T0 + 2);
  f.observe('Heartbeat', {}, T0 + 3);
  const v = f.view();
  assert.deepEqual({ ...v, connectors: v.connectors.map((c) => [c.evseId, c.connectorId, c.status, c.errorCode]) }, {
    vendor: 'Volta', model: 'V2', firmwareVersion: '2.0.7', serialNumber: 'SN-9', bootReason: 'RemoteReset', bootedAt: iso(T0),
    connectors: [[1, 1, 'Available', null], [2, 1, 'Occupied', null]],
  });
  // A new boot replaces what the old one said.
  f.observe('BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'Volta', model: 'V3' } }, T0 + 4);
  assert.equal(f.view().model, 'V3');
  assert.equal(f.view().firmwareVersion, null);
  assert.equal(f.view().connectors.length, 2);
});

test('facts: client input is bounded: strings cut, wrong types and ids ignored, at most MAX_CONNECTORS connectors', () => {
  const f = new CpFacts();
  f.observe('BootNotification', { chargePointVendor: 'V'.repeat(1000), chargePointModel: 42, firmwareVersion: { nested: true } }, T0);
  assert.equal(f.view().vendor, `${'V'.repeat(MAX_FACT_LENGTH)}…`);
  assert.equal(f.view().model, null);
  assert.equal(f.view().firmwareVersion, null);
  // A cut never leaves half of a surrogate pair.
  f.observe('BootNotification', { chargePointVendor: `${'x'.repeat(MAX_FACT_LENGTH - 1)}😀😀` }, T0);
  assert.equal(f.view().vendor, `${'x'.repeat(MAX_FACT_LENGTH - 1)}…`);
  for (const bad of [{ connectorId: -1, status: 'Available' }, { connectorId: 1.5, status: 'Available' }, { connectorId: '1', status: 'Available' }, { connectorId: 1 }, { connectorId: 1, status: '' }, { connectorStatus: 'Available', evseId: -2, connectorId: 1 }]) {
    f.observe('StatusNotification', bad, T0);
  }
  assert.deepEqual(f.view().connectors, []);
  for (let i = 0; i < MAX_CONNECTORS + 10; i++) f.observe('StatusNotification', { connectorId: i, status: 'Available', errorCode: 'NoError' }, T0);
  assert.equal(f.view().connectors.length, MAX_CONNECTORS);
  f.observe('StatusNotification', { connectorId: 3, status: 'Charging', errorCode: 'NoError' }, T0 + 1);
  assert.equal(f.view().connectors.find((c) => c.connectorId === 3)?.status, 'Charging', 'a known connector still updates when the table is full');
});

test('noteFacts: made on the first BootNotification or StatusNotification CALL, not for other frames', () => {
  assert.equal(noteFacts(undefined, { type: 2, action: 'Heartbeat', payload: {} }, T0), undefined);
  assert.equal(noteFacts(undefined, { type: 3, payload: { status: 'Accepted' } }, T0), undefined);
  const made = noteFacts(undefined, { type: 2, action: 'StatusNotification', payload: { connectorId: 1, status: 'Available', errorCode: 'NoError' } }, T0);
  assert.ok(made instanceof CpFacts);
  assert.equal(noteFacts(made, { type: 2, action: 'BootNotification', payload: { chargePointVendor: 'A', chargePointModel: 'B' } }, T0), made);
  assert.equal(made.view().vendor, 'A');
});

function ended(cpId: string, facts?: CpFacts): EndedConnection {
  return { cpId, protocol: 'ocpp1.6', remoteAddress: '10.0.0.1', username: undefined, connectedAt: T0, facts };
}

test('recently disconnected: newest first, one entry per cpId, facts kept', () => {
  const recent = new RecentDisconnects({ maxEntries: 10, maxAgeMs: 60_000 });
  const f = new CpFacts();
  f.observe('BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'R' }, T0);
  recent.add(ended('A', f), 'kicked', 1000, T0 + 1000);
  recent.add(ended('B'), 'keepalive_timeout', 1001, T0 + 2000);
  recent.add(ended('A', f), 'closed_by_cp', 1005, T0 + 3000);
  const list = recent.list(T0 + 3000);
  assert.deepEqual(list.map((d) => [d.cpId, d.reason, d.code]), [['A', 'closed_by_cp', 1005], ['B', 'keepalive_timeout', 1001]]);
  assert.deepEqual(list[0], {
    cpId: 'A', protocol: 'ocpp1.6', remoteAddress: '10.0.0.1', username: null, connectedAt: iso(T0), disconnectedAt: iso(T0 + 3000), reason: 'closed_by_cp', code: 1005,
    facts: { ...NO_FACTS, vendor: 'Acme', model: 'R', bootedAt: iso(T0) },
  });
  assert.deepEqual(list[1]?.facts, NO_FACTS);
  assert.equal(recent.get('B', T0 + 3000)?.reason, 'keepalive_timeout');
});

test('recently disconnected: bounded by size (the oldest goes) and by age', () => {
  const recent = new RecentDisconnects({ maxEntries: 3, maxAgeMs: 10_000 });
  for (let i = 0; i < 5; i++) recent.add(ended(`CP${i}`), 'closed_by_cp', 1000, T0 + i * 1000);
  assert.deepEqual(recent.list(T0 + 5000).map((d) => d.cpId), ['CP4', 'CP3', 'CP2']);
  assert.equal(recent.size, 3);
  // CP2 left at T0+2000: gone after T0+12000; CP4 stays until T0+14000.
  assert.deepEqual(recent.list(T0 + 12_001).map((d) => d.cpId), ['CP4', 'CP3']);
  assert.equal(recent.get('CP3', T0 + 13_001), undefined);
  assert.deepEqual(recent.list(T0 + 14_001), []);
  assert.equal(recent.size, 0);
});

test('profiles: csmsActions are CSMS → CP actions of the version, each with a bundled request schema', () => {
  // CP-initiated messages of every version: never offered to the operator.
  const fromCp = ['Authorize', 'BootNotification', 'Heartbeat', 'MeterValues', 'StatusNotification', 'StartTransaction', 'StopTransaction', 'TransactionEvent', 'NotifyEvent', 'NotifyReport', 'SignCertificate', 'SecurityEventNotification', 'FirmwareStatusNotification', 'LogStatusNotification', 'Get15118EVCertificate', 'GetCertificateStatus', 'ReportChargingProfiles', 'NotifyPeriodicEventStream', 'OpenPeriodicEventStream', 'ClosePeriodicEventStream', 'PullDynamicScheduleUpdate', 'NotifyDERAlarm', 'ReportDERControl', 'BatterySwap', 'VatNumberValidation', 'NotifySettlement', 'NotifyPriorityCharging', 'NotifyDERStartStop', 'GetCertificateChainStatus'];
  const sizes: Record<string, number> = {};
  for (const protocol of PROTOCOL_NAMES) {
    const schemas = bundledSchemas(protocol);
    const csms = [...PROTOCOLS[protocol].csmsActions];
    sizes[protocol] = csms.length;
    for (const action of csms) assert.ok(schemas.has(schemaKey(action, 'req')), `${protocol} ${action} has a request schema`);
    assert.deepEqual(csms.filter((a) => fromCp.includes(a)), [], protocol);
    assert.ok(csms.includes('DataTransfer'), 'DataTransfer goes both ways');
  }
  assert.deepEqual(sizes, { 'ocpp2.1': 55, 'ocpp2.0.1': 40, 'ocpp1.6': 26 });
  assert.ok(!PROTOCOLS['ocpp1.6'].csmsActions.has('RequestStartTransaction') && PROTOCOLS['ocpp2.0.1'].csmsActions.has('RequestStartTransaction'));
  assert.ok(!PROTOCOLS['ocpp2.0.1'].csmsActions.has('SetDERControl') && PROTOCOLS['ocpp2.1'].csmsActions.has('SetDERControl'));
});

test('CALL templates: every CSMS action of every version gets its required fields, valid against its schema', () => {
  const now = new Date(T0);
  for (const protocol of PROTOCOL_NAMES) {
    const schemas = bundledSchemas(protocol);
    const validator = new SchemaValidator(PROTOCOLS[protocol], schemas);
    for (const action of PROTOCOLS[protocol].csmsActions) {
      const template = callTemplate(schemas.get(schemaKey(action, 'req')) ?? {}, now);
      assert.deepEqual(validator.validate(action, 'req', template), { ok: true }, `${protocol} ${action}: ${JSON.stringify(template)}`);
    }
  }
  const v16 = bundledSchemas('ocpp1.6');
  const v201 = bundledSchemas('ocpp2.0.1');
  // First enum value, property names as text (cut to maxLength), minItems items, $ref followed, optional fields left out.
  assert.deepEqual(callTemplate(v16.get('TriggerMessage.req') ?? {}, now), { requestedMessage: 'BootNotification' });
  assert.deepEqual(callTemplate(v16.get('RemoteStartTransaction.req') ?? {}, now), { idTag: 'idTag' });
  assert.deepEqual(callTemplate(v16.get('ReserveNow.req') ?? {}, now), { connectorId: 0, expiryDate: iso(T0), idTag: 'idTag', reservationId: 0 });
  assert.deepEqual(callTemplate(v201.get('GetVariables.req') ?? {}, now), { getVariableData: [{ component: { name: 'name' }, variable: { name: 'name' } }] });
  assert.deepEqual(callTemplate(v201.get('ClearCache.req') ?? {}, now), {});
  // A schema that refers to itself stops instead of recursing forever.
  const loop = { type: 'object', required: ['next'], properties: { next: { $ref: '#' } } };
  assert.ok(JSON.stringify(callTemplate(loop, now)).length < 1000);
});

test('[SPEC §9] a disconnected CP\'s Basic username is remembered cut to 256 characters (without auth it is whatever the client sent)', () => {
  const recent = new RecentDisconnects({ maxEntries: 10, maxAgeMs: 60_000 });
  recent.add({ ...ended('LONG'), username: 'u'.repeat(16_000) }, 'closed_by_cp', 1000, T0 + 1000);
  recent.add({ ...ended('SHORT'), username: 'CP-short' }, 'closed_by_cp', 1000, T0 + 1000);
  const [short, long] = recent.list(T0 + 1000);
  assert.equal(short?.username, 'CP-short');
  assert.equal(long?.username?.length, MAX_REMEMBERED_USERNAME);
  assert.ok(long?.username?.endsWith('…'));
});
