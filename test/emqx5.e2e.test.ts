// topics.preset = emqx5: the EMQX 5 OCPP gateway's topics and envelopes, for users migrating; with the
// embedded broker and with per_client links to Mosquitto (whose subscription is the preset's cs/{cid}).
// [SPEC §4, §7]
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chargePoint, rawSocket, Service, startTestGateway, type TestGateway } from './support/harness.js';
import { startMosquitto } from './support/brokers.js';

const T = { timeout: 15_000 };

const VARIANTS: Array<[string, (t: TestContext) => Promise<TestGateway>]> = [
  ['embedded', (t) => startTestGateway(t, { 'topics.preset': 'emqx5' })],
  ['mosquitto per_client', async (t) => {
    const broker = await startMosquitto(t);
    const gw = await startTestGateway(t, { 'topics.preset': 'emqx5', 'mqtt.url': broker.url, 'mqtt.client_mode': 'per_client' });
    return { ...gw, mqttUrl: broker.url };
  }],
];

for (const [variant, setup] of VARIANTS) {

  test(`[SPEC §4] emqx5 preset (${variant}): CALL on cp/{cid}, answer on cs/{cid}, service CALL and CP reply on cp/{cid}/Reply`, T, async (t) => {
    const { ocppUrl, mqttUrl } = await setup(t);
    const svc = await Service.connect(t, mqttUrl, ['ocpp/cp/#']);
    svc.client.on('message', (topic, payload) => {
      const e = JSON.parse(payload.toString()) as { MessageTypeId: number; UniqueId: string; Action: string };
      if (topic === 'ocpp/cp/CP1' && e.Action === 'BootNotification') {
        void svc.publish('ocpp/cs/CP1', { MessageTypeId: 3, UniqueId: e.UniqueId, Action: 'BootNotification', Payload: { status: 'Accepted', currentTime: '2026-11-23T10:00:00Z', interval: 60 } });
      }
    });
    const cp = await chargePoint(t, ocppUrl, 'CP1');
    cp.handle('Reset', async () => ({ status: 'Accepted' }));
    assert.deepEqual(await cp.call('BootNotification', { chargePointVendor: 'A', chargePointModel: 'B' }), { status: 'Accepted', currentTime: '2026-11-23T10:00:00Z', interval: 60 });
    const call = await svc.waitFor('ocpp/cp/CP1');
    const env = call.json as { MessageTypeId: number; UniqueId: string; Action: string; Payload: unknown };
    assert.equal(env.MessageTypeId, 2);
    assert.equal(env.Action, 'BootNotification');
    assert.deepEqual(env.Payload, { chargePointVendor: 'A', chargePointModel: 'B' });

    await svc.publish('ocpp/cs/CP1', { MessageTypeId: 2, UniqueId: 'r1', Action: 'Reset', Payload: { type: 'Soft' } });
    const reply = await svc.waitFor((m) => m.topic === 'ocpp/cp/CP1/Reply' && (m.json as { UniqueId: string }).UniqueId === 'r1');
    assert.deepEqual(reply.json, { MessageTypeId: 3, UniqueId: 'r1', Action: 'Reset', Payload: { status: 'Accepted' } });
  });

  test(`[SPEC §4] emqx5 preset (${variant}): gateway errors are CALLERROR envelopes on the reply topic; bad envelopes are reported`, T, async (t) => {
    const { ocppUrl, mqttUrl } = await setup(t);
    const svc = await Service.connect(t, mqttUrl, ['ocpp/cp/#']);
    const raw = await rawSocket(t, `${ocppUrl}/CP1`);
    await svc.publish('ocpp/cs/CP1', { MessageTypeId: 2, UniqueId: 'bad1', Action: 'Reset', Payload: { type: 'Warm' } });
    const invalid = await svc.waitFor((m) => m.topic === 'ocpp/cp/CP1/Reply' && (m.json as { UniqueId: string }).UniqueId === 'bad1');
    const e = invalid.json as { MessageTypeId: number; ErrorCode: string; ErrorDetails: { gateway: { reason: string } } };
    assert.equal(e.MessageTypeId, 4);
    assert.equal(e.ErrorCode, 'PropertyConstraintViolation');
    assert.equal(e.ErrorDetails.gateway.reason, 'invalid_payload');
    await svc.publish('ocpp/cs/CP1', { MessageTypeId: 9, UniqueId: 'bad2' });
    const bad = await svc.waitFor((m) => m.topic === 'ocpp/cp/CP1/Reply' && (m.json as { UniqueId: string }).UniqueId === 'bad2');
    assert.equal((bad.json as { ErrorDetails: { gateway: { reason: string } } }).ErrorDetails.gateway.reason, 'invalid_payload');
    // The CP got nothing but the one valid CALL that follows.
    await svc.publish('ocpp/cs/CP1', { MessageTypeId: 2, UniqueId: 'ok', Action: 'Reset', Payload: { type: 'Hard' } });
    assert.deepEqual(await raw.next(), [2, 'ok', 'Reset', { type: 'Hard' }]);
    raw.send(JSON.stringify([4, 'ok', 'NotSupported', 'no', {}]));
    const cpError = await svc.waitFor((m) => m.topic === 'ocpp/cp/CP1/Reply' && (m.json as { UniqueId: string }).UniqueId === 'ok');
    assert.deepEqual(cpError.json, { MessageTypeId: 4, UniqueId: 'ok', Action: 'Reset', ErrorCode: 'NotSupported', ErrorDescription: 'no', ErrorDetails: {} });
  });
}
