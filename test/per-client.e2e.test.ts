// mqtt.client_mode = per_client against a real Mosquitto: the broker's own authentication decides the
// upgrade, the broker lists each charge point as a client, the will marks it offline when the gateway
// dies, a persistent session keeps CALLs for an offline charge point, and two instances hand a
// charge point over through the broker's client-id takeover. [SPEC §7, §8]
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { basic, chargePoint, rawSocket, Service, startTestGateway, upgradeStatus } from './support/harness.js';
import { startMosquitto } from './support/brokers.js';
import { startProcess } from './support/process.js';
import { hashPassword } from '../src/auth/password-hash.js';
import { defer } from './support/cleanup.js';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { Bridge } from '../src/bridge/bridge.js';
import { ExternalBroker } from '../src/bridge/external-broker.js';
import { TopicFormat } from '../src/bridge/message-format.js';
import { TopicLayout } from '../src/bridge/topics.js';
import { Metrics } from '../src/obs/metrics.js';
import { Registry } from '../src/session/registry.js';
import type { Connection } from '../src/transport/connection.js';

const T = { timeout: 30_000 };
const GATEWAY = { username: 'gateway', password: 'gw-secret' };
const SERVICE = { username: 'service', password: 'svc-secret' };

/** Mosquitto with a password file and ACLs: each charge point may use only ocpp/<its client id>/#. */
async function securedMosquitto(t: TestContext, users: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'ocpp-gw-auth-'));
  defer(t, () => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755); // Mosquitto started as root reads these as the mosquitto user
  const passwd = join(dir, 'passwd');
  writeFileSync(passwd, '');
  for (const [user, password] of Object.entries(users)) execFileSync('mosquitto_passwd', ['-b', passwd, user, password]);
  chmodSync(passwd, 0o644);
  const acl = join(dir, 'acl');
  writeFileSync(acl, `user ${GATEWAY.username}\ntopic readwrite ocpp/#\n\nuser ${SERVICE.username}\ntopic readwrite ocpp/#\ntopic read $SYS/#\n\npattern readwrite ocpp/%c/#\n`);
  chmodSync(acl, 0o644);
  return startMosquitto(t, `allow_anonymous false\npassword_file ${passwd}\nacl_file ${acl}\nsys_interval 1\n`);
}

const perClient = (url: string, extra: Record<string, unknown> = {}) => ({
  'mqtt.url': url, 'mqtt.client_mode': 'per_client', 'mqtt.username': GATEWAY.username, 'mqtt.password': GATEWAY.password,
  'auth.provider': 'broker', 'ocpp.security_profile': 1, ...extra,
});

for (const version of ['3.1.1', '5'] as const) {
  test(`[SPEC §7, §8] per_client MQTT ${version}: Mosquitto's password file admits CP1, refuses a wrong password with 401; the broker lists CP1 as a client`, T, async (t) => {
    const broker = await securedMosquitto(t, { [GATEWAY.username]: GATEWAY.password, [SERVICE.username]: SERVICE.password, CP1: 'cp1-secret', CP2: 'cp2-secret' });
    const { ocppUrl, gw } = await startTestGateway(t, perClient(broker.url, { 'mqtt.protocol_version': version }));
    const svc = await Service.connect(t, broker.url, ['ocpp/#'], SERVICE);

    const wrong = await upgradeStatus(`${ocppUrl}/CP2`, ['ocpp1.6'], { authorization: basic('CP2', 'not-it') });
    assert.deepEqual(wrong, { status: 401, reason: 'unauthorized' });
    const rejected = await svc.waitFor('ocpp/CP2/event/rejected');
    assert.match((rejected.json as { detail: string }).detail, /broker refused the connection of CP2: (bad user name or password|Bad User Name or Password|Not authorized)/i);

    const cp = await chargePoint(t, ocppUrl, 'CP1', { password: 'cp1-secret' });
    // The broker's own client list (its connection log): client id CP1, user CP1, the MQTT version asked for.
    await broker.logged(`as CP1 (p${version === '5' ? 5 : 2}, c1, k60, u'CP1')`);
    await svc.waitFor('ocpp/CP1/event/connected');
    svc.client.on('message', (topic) => {
      const m = /^ocpp\/CP1\/up\/request\/Heartbeat\/(.+)$/.exec(topic);
      if (m) void svc.publish(`ocpp/CP1/dn/response/Heartbeat/${m[1]}`, { currentTime: '2026-11-23T10:00:00.000Z' });
    });
    // The CP's traffic goes through its own link, under the broker's ACL for client id CP1.
    assert.deepEqual(await cp.call('Heartbeat', {}), { currentTime: '2026-11-23T10:00:00.000Z' });
    const links = await gw.metrics.registry.getSingleMetric('ocpp_gateway_broker_links')?.get();
    assert.equal(links?.values[0]?.value, 1, 'one link: CP1 (CP2 was refused)');
  });

  test(`[SPEC §7] per_client MQTT ${version}: with a persistent session a CALL published while CP1 is offline arrives when it returns; without, it does not`, T, async (t) => {
    const broker = await startMosquitto(t);
    for (const persistent of [true, false]) {
      const { ocppUrl } = await startTestGateway(t, { 'mqtt.url': broker.url, 'mqtt.client_mode': 'per_client', 'mqtt.protocol_version': version, 'mqtt.per_client.persistent_session': persistent });
      const svc = await Service.connect(t, broker.url);
      const cpId = persistent ? 'CP-P' : 'CP-C';
      const first = await rawSocket(t, `${ocppUrl}/${cpId}`);
      await svc.waitFor(`ocpp/${cpId}/event/connected`);
      first.ws.close();
      await svc.waitFor(`ocpp/${cpId}/event/disconnected`);
      await svc.publish(`ocpp/${cpId}/dn/request/Reset/while-offline`, { type: 'Soft' });
      const seen: unknown[] = [];
      const from = svc.received.length;
      await chargePoint(t, ocppUrl, cpId, {}, (cp) => cp.handle('Reset', async ({ params }) => {
        seen.push(params);
        return { status: 'Accepted' };
      }));
      await svc.waitFor((m) => m.topic === `ocpp/${cpId}/event/connected`, from);
      await svc.publish(`ocpp/${cpId}/dn/request/Reset/after`, { type: 'Hard' });
      await svc.waitFor(`ocpp/${cpId}/up/response/Reset/after`);
      const answered = svc.received.filter((m) => m.topic.startsWith(`ocpp/${cpId}/up/response/Reset/`)).map((m) => m.topic.split('/').at(-1));
      if (persistent) {
        assert.deepEqual(answered, ['while-offline', 'after']);
        assert.deepEqual(seen, [{ type: 'Soft' }, { type: 'Hard' }]);
      } else {
        assert.deepEqual(answered, ['after'], 'a clean session keeps nothing for an offline charge point');
        assert.deepEqual(seen, [{ type: 'Hard' }]);
      }
    }
  });
}

test('[SPEC §7] per_client: the gateway dies (SIGKILL) -> the broker publishes each charge point\'s will: presence offline', T, async (t) => {
  const broker = await startMosquitto(t);
  const svc = await Service.connect(t, broker.url, ['ocpp/+/status']);
  const gw = await startProcess(t, ['--mqtt-url', broker.url, '--set', 'mqtt.client_mode=per_client']);
  await chargePoint(t, `ws://127.0.0.1:${gw.ports.ocpp}/ocpp`, 'CP1');
  const online = await svc.waitFor((m) => m.topic === 'ocpp/CP1/status' && (m.json as { online: boolean }).online);
  assert.equal((online.json as { protocol: string }).protocol, 'ocpp1.6');
  gw.child.kill('SIGKILL');
  const will = await svc.waitFor((m) => m.topic === 'ocpp/CP1/status' && !(m.json as { online: boolean }).online);
  assert.deepEqual(will.json, { online: false, protocol: 'ocpp1.6', since: null });
  // Retained: a service that subscribes later sees the charge point offline.
  const late = await Service.connect(t, broker.url, ['ocpp/CP1/status']);
  const retained = await late.waitFor('ocpp/CP1/status');
  assert.equal(retained.retain, true);
  assert.deepEqual(retained.json, { online: false, protocol: 'ocpp1.6', since: null });
});

for (const version of ['3.1.1', '5'] as const) {
  test(`[SPEC §7] per_client MQTT ${version}: two instances; CP1 moves from A to B through the broker's client-id takeover; A closes its socket; downstream reaches CP1 on B exactly once`, T, async (t) => {
    const broker = await startMosquitto(t);
    const settings = { 'mqtt.url': broker.url, 'mqtt.client_mode': 'per_client', 'mqtt.protocol_version': version };
    const a = await startTestGateway(t, settings);
    const b = await startTestGateway(t, settings);
    const svc = await Service.connect(t, broker.url);
    const onA = await rawSocket(t, `${a.ocppUrl}/CP1`);
    await svc.waitFor('ocpp/CP1/event/connected');
    const from = svc.received.length;
    const onB = await chargePoint(t, b.ocppUrl, 'CP1');
    const resets: unknown[] = [];
    onB.handle('Reset', async ({ params }) => {
      resets.push(params);
      return { status: 'Accepted' };
    });
    const closed = await onA.closed;
    // A broker that names the takeover (MQTT 5 DISCONNECT 0x8E) gives `replaced`; one that just drops
    // the link (MQTT 3.1.1; Mosquitto 2.0 also over 5) gives `broker_disconnected`: the CP reconnects.
    const expected = [{ code: 1000, reason: 'replaced' }, { code: 1013, reason: 'broker_disconnected' }];
    assert.ok(expected.some((e) => e.code === closed.code && e.reason === closed.reason), JSON.stringify(closed));
    assert.equal(a.gw.registry.size, 0);
    await svc.waitFor((m) => m.topic === 'ocpp/CP1/event/connected', from);
    await svc.publish('ocpp/CP1/dn/request/Reset/r1', { type: 'Soft' });
    await svc.waitFor('ocpp/CP1/up/response/Reset/r1');
    assert.deepEqual(resets, [{ type: 'Soft' }]);
    // Exactly once: a later round trip shows nothing else came for r1 (no second delivery, no not_connected).
    await svc.publish('ocpp/CP1/dn/request/Reset/r2', { type: 'Hard' });
    await svc.waitFor('ocpp/CP1/up/response/Reset/r2');
    assert.equal(svc.received.filter((m) => m.topic.includes('/Reset/r1')).length, 2, 'the request and one response');
    assert.deepEqual(resets, [{ type: 'Soft' }, { type: 'Hard' }]);
    // The retained presence ends online: A's teardown (and its link's will, if the broker sent it) came before B's online.
    const last = svc.received.filter((m) => m.topic === 'ocpp/CP1/status').at(-1);
    assert.equal((last?.json as { online: boolean }).online, true);
  });
}

test('[SPEC §7] config: per_client needs mqtt.url; auth.provider broker needs per_client', T, async () => {
  const { loadConfig } = await import('../src/config/load.js');
  const a = loadConfig({ overrides: [['mqtt.client_mode', 'per_client']] });
  assert.equal(a.ok, false);
  assert.match(a.ok ? '' : a.errors.join('\n'), /mqtt\.client_mode: per_client needs an external broker \(set mqtt\.url\)/);
  const b = loadConfig({ overrides: [['auth.provider', 'broker']] });
  assert.match(b.ok ? '' : b.errors.join('\n'), /auth\.provider: broker requires mqtt\.client_mode per_client/);
});

test('[SPEC §7] per_client: a persistent session\'s backlog that reached a link whose upgrade then failed is answered not_connected, not dropped', T, async (t) => {
  const broker = await startMosquitto(t);
  const svc = await Service.connect(t, broker.url, ['ocpp/+/up/error/#']);
  // The charge point's session, with its subscription, left on the broker; a CALL waits in it.
  const first = await mqtt.connectAsync(broker.url, { clientId: 'CP-U', clean: false, reconnectPeriod: 0 });
  await first.subscribeAsync('ocpp/CP-U/dn/+/+/+', { qos: 1 });
  await first.endAsync();
  await svc.publish('ocpp/CP-U/dn/request/Reset/lost-1', { type: 'Soft' });
  // The bridge makes the link (the backlog arrives right after CONNACK, before SUBACK) and the upgrade
  // is abandoned before a connection is bound to it.
  const endpoint = { url: broker.url, qos: 1 as const, keepaliveMs: 60_000, protocolVersion: 4 as const, tls: { rejectUnauthorized: true } };
  const control = await ExternalBroker.start({ ...endpoint, clientId: '', username: '', password: '', reconnectPeriodMs: 100, reconnectMaxMs: 1000, reconnectJitter: 0, connectTimeoutMs: 5000 });
  defer(t, () => control.close());
  const layout = TopicLayout.create('ocpp/', { up: '${cpId}/up/${type}/${action}/${messageId}', dn: '${cpId}/dn/${type}/${action}/${messageId}', event: '${cpId}/event/${event}', status: '${cpId}/status' }) as TopicLayout;
  const registry = new Registry<Connection>();
  const metrics = new Metrics({ connections: () => 0, pending: () => ({ upstream: 0, downstream: 0, queued: 0 }), brokerConnected: () => true, brokerLinks: () => 0 });
  const bridge = new Bridge(control, layout, new TopicFormat(layout), registry, pino({ level: 'silent' }), metrics, 'reject', { endpoint, persistent: true, sessionExpirySeconds: 60, timeoutMs: 5000 });
  const attachment = await bridge.attach('CP-U', 'ocpp1.6', {});
  attachment.release();
  const error = await svc.waitFor('ocpp/CP-U/up/error/Reset/lost-1');
  assert.equal((error.json as { errorDetails: { gateway: { reason: string } } }).errorDetails.gateway.reason, 'not_connected');
  await bridge.drained();
});

test('[SPEC §7, §8] per_client with auth.provider file: the gateway checks first, then the broker; both must agree', T, async (t) => {
  // The file knows CP1 and CP2; the broker knows CP1 and CP3.
  const broker = await securedMosquitto(t, { [GATEWAY.username]: GATEWAY.password, [SERVICE.username]: SERVICE.password, CP1: 'pw-1', CP3: 'pw-3' });
  const dir = mkdtempSync(join(tmpdir(), 'ocpp-gw-creds-'));
  defer(t, () => rmSync(dir, { recursive: true, force: true }));
  const creds = join(dir, 'creds.yaml');
  writeFileSync(creds, `CP1: "${await hashPassword(Buffer.from('pw-1'))}"\nCP2: "${await hashPassword(Buffer.from('pw-2'))}"\n`);
  const { ocppUrl, gw } = await startTestGateway(t, perClient(broker.url, { 'auth.provider': 'file', 'auth.file': creds }));
  const svc = await Service.connect(t, broker.url, ['ocpp/+/event/rejected'], SERVICE);
  const refusedBy = async (cpId: string, password: string) => {
    assert.deepEqual(await upgradeStatus(`${ocppUrl}/${cpId}`, ['ocpp1.6'], { authorization: basic(cpId, password) }), { status: 401, reason: 'unauthorized' });
    return (await svc.waitFor(`ocpp/${cpId}/event/rejected`)).json as { detail: string };
  };
  assert.equal((await refusedBy('CP3', 'pw-3')).detail, 'unknown charge point id', 'the file refuses CP3 before any broker link');
  assert.match((await refusedBy('CP2', 'pw-2')).detail, /broker refused the connection of CP2/, 'the file accepts CP2, the broker does not');
  await chargePoint(t, ocppUrl, 'CP1', { password: 'pw-1' });
  const links = await gw.metrics.registry.getSingleMetric('ocpp_gateway_broker_links')?.get();
  assert.equal(links?.values[0]?.value, 1);
});
