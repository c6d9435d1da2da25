// Message format checking end to end: for each error code, an upstream CALL (CALLERROR to the CP,
// nothing published) and a downstream CALL (gateway error to the service, nothing sent). [SPEC §6]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rawSocket, Service, startTestGateway, type RawSocket } from './support/harness.js';

const T = { timeout: 20_000 };
const OFFICIAL_V16 = new URL('../../shared/ocpp-schemas/v16', import.meta.url).pathname;

// One payload per code: [code, action, invalid payload, failing path]
const UPSTREAM: Array<[string, string, object, string]> = [
  ['OccurenceConstraintViolation', 'BootNotification', { chargePointVendor: 'Acme' }, '/chargePointModel'],
  ['TypeConstraintViolation', 'StatusNotification', { connectorId: '1', errorCode: 'NoError', status: 'Available' }, '/connectorId'],
  ['PropertyConstraintViolation', 'Authorize', { idTag: 'X'.repeat(21) }, '/idTag'],
  ['FormationViolation', 'Heartbeat', { extra: true }, '/extra'],
  ['NotImplemented', 'NoSuchAction', {}, ''],
];
const DOWNSTREAM: Array<[string, string, object, string]> = [
  ['OccurenceConstraintViolation', 'RemoteStartTransaction', { connectorId: 1 }, '/idTag'],
  ['TypeConstraintViolation', 'ChangeAvailability', { connectorId: 'one', type: 'Operative' }, '/connectorId'],
  ['PropertyConstraintViolation', 'Reset', { type: 'Warm' }, '/type'],
  ['FormationViolation', 'ClearCache', { now: true }, '/now'],
  ['NotImplemented', 'NoSuchCommand', {}, ''],
];

interface ErrorPayload { errorCode: string; errorDescription: string; errorDetails: { gateway?: Record<string, unknown>; keyword?: string; path?: string } }

async function barrierUp(raw: RawSocket, svc: Service, id: string): Promise<void> {
  // The connection handles frames in order: once this Heartbeat is published, every earlier frame was handled.
  raw.send(JSON.stringify([2, id, 'Heartbeat', {}]));
  await svc.waitFor(`ocpp/CP1/up/request/Heartbeat/${id}`);
}

test('[SPEC §6] invalid upstream CALLs: the documented CALLERROR to the CP, nothing published, an event says why', T, async (t) => {
  const { ocppUrl, mqttUrl } = await startTestGateway(t);
  const svc = await Service.connect(t, mqttUrl);
  const raw = await rawSocket(t, `${ocppUrl}/CP1`);
  for (const [code, action, payload, path] of UPSTREAM) {
    raw.send(JSON.stringify([2, `u-${code}`, action, payload]));
    const reply = (await raw.next()) as [number, string, string, string, { path?: string }];
    assert.deepEqual([reply[0], reply[1], reply[2]], [4, `u-${code}`, code], code);
    if (path !== '') assert.ok(reply[3].startsWith(`${path}:`), `${code}: description names ${path}: ${reply[3]}`);
  }
  await barrierUp(raw, svc, 'barrier');
  assert.deepEqual(svc.topics('ocpp/CP1/up/request/'), ['ocpp/CP1/up/request/Heartbeat/barrier']);
  const events = svc.received.filter((m) => m.topic === 'ocpp/CP1/event/rejected').map((m) => m.json as { reason: string; messageId: string });
  assert.deepEqual(events.map((e) => [e.reason, e.messageId]), UPSTREAM.map(([code]) => ['validation_failed', `u-${code}`]));
});

test('[SPEC §6] invalid downstream CALLs: gateway invalid_payload error with path and reason, nothing sent', T, async (t) => {
  const { ocppUrl, mqttUrl } = await startTestGateway(t);
  const svc = await Service.connect(t, mqttUrl);
  const raw = await rawSocket(t, `${ocppUrl}/CP1`);
  await svc.waitFor('ocpp/CP1/event/connected');
  for (const [code, action, payload, path] of DOWNSTREAM) {
    await svc.publish(`ocpp/CP1/dn/request/${action}/d-${code}`, payload);
    const err = (await svc.waitFor(`ocpp/CP1/up/error/${action}/d-${code}`)).json as ErrorPayload;
    assert.equal(err.errorCode, code);
    assert.equal(err.errorDetails.gateway?.['reason'], 'invalid_payload');
    if (path !== '') assert.equal(err.errorDetails.gateway?.['path'], path);
    assert.ok(err.errorDescription.length > 0);
  }
  // A valid CALL afterwards is the first frame the CP ever sees.
  await svc.publish('ocpp/CP1/dn/request/Reset/ok', { type: 'Soft' });
  assert.deepEqual(await raw.next(), [2, 'ok', 'Reset', { type: 'Soft' }]);
});

test('[SPEC §6] an invalid CALLRESULT from the CP is not passed on as valid', T, async (t) => {
  const { ocppUrl, mqttUrl } = await startTestGateway(t);
  const svc = await Service.connect(t, mqttUrl);
  const raw = await rawSocket(t, `${ocppUrl}/CP1`);
  await svc.waitFor('ocpp/CP1/event/connected');
  await svc.publish('ocpp/CP1/dn/request/UnlockConnector/x1', { connectorId: 1 });
  await raw.next();
  raw.send(JSON.stringify([3, 'x1', { status: 'Maybe' }]));
  const err = (await svc.waitFor('ocpp/CP1/up/error/UnlockConnector/x1')).json as ErrorPayload;
  assert.equal(err.errorCode, 'PropertyConstraintViolation');
  assert.equal(err.errorDetails.gateway?.['reason'], 'invalid_response');
  assert.deepEqual(err.errorDetails.gateway?.['payload'], { status: 'Maybe' });
  assert.deepEqual(svc.topics('ocpp/CP1/up/response/'), []);
});

test('[SPEC §6] message_format_checking=disable passes an unknown action and invalid payloads through unchanged', T, async (t) => {
  const { ocppUrl, mqttUrl } = await startTestGateway(t, { message_format_checking: 'disable' });
  const svc = await Service.connect(t, mqttUrl);
  const raw = await rawSocket(t, `${ocppUrl}/CP1`);
  raw.send('[2,"z1","NoSuchAction",{"anything": [1, 2.50]}]');
  const up = await svc.waitFor('ocpp/CP1/up/request/NoSuchAction/z1');
  assert.equal(up.text, '{"anything": [1, 2.50]}');
  await svc.publish('ocpp/CP1/dn/request/Reset/z2', { type: 'Warm' });
  assert.deepEqual(await raw.next(), [2, 'z2', 'Reset', { type: 'Warm' }]);
});

test('[SPEC §6] json_schema_dir with the official OCA files gives the same verdicts in the running gateway', { ...T, skip: existsSync(OFFICIAL_V16) ? false : `official schemas not found at ${OFFICIAL_V16}` }, async (t) => {
  const { ocppUrl, mqttUrl } = await startTestGateway(t, { json_schema_dir: OFFICIAL_V16 });
  const svc = await Service.connect(t, mqttUrl);
  const raw = await rawSocket(t, `${ocppUrl}/CP1`);
  for (const [code, action, payload] of UPSTREAM) {
    raw.send(JSON.stringify([2, `o-${code}`, action, payload]));
    assert.equal(((await raw.next()) as unknown[])[2], code);
  }
  raw.send(JSON.stringify([2, 'hz', 'MeterValues', { connectorId: 1, meterValue: [{ timestamp: '2026-11-23T10:00:00Z', sampledValue: [{ value: '50', unit: 'Hertz' }] }] }]));
  await svc.waitFor('ocpp/CP1/up/request/MeterValues/hz');
});

test('[SPEC §6] a bad json_schema_dir stops the start with a message naming the key', T, async (t) => {
  await assert.rejects(startTestGateway(t, { json_schema_dir: '/nonexistent/schemas' }), /json_schema_dir: cannot read \/nonexistent\/schemas \(ENOENT\)/);
});

test('[SPEC §6] validation failures are counted per direction and code', T, async (t) => {
  const { gw, ocppUrl, mqttUrl } = await startTestGateway(t);
  const svc = await Service.connect(t, mqttUrl);
  const raw = await rawSocket(t, `${ocppUrl}/CP1`);
  raw.send(JSON.stringify([2, 'c1', 'Heartbeat', { extra: 1 }]));
  await raw.next();
  await svc.publish('ocpp/CP1/dn/request/Reset/c2', { type: 'Warm' });
  await svc.waitFor('ocpp/CP1/up/error/Reset/c2');
  assert.deepEqual((await gw.metrics.snapshot())['validation_failures_total'], { 'upstream,FormationViolation': 1, 'dnstream,PropertyConstraintViolation': 1 });
});
