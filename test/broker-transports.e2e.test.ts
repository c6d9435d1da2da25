// The external broker reached over every mqtt.url scheme the SPEC names: mqtt:// (elsewhere), mqtts://
// with a CA, a client certificate and a server name, and ws://; a broker certificate that does not
// verify stops the start with one line. Both client modes use the same TLS settings. [SPEC §7]
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { chargePoint, Service, startTestGateway } from './support/harness.js';
import { freePort, startMosquitto } from './support/brokers.js';
import { TestPki } from './support/certs.js';
import { loadConfig } from '../src/config/load.js';
import { startGateway } from '../src/gateway.js';
import { pino } from 'pino';

const T = { timeout: 30_000 };

/** Mosquitto with a plain listener (for the service), an mTLS listener and a WebSocket listener. */
async function mosquittoWithTransports(t: TestContext) {
  const pki = new TestPki();
  const ca = pki.ca('broker-ca');
  const server = pki.server('broker', ca, 'ec');
  const client = pki.client('gateway-client', ca, 'ocpp-gateway');
  // Mosquitto started as root reads its files as the mosquitto user.
  chmodSync(pki.dir, 0o755);
  for (const f of readdirSync(pki.dir)) chmodSync(join(pki.dir, f), 0o644);
  const [tlsPort, wsPort] = [await freePort(), await freePort()];
  const broker = await startMosquitto(t, [
    `listener ${tlsPort} 127.0.0.1`, `cafile ${ca.cert}`, `certfile ${server.cert}`, `keyfile ${server.key}`, 'require_certificate true',
    `listener ${wsPort} 127.0.0.1`, 'protocol websockets', '',
  ].join('\n'));
  return { broker, ca, client, tlsUrl: `mqtts://127.0.0.1:${tlsPort}`, wsUrl: `ws://127.0.0.1:${wsPort}` };
}

async function bootRoundTrip(t: TestContext, ocppUrl: string, serviceUrl: string, cpId: string): Promise<void> {
  const svc = await Service.connect(t, serviceUrl, [`ocpp/${cpId}/up/#`]);
  svc.client.on('message', (topic) => {
    const m = new RegExp(`^ocpp/${cpId}/up/request/BootNotification/(.+)$`).exec(topic);
    if (m) void svc.publish(`ocpp/${cpId}/dn/response/BootNotification/${m[1]}`, { status: 'Accepted', currentTime: '2026-11-24T00:00:00.000Z', interval: 60 });
  });
  const cp = await chargePoint(t, ocppUrl, cpId);
  const result = await cp.call('BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'TLS-1' });
  assert.deepEqual(result, { status: 'Accepted', currentTime: '2026-11-24T00:00:00.000Z', interval: 60 });
}

for (const mode of ['shared', 'per_client'] as const) {
  test(`[SPEC §7] mqtts:// with mqtt.tls.ca_file, a client certificate and servername (broker requires the certificate), ${mode}`, T, async (t) => {
    const b = await mosquittoWithTransports(t);
    const { ocppUrl } = await startTestGateway(t, {
      'mqtt.url': b.tlsUrl, 'mqtt.client_mode': mode, 'mqtt.tls.ca_file': b.ca.cert, 'mqtt.tls.cert_file': b.client.cert,
      'mqtt.tls.key_file': b.client.key, 'mqtt.tls.servername': 'localhost',
    });
    await bootRoundTrip(t, ocppUrl, b.broker.url, 'CP-TLS');
  });

  test(`[SPEC §7] ws:// (MQTT over WebSocket), ${mode}`, T, async (t) => {
    const b = await mosquittoWithTransports(t);
    const { ocppUrl } = await startTestGateway(t, { 'mqtt.url': b.wsUrl, 'mqtt.client_mode': mode });
    await bootRoundTrip(t, ocppUrl, b.broker.url, 'CP-WS');
  });
}

test('[SPEC §7] a broker certificate that does not verify (no mqtt.tls.ca_file) stops the start at once with one line naming the keys', T, async (t) => {
  const b = await mosquittoWithTransports(t);
  const loaded = loadConfig({ overrides: [['ocpp.host', '127.0.0.1'], ['ocpp.port', 0], ['api.enabled', false], ['mqtt.url', b.tlsUrl], ['mqtt.tls.cert_file', b.client.cert], ['mqtt.tls.key_file', b.client.key]] });
  assert.ok(loaded.ok);
  const err = await startGateway({ config: loaded.config, log: pino({ level: 'silent' }) }).then(
    (gw) => { void gw.close(); return undefined; },
    (e: unknown) => e as Error,
  );
  assert.ok(err instanceof Error, 'the start failed');
  assert.match(err.message, /^external MQTT broker mqtts:\/\/127\.0\.0\.1:\d+ \(mqtt\.url\): its TLS certificate does not verify: .+ \(mqtt\.tls\.ca_file, mqtt\.tls\.servername\)$/);
  assert.ok(!err.message.includes('\n'));
});
