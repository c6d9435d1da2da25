// The gateway with --mqtt-url: an external Mosquitto started by the test. (The full matrix of brokers
// and client modes is the scale-out work; this proves the external path end to end.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chargePoint, Service, startTestGateway } from './support/harness.js';
import { startMosquitto } from './support/brokers.js';

test('[SPEC §7] external Mosquitto: boot round trip, service CALL, presence; no embedded broker', { timeout: 20_000 }, async (t) => {
  const mosq = await startMosquitto(t);
  const { gw, ocppUrl, apiUrl } = await startTestGateway(t, { 'mqtt.url': mosq.url });
  assert.equal(gw.addresses.mqtt, undefined, 'the embedded broker does not start');
  const svc = await Service.connect(t, mosq.url);
  svc.client.on('message', (topic) => {
    const m = /^ocpp\/CP1\/up\/request\/BootNotification\/(.+)$/.exec(topic);
    if (m) void svc.publish(`ocpp/CP1/dn/response/BootNotification/${m[1]}`, { status: 'Accepted', currentTime: '2026-11-23T10:00:00.000Z', interval: 60 });
  });
  const cp = await chargePoint(t, ocppUrl, 'CP1');
  cp.handle('Reset', async () => ({ status: 'Accepted' }));
  assert.equal(((await cp.call('BootNotification', { chargePointVendor: 'A', chargePointModel: 'B' })) as { status: string }).status, 'Accepted');
  await svc.publish('ocpp/CP1/dn/request/Reset/r1', { type: 'Hard' });
  assert.deepEqual((await svc.waitFor('ocpp/CP1/up/response/Reset/r1')).json, { status: 'Accepted' });
  const online = await svc.waitFor('ocpp/CP1/status');
  assert.equal((online.json as { online: boolean }).online, true);
  assert.equal((await fetch(`${apiUrl}/readyz`)).status, 200);
});

test('[SPEC §2] shutdown completes when the external broker is already gone', { timeout: 20_000 }, async (t) => {
  const mosq = await startMosquitto(t);
  const { gw, ocppUrl } = await startTestGateway(t, { 'mqtt.url': mosq.url, shutdown_timeout: '1s' });
  const cp = await chargePoint(t, ocppUrl, 'CP1');
  const closed = new Promise<number>((resolve) => cp.once('close', (e: { code: number }) => resolve(e.code)));
  mosq.stop();
  await gw.close();
  assert.equal(await closed, 1001);
});
