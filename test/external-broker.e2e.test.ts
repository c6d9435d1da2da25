// The gateway with --mqtt-url: an external Mosquitto started by the test. (The full matrix of brokers
// and client modes is the scale-out work; this proves the external path end to end.)
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chargePoint, Service, startTestGateway, until, upgradeStatus } from './support/harness.js';
import { startMosquitto } from './support/brokers.js';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema, type Config } from '../src/config/schema.js';
import { startupProblems } from '../src/config/startup-checks.js';


/** CP1 boots (the service accepts it) and answers a service Reset: the external path both ways. */
async function bootAndReset(t: TestContext, svc: Service, ocppUrl: string): Promise<void> {
  svc.client.on('message', (topic) => {
    const m = /^ocpp\/CP1\/up\/request\/BootNotification\/(.+)$/.exec(topic);
    if (m) void svc.publish(`ocpp/CP1/dn/response/BootNotification/${m[1]}`, { status: 'Accepted', currentTime: '2026-11-23T10:00:00.000Z', interval: 60 });
  });
  const cp = await chargePoint(t, ocppUrl, 'CP1');
  cp.handle('Reset', async () => ({ status: 'Accepted' }));
  assert.equal(((await cp.call('BootNotification', { chargePointVendor: 'A', chargePointModel: 'B' })) as { status: string }).status, 'Accepted');
  await svc.publish('ocpp/CP1/dn/request/Reset/r1', { type: 'Hard' });
  assert.deepEqual((await svc.waitFor('ocpp/CP1/up/response/Reset/r1')).json, { status: 'Accepted' });
}

test('[SPEC §7] external Mosquitto: boot round trip, service CALL, presence; no embedded broker', { timeout: 20_000 }, async (t) => {
  const mosq = await startMosquitto(t);
  const { gw, ocppUrl, apiUrl } = await startTestGateway(t, { 'mqtt.url': mosq.url });
  assert.equal(gw.addresses.mqtt, undefined, 'the embedded broker does not start');
  const svc = await Service.connect(t, mosq.url);
  await bootAndReset(t, svc, ocppUrl);
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

test('[SPEC §7] MQTT 5: publishes about a charge point carry user properties cpId, action, protocol', { timeout: 20_000 }, async (t) => {
  const mosq = await startMosquitto(t);
  const { ocppUrl } = await startTestGateway(t, { 'mqtt.url': mosq.url, 'mqtt.protocol_version': '5' });
  const svc = await Service.connect(t, mosq.url, ['ocpp/+/up/#'], { protocolVersion: 5 });
  const props = new Promise<unknown>((resolve) => svc.client.on('message', (topic, _p, packet) => { if (topic.startsWith('ocpp/CP1/up/request/')) resolve(packet.properties?.userProperties); }));
  const cp = await chargePoint(t, ocppUrl, 'CP1', { callTimeoutMs: 500 });
  void cp.call('Heartbeat', {}).catch(() => undefined);
  assert.deepEqual({ ...(await props as object) }, { cpId: 'CP1', action: 'Heartbeat', protocol: 'ocpp1.6' });
});

test('[SPEC §5, §7] broker outage: not ready, new CPs 503, CALLs refused with broker_unavailable; after the restart subscriptions are back', { timeout: 30_000 }, async (t) => {
  const mosq = await startMosquitto(t);
  const { gw, ocppUrl } = await startTestGateway(t, { 'mqtt.url': mosq.url, 'mqtt.reconnect_period': '100ms', 'mqtt.reconnect_max': '200ms' });
  const cp = await chargePoint(t, ocppUrl, 'CP1');
  cp.handle('Reset', async () => ({ status: 'Accepted' }));
  mosq.stop();
  await gw.brokerState(false);
  assert.equal((await gw.api?.inject('/readyz'))?.statusCode, 503);
  assert.deepEqual((await gw.api?.inject('/readyz'))?.json(), { status: 'not_ready', checks: { ocpp_listener: true, broker: false } });
  assert.deepEqual(await upgradeStatus(`${ocppUrl}/CP2`, ['ocpp1.6']), { status: 503, reason: 'not_ready' });
  await assert.rejects(cp.call('Heartbeat', {}), (err: Error & { rpcErrorCode?: string; details?: { gateway?: { reason?: string } } }) => {
    assert.equal(err.rpcErrorCode, 'InternalError');
    assert.equal(err.details?.gateway?.reason, 'broker_unavailable');
    return true;
  });
  // The broker comes back on the same port: the gateway reconnects and restores CP1's subscription.
  const again = await startMosquitto(t, '', mosq.port);
  await gw.brokerState(true);
  assert.equal((await gw.api?.inject('/readyz'))?.statusCode, 200);
  const svc = await Service.connect(t, again.url);
  await svc.publish('ocpp/CP1/dn/request/Reset/after-restart', { type: 'Soft' });
  assert.deepEqual((await svc.waitFor('ocpp/CP1/up/response/Reset/after-restart')).json, { status: 'Accepted' });
});

test('[SPEC §7] an external broker that refuses the connection stops the start with one line', { timeout: 20_000 }, async (t) => {
  const mosq = await startMosquitto(t, 'allow_anonymous false\n');
  await assert.rejects(startTestGateway(t, { 'mqtt.url': mosq.url }), /refused the connection/);
});

test('[SPEC §7] two instances on one broker: CP1 moves from A to B; A closes its socket; downstream reaches CP1 on B exactly once', { timeout: 30_000 }, async (t) => {
  const mosq = await startMosquitto(t);
  const a = await startTestGateway(t, { 'mqtt.url': mosq.url });
  const b = await startTestGateway(t, { 'mqtt.url': mosq.url });
  const svc = await Service.connect(t, mosq.url);
  const onA = await chargePoint(t, a.ocppUrl, 'CP1');
  await svc.waitFor((m) => m.topic === 'ocpp/CP1/status' && (m.json as { online: boolean }).online);
  const aClosed = new Promise<{ code: number; reason: string }>((resolve) => onA.once('close', (e: { code: number; reason: Buffer | string }) => resolve({ code: e.code, reason: String(e.reason) })));
  const onB = await chargePoint(t, b.ocppUrl, 'CP1');
  const calls: string[] = [];
  onB.handle('DataTransfer', async ({ messageId }) => {
    calls.push(String(messageId));
    return { status: 'Accepted' };
  });
  assert.deepEqual(await aClosed, { code: 1000, reason: 'replaced' });
  await until(() => a.gw.registry.size === 0, 'instance A to close its charge point');
  for (const id of ['m1', 'm2', 'm3']) await svc.publish(`ocpp/CP1/dn/request/DataTransfer/${id}`, { vendorId: 'x' });
  for (const id of ['m1', 'm2', 'm3']) await svc.waitFor(`ocpp/CP1/up/response/DataTransfer/${id}`);
  // A barrier through B: once this answer is back, any duplicate of m1..m3 would have arrived too.
  await svc.publish('ocpp/CP1/dn/request/DataTransfer/barrier', { vendorId: 'x' });
  await svc.waitFor('ocpp/CP1/up/response/DataTransfer/barrier');
  assert.deepEqual(calls, ['m1', 'm2', 'm3', 'barrier']);
  assert.deepEqual(svc.topics('ocpp/CP1/up/').filter((x) => !x.includes('/response/')), [], 'no gateway errors (not_connected) from A');
  const presence = svc.received.filter((m) => m.topic === 'ocpp/CP1/status').map((m) => (m.json as { online: boolean }).online);
  assert.equal(presence.at(-1), true, 'A\'s teardown did not mark CP1 offline');
  const disconnected = await svc.waitFor('ocpp/CP1/event/disconnected');
  assert.equal((disconnected.json as { reason: string }).reason, 'replaced');
});

test('[SPEC §7] external Mosquitto on a unix socket (mqtt+unix:///path): boot round trip and service CALL; a host in such a URL is refused naming mqtt.url', { timeout: 20_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ocpp-gw-unix-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o777); // Mosquitto started as root drops to its own user, which creates the socket here
  const socket = join(dir, 'broker.sock');
  const mosq = await startMosquitto(t, `listener 0 ${socket}\n`);
  const url = `mqtt+unix://${socket}`;
  const { ocppUrl } = await startTestGateway(t, { 'mqtt.url': url });
  const svc = await Service.connect(t, url);
  await bootAndReset(t, svc, ocppUrl);
  assert.ok(mosq.port > 0);

  const base = configSchema.parse({});
  assert.deepEqual(await startupProblems({ ...base, mqtt: { ...base.mqtt, url } } as Config), []);
  assert.deepEqual(await startupProblems({ ...base, mqtt: { ...base.mqtt, url: 'mqtt+unix://broker/run/m.sock' } } as Config), ['mqtt.url: "mqtt+unix://broker/run/m.sock" names no socket path; write it as mqtt+unix:///path/to/socket']);
});
