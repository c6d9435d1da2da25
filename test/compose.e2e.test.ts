// The composable server (issue 16): the OCPP upgrade mounted on an HTTP server the test builds itself,
// a real ocpp-rpc charge point connecting through it and bridged to MQTT both ways; and the pipeline's
// refusals answered there as on the gateway's own listener. [SPEC §3, §4]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UPGRADE_STEPS } from '../src/transport/upgrade-pipeline.js';
import { loadConfig } from '../src/config/load.js';
import { BROKER_KINDS, brokerKindFor } from '../src/compose/brokers/index.js';
import { AUTH_PROVIDERS } from '../src/compose/auth/index.js';
import { chargePoint, Service, startTestGateway, until, upgradeStatus, within } from './support/harness.js';
import { defer } from './support/cleanup.js';

const T = { timeout: 20_000 };

/** A plain node:http server on an ephemeral loopback port, closed at the end of the test. */
async function ownServer(t: Parameters<typeof defer>[0], setup: (server: Server) => void): Promise<string> {
  const server = createServer();
  setup(server);
  await within(new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)), 'the test server to listen');
  defer(t, () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('[SPEC §3] the upgrade pipeline has its named steps in the documented order', () => {
  assert.deepEqual(UPGRADE_STEPS.map((s) => s.name), [
    'rate', 'accepting', 'path', 'origin', 'address_limit', 'readiness', 'capacity', 'subprotocol',
    'certificate', 'credentials', 'authenticate', 'agreed', 'subscription', 'handshake', 'register',
  ]);
});

test('[SPEC §7] one broker kind row serves each broker setting; one auth row per auth.provider value', () => {
  const kindOf = (settings: Array<[string, unknown]>) => {
    const loaded = loadConfig({ overrides: settings });
    if (!loaded.ok) throw new Error(loaded.errors.join('; '));
    return brokerKindFor(loaded.config).name;
  };
  assert.equal(kindOf([]), 'embedded');
  assert.equal(kindOf([['mqtt.url', 'mqtt://127.0.0.1:1']]), 'external');
  assert.equal(kindOf([['mqtt.url', 'mqtt://127.0.0.1:1'], ['mqtt.client_mode', 'per_client']]), 'per_client');
  assert.deepEqual(BROKER_KINDS.map((k) => k.name), ['embedded', 'external', 'per_client']);
  // The row record is typed by auth.provider's values: a value without a row does not compile.
  assert.deepEqual(Object.keys(AUTH_PROVIDERS).sort(), ['broker', 'file', 'http', 'none']);
});

test('[SPEC §3, §4] handleUpgrade mounted on a plain http.createServer(): an ocpp-rpc charge point connects and is bridged both ways', T, async (t) => {
  const { gw, mqttUrl } = await startTestGateway(t);
  const handler = gw.upgradeHandler();
  const base = await ownServer(t, (server) => {
    server.on('upgrade', (req, socket, head) => void handler.handleUpgrade(req, socket, head));
    server.on('request', (req, res) => handler.handleRequest(req, res));
  });
  const svc = await Service.connect(t, mqttUrl);
  const cp = await chargePoint(t, `${base}/ocpp`, 'MOUNTED1', {}, (c) => {
    c.handle('Reset', async ({ params }) => ({ status: (params as { type: string }).type === 'Soft' ? 'Accepted' : 'Rejected' }));
  });

  const connected = await svc.waitFor('ocpp/MOUNTED1/event/connected');
  assert.equal((connected.json as { protocol: string }).protocol, 'ocpp1.6');
  const presence = await svc.waitFor('ocpp/MOUNTED1/status');
  assert.equal((presence.json as { online: boolean }).online, true);
  assert.ok(gw.registry.get('MOUNTED1'), 'the charge point is in the gateway registry');

  // Upstream: the CP's CALL is published, the service's answer resolves it.
  const calling = cp.call('Heartbeat', {});
  const up = await svc.waitFor((m) => m.topic.startsWith('ocpp/MOUNTED1/up/request/Heartbeat/'));
  const messageId = up.topic.split('/').pop() as string;
  await svc.publish(`ocpp/MOUNTED1/dn/response/Heartbeat/${messageId}`, { currentTime: '2026-12-02T00:00:00.000Z' });
  assert.deepEqual(await within(calling, 'the Heartbeat answer'), { currentTime: '2026-12-02T00:00:00.000Z' });

  // Downstream: the service's CALL reaches the CP, its result comes back.
  await svc.publish('ocpp/MOUNTED1/dn/request/Reset/r1', { type: 'Soft' });
  const result = await svc.waitFor('ocpp/MOUNTED1/up/response/Reset/r1');
  assert.deepEqual(result.json, { status: 'Accepted' });

  // The teardown is the gateway's: event/disconnected and offline presence.
  await cp.close({ code: 1000 });
  await svc.waitFor('ocpp/MOUNTED1/event/disconnected');
  await until(() => gw.registry.get('MOUNTED1') === undefined, 'the registry lets MOUNTED1 go');
});

test('[SPEC §3] refusals through a mounted handleUpgrade: the same statuses, reasons and events; plain requests 426/404', T, async (t) => {
  const { gw, mqttUrl } = await startTestGateway(t);
  const handler = gw.upgradeHandler();
  const base = await ownServer(t, (server) => {
    server.on('upgrade', (req, socket, head) => void handler.handleUpgrade(req, socket, head));
    server.on('request', (req, res) => handler.handleRequest(req, res));
  });
  const svc = await Service.connect(t, mqttUrl, ['ocpp/+/event/rejected']);
  assert.deepEqual(await upgradeStatus(`${base}/other/CP1`, ['ocpp1.6']), { status: 404, reason: 'path_not_found' });
  assert.deepEqual(await upgradeStatus(`${base}/ocpp/CP9`, ['ocpp1.6'], { origin: 'https://elsewhere.example' }), { status: 403, reason: 'origin_not_allowed' });
  const ev = await svc.waitFor('ocpp/CP9/event/rejected');
  assert.equal((ev.json as { reason: string }).reason, 'origin_not_allowed');
  const http = base.replace(/^ws:/, 'http:');
  assert.equal((await within(fetch(`${http}/ocpp/CP1`), 'a plain GET under the path')).status, 426);
  assert.equal((await within(fetch(`${http}/elsewhere`), 'a plain GET outside the path')).status, 404);
});

test('[SPEC §2] close() stops a mounted handler too: shutting_down 503', T, async (t) => {
  const { gw } = await startTestGateway(t);
  const handler = gw.upgradeHandler();
  const base = await ownServer(t, (server) => {
    server.on('upgrade', (req, socket, head) => void handler.handleUpgrade(req, socket, head));
  });
  await within(gw.close(), 'the gateway to close');
  assert.deepEqual(await upgradeStatus(`${base}/ocpp/CP1`, ['ocpp1.6']), { status: 503, reason: 'shutting_down' });
});
