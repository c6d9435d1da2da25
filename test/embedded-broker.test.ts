// The embedded broker: its login check, and bursts: thousands of publishes issued in one synchronous run (a shutdown
// with many charge points publishes two per connection) must all arrive, without exhausting the stack.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { existsSync, statSync } from 'node:fs';
import { EmbeddedBroker } from '../src/bridge/embedded-broker.js';
import { defer } from './support/cleanup.js';
import { chargePoint, Service, startTestGateway } from './support/harness.js';
import { loadConfig } from '../src/config/load.js';

/** An embedded broker on a free port with one MQTT.js subscriber to `filter`; both closed at the end. */
async function brokerWithSubscriber(t: TestContext, filter: string) {
  const broker = await EmbeddedBroker.start({ host: '127.0.0.1', port: 0, wsEnabled: false, wsPort: 0, wsPath: '/mqtt', qos: 1 });
  defer(t, () => broker.close());
  const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.addresses.mqttPort}`, { reconnectPeriod: 0 });
  defer(t, () => sub.endAsync(true));
  await sub.subscribeAsync(filter, { qos: 1 });
  return { broker, sub };
}

test('a burst of 20,000 publishes reaches an MQTT subscriber, none lost, no stack overflow', { timeout: 60_000 }, async (t) => {
  const { broker, sub } = await brokerWithSubscriber(t, 'burst/#');
  const total = 20_000;
  let received = 0;
  const all = new Promise<void>((resolve) => sub.on('message', () => { if (++received === total) resolve(); }));
  const published: Array<Promise<void>> = [];
  for (let i = 0; i < total; i++) published.push(broker.publish(`burst/${i % 100}/x`, String(i)));
  await Promise.all(published);
  await all;
  assert.equal(received, total);
});

test('a burst of unmatched publishes behind a slow subscriber does not overflow the stack (mqemitter drains by recursion)', { timeout: 60_000 }, async (t) => {
  const { broker, sub } = await brokerWithSubscriber(t, 'slow/#');
  const published: Array<Promise<void>> = [];
  // Deliveries to the MQTT subscriber stay in flight, so aedes's emitter starts queueing ...
  for (let i = 0; i < 500; i++) published.push(broker.publish(`slow/${i}`, 'x'));
  // ... and this burst (events and presence of 25,000 charge points dropping at once) lands behind them.
  for (let i = 0; i < 25_000; i++) {
    published.push(broker.publish(`ocpp/CP${i}/event/disconnected`, '{}'));
    published.push(broker.publish(`ocpp/CP${i}/status`, '{"online":false}', { retain: true }));
  }
  await Promise.all(published);
  assert.equal(published.length, 50_500);
});

test('[SPEC §7] mqtt.embedded.username/password: over TCP and WebSocket, no or wrong credentials are refused (CONNACK 4), the right ones see the charge points', { timeout: 20_000 }, async (t) => {
  const { ocppUrl, gw } = await startTestGateway(t, { 'mqtt.embedded.username': 'csms', 'mqtt.embedded.password': 'p4ss' });
  const tcp = `mqtt://127.0.0.1:${gw.addresses.mqtt?.port ?? 0}`;
  const ws = `ws://127.0.0.1:${gw.addresses.mqtt?.wsPort ?? 0}/mqtt`;
  for (const url of [tcp, ws]) {
    for (const creds of [{}, { username: 'csms', password: 'wrong' }, { username: 'other', password: 'p4ss' }]) {
      const err = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...creds }).then(
        async (c) => { await c.endAsync(true); return undefined; },
        (e: unknown) => e as Error & { code?: number },
      );
      assert.equal(err?.code, 4, `${url} ${JSON.stringify(creds)} is refused with "bad user name or password"`);
    }
  }
  const svc = await Service.connect(t, ws, ['ocpp/+/event/#'], { username: 'csms', password: 'p4ss' });
  await chargePoint(t, ocppUrl, 'CP1');
  await svc.waitFor('ocpp/CP1/event/connected');
});

test('[SPEC §7] mqtt.embedded.username without a password is a config error naming the key', () => {
  const r = loadConfig({ overrides: [['mqtt.embedded.username', 'csms']] });
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.errors.join('\n'), /mqtt\.embedded\.password: is required with mqtt\.embedded\.username/);
});

test('[SPEC §7 Workers] the internal listener is a unix socket in a directory only this user may enter; only its own credentials log in; gone after close', { timeout: 20_000 }, async (t) => {
  const broker = await EmbeddedBroker.start({ host: '127.0.0.1', port: 0, wsEnabled: false, wsPort: 0, wsPath: '/mqtt', qos: 1 });
  let closed = false;
  defer(t, async () => {
    if (!closed) await broker.close();
  });
  const credentials = { username: 'ocpp-gateway-worker', password: 'internal-secret' };
  const url = await broker.listenInternal(credentials);
  const m = /^mqtt\+unix:\/\/(\/.+)\/mqtt\.sock$/.exec(url);
  assert.ok(m, url);
  const dir = m[1]!;
  assert.equal(statSync(dir).mode & 0o777, 0o700, 'the directory is private to the gateway user');
  assert.ok(statSync(`${dir}/mqtt.sock`).isSocket());

  const worker = await mqtt.connectAsync(url, { ...credentials, reconnectPeriod: 0, connectTimeout: 5000 });
  await worker.subscribeAsync('ocpp/+/dn/#');
  await worker.endAsync();
  await assert.rejects(mqtt.connectAsync(url, { username: credentials.username, password: 'wrong', reconnectPeriod: 0, connectTimeout: 5000 }), /Bad username or password|Not authorized/);

  await broker.close();
  closed = true;
  assert.equal(existsSync(dir), false, 'the socket and its directory are removed on close');
});
