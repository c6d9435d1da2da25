// The embedded broker carries every charge point's downstream messages on one wildcard subscription
// (docs/topics.md, "Downstream delivery"): what a service sees must be what per-CP subscriptions gave,
// and a message for a charge point that is not connected is answered, not dropped. [SPEC §4] [SPEC §5]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chargePoint, Service, startTestGateway, within } from './support/harness.js';

const T = { timeout: 30_000 };

test('[SPEC §4] [SPEC §5] embedded: a service CALL for a charge point that never connected gets not_connected on up/error', T, async (t) => {
  const { mqttUrl } = await startTestGateway(t);
  const svc = await Service.connect(t, mqttUrl, ['ocpp/#']);
  await svc.publish('ocpp/NEVER1/dn/request/Reset/n1', { type: 'Soft' });
  const error = await svc.waitFor('ocpp/NEVER1/up/error/Reset/n1');
  assert.equal((error.json as { errorDetails: { gateway: { reason: string } } }).errorDetails.gateway.reason, 'not_connected');
  // A CALLRESULT for it too: every kind gets its error. [SPEC §5]
  await svc.publish('ocpp/NEVER1/dn/response/Heartbeat/n2', { currentTime: new Date().toISOString() });
  const answer = await svc.waitFor('ocpp/NEVER1/up/error/Heartbeat/n2');
  assert.equal((answer.json as { errorDetails: { gateway: { reason: string } } }).errorDetails.gateway.reason, 'not_connected');
});

test('[SPEC §4] embedded: downstream reaches each connected charge point and no other; an MQTT observer still sees the dn topic; other topics are not answered', T, async (t) => {
  const { ocppUrl, mqttUrl } = await startTestGateway(t);
  const svc = await Service.connect(t, mqttUrl, ['ocpp/#']);
  const observer = await Service.connect(t, mqttUrl, ['ocpp/+/dn/#']);
  const resets: string[] = [];
  const a = await chargePoint(t, ocppUrl, 'CPA');
  const b = await chargePoint(t, ocppUrl, 'CPB');
  a.handle('Reset', async () => { resets.push('CPA'); return { status: 'Accepted' }; });
  b.handle('Reset', async () => { resets.push('CPB'); return { status: 'Rejected' }; });
  await svc.waitFor('ocpp/CPB/event/connected');
  await svc.publish('ocpp/CPB/dn/request/Reset/r1', { type: 'Hard' });
  assert.deepEqual((await svc.waitFor('ocpp/CPB/up/response/Reset/r1')).json, { status: 'Rejected' });
  await svc.publish('ocpp/CPA/dn/request/Reset/r2', { type: 'Soft' });
  assert.deepEqual((await svc.waitFor('ocpp/CPA/up/response/Reset/r2')).json, { status: 'Accepted' });
  assert.deepEqual(resets, ['CPB', 'CPA']);
  assert.ok(await within(observer.waitFor('ocpp/CPB/dn/request/Reset/r1'), 'the observer sees the dn message'));
  // A topic that is not a downstream topic (one level short, or an unknown type) is no business of the gateway's.
  await svc.publish('ocpp/CPA/dn/request/Reset', { type: 'Soft' });
  await svc.publish('ocpp/CPA/dn/bogus/Reset/r3', { type: 'Soft' });
  // A later round trip shows nothing was answered or delivered for them.
  await svc.publish('ocpp/CPA/dn/request/Reset/r4', { type: 'Soft' });
  await svc.waitFor('ocpp/CPA/up/response/Reset/r4');
  assert.deepEqual(svc.topics('ocpp/CPA/up/').sort(), ['ocpp/CPA/up/response/Reset/r2', 'ocpp/CPA/up/response/Reset/r4']);
  assert.deepEqual(resets, ['CPB', 'CPA', 'CPA']);
});
