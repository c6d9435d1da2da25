// The behaviour suite of the foundation issue, runnable against every deployment: the embedded broker
// or an external one started by the test (Mosquitto with MQTT 3.1.1 or 5, NATS, RabbitMQ). [SPEC §3–§5, §7]
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chargePoint, rawSocket, Service, startTestGateway, until } from './harness.js';

/** Starts a broker for one test (stopped at its end); undefined = the embedded broker. */
export type BrokerFactory = (t: TestContext) => Promise<{ url: string }>;

/** A gateway for one test, wherever it runs. */
export interface SuiteGateway {
  readonly ocppUrl: string;
  readonly mqttUrl: string;
  readonly apiUrl: string;
  /** Downstream CALLs queued for a charge point (undefined: not connected). */
  queueLength(cpId: string): Promise<number | undefined>;
}

/** Starts the gateway for one test with these settings (config keys); stopped at the test's end. */
export type GatewayFactory = (t: TestContext, settings: Record<string, unknown>) => Promise<SuiteGateway>;

/** The default: startGateway in this process. */
export const inProcessGateway: GatewayFactory = async (t, settings) => {
  const g = await startTestGateway(t, settings);
  return { ...g, queueLength: async (cpId) => g.gw.registry.get(cpId)?.channel.queueLength };
};

export function behaviourSuite(label: string, broker?: BrokerFactory, brokerSettings: Record<string, unknown> = {}, start: GatewayFactory = inProcessGateway): void {
  const setup = async (t: TestContext, settings: Record<string, unknown> = {}): Promise<SuiteGateway> => {
    if (broker === undefined) return start(t, settings);
    const b = await broker(t);
    const gw = await start(t, { ...brokerSettings, ...settings, 'mqtt.url': b.url });
    return { ...gw, mqttUrl: b.url };
  };

  const BOOT = { chargePointVendor: 'Acme', chargePointModel: 'Rapid-50' };
  // A guard against hangs; a private RabbitMQ node alone takes about 8 s to boot, a gateway process
  // with workers (three processes compiling schemas) longer on a busy machine.
  const T = { timeout: start === inProcessGateway ? 40_000 : 120_000 };

  test(`${label}: [SPEC §4] BootNotification: up/request with the exact payload, answer on dn/response resolves the CP call`, T, async (t) => {
    const { ocppUrl, mqttUrl } = await setup(t);
    const svc = await Service.connect(t, mqttUrl, ['ocpp/+/up/#']);
    svc.client.on('message', (topic, payload) => {
      const m = /^ocpp\/CP1\/up\/request\/BootNotification\/(.+)$/.exec(topic);
      if (m) void svc.publish(`ocpp/CP1/dn/response/BootNotification/${m[1]}`, { status: 'Accepted', currentTime: '2026-11-23T10:00:00.000Z', interval: 300 });
    });
    const cp = await chargePoint(t, ocppUrl, 'CP1');
    const result = await cp.call('BootNotification', BOOT);
    assert.deepEqual(result, { status: 'Accepted', currentTime: '2026-11-23T10:00:00.000Z', interval: 300 });
    const up = await svc.waitFor((m) => m.topic.startsWith('ocpp/CP1/up/request/BootNotification/'));
    assert.deepEqual(up.json, BOOT);
    assert.equal(up.text, JSON.stringify(BOOT));
  });

  test(`${label}: [SPEC §4] service CALL Reset reaches the CP handler; its result comes back on up/response`, T, async (t) => {
    const { ocppUrl, mqttUrl } = await setup(t);
    const svc = await Service.connect(t, mqttUrl);
    const cp = await chargePoint(t, ocppUrl, 'CP1');
    const seen: unknown[] = [];
    cp.handle('Reset', async ({ params }) => {
      seen.push(params);
      return { status: 'Accepted' };
    });
    await svc.waitFor('ocpp/CP1/event/connected');
    await svc.publish('ocpp/CP1/dn/request/Reset/r1', { type: 'Soft' });
    const res = await svc.waitFor('ocpp/CP1/up/response/Reset/r1');
    assert.deepEqual(res.json, { status: 'Accepted' });
    assert.deepEqual(seen, [{ type: 'Soft' }]);
  });

  test(`${label}: [SPEC §5] three downstream CALLs reach the CP one at a time; overflow gets queue_full`, T, async (t) => {
    const { ocppUrl, mqttUrl } = await setup(t, { 'dnstream.max_mqueue_len': 1 });
    const svc = await Service.connect(t, mqttUrl);
    const cp = await chargePoint(t, ocppUrl, 'CP1');
    let inHandler = 0;
    let maxConcurrent = 0;
    const order: string[] = [];
    const releases: Array<() => void> = [];
    let arrived: () => void = () => undefined;
    const firstArrived = new Promise<void>((resolve) => (arrived = resolve));
    cp.handle('ChangeConfiguration', async ({ params }) => {
      inHandler++;
      maxConcurrent = Math.max(maxConcurrent, inHandler);
      order.push(String(params?.['key']));
      arrived();
      await new Promise<void>((resolve) => releases.push(resolve));
      inHandler--;
      return { status: 'Accepted' };
    });
    await svc.waitFor('ocpp/CP1/event/connected');
    await Promise.all(['a', 'b', 'c'].map((k) => svc.publish(`ocpp/CP1/dn/request/ChangeConfiguration/m-${k}`, { key: k, value: '1' })));
    // max_mqueue_len 1: a in flight, b queued, c refused.
    const full = await svc.waitFor('ocpp/CP1/up/error/ChangeConfiguration/m-c');
    assert.equal((full.json as { errorDetails: { gateway: { reason: string } } }).errorDetails.gateway.reason, 'queue_full');
    // The error to the service and the CALL to the CP travel different paths: either may land first.
    await firstArrived;
    assert.deepEqual(order, ['a'], 'only the first CALL was sent while it is unanswered');
    const secondArrived = new Promise<void>((resolve) => (arrived = resolve));
    releases.shift()?.();
    await svc.waitFor('ocpp/CP1/up/response/ChangeConfiguration/m-a');
    await secondArrived;
    assert.deepEqual(order, ['a', 'b']);
    releases.shift()?.();
    await svc.waitFor('ocpp/CP1/up/response/ChangeConfiguration/m-b');
    assert.equal(maxConcurrent, 1);
  });

  test(`${label}: [SPEC §5] upstream timeout: the CP gets CALLERROR InternalError, the service a gateway timeout error; late answer -> unknown_message_id`, T, async (t) => {
    const { ocppUrl, mqttUrl } = await setup(t, { 'upstream.awaiting_timeout': '300ms' });
    const svc = await Service.connect(t, mqttUrl);
    const cp = await chargePoint(t, ocppUrl, 'CP1');
    await assert.rejects(cp.call('Heartbeat', {}), (err: Error & { rpcErrorCode?: string }) => err.rpcErrorCode === 'InternalError');
    const req = await svc.waitFor((m) => m.topic.startsWith('ocpp/CP1/up/request/Heartbeat/'));
    const id = req.topic.split('/').pop() as string;
    const err = await svc.waitFor(`ocpp/CP1/up/error/Heartbeat/${id}`);
    assert.deepEqual(err.json, { errorCode: 'GenericError', errorDescription: 'no answer from the service within 300 ms', errorDetails: { gateway: { reason: 'timeout' } } });
    const before = svc.received.length;
    await svc.publish(`ocpp/CP1/dn/response/Heartbeat/${id}`, { currentTime: '2026-11-23T10:00:00Z' });
    const late = await svc.waitFor((m) => m.topic === `ocpp/CP1/up/error/Heartbeat/${id}`, before);
    assert.equal((late.json as { errorDetails: { gateway: { reason: string } } }).errorDetails.gateway.reason, 'unknown_message_id');
  });

  test(`${label}: [SPEC §5] downstream timeout after retries: the same frame re-sent, then a gateway timeout error`, T, async (t) => {
    const { ocppUrl, mqttUrl } = await setup(t, { 'dnstream.retry_interval': '200ms', 'dnstream.max_retries': 1 });
    const svc = await Service.connect(t, mqttUrl);
    const raw = await rawSocket(t, `${ocppUrl}/CP1`);
    await svc.waitFor('ocpp/CP1/event/connected');
    await svc.publish('ocpp/CP1/dn/request/GetConfiguration/g1', {});
    assert.deepEqual(await raw.next(), [2, 'g1', 'GetConfiguration', {}]);
    assert.deepEqual(await raw.next(), [2, 'g1', 'GetConfiguration', {}]);
    const err = await svc.waitFor('ocpp/CP1/up/error/GetConfiguration/g1');
    assert.equal((err.json as { errorDetails: { gateway: { reason: string } } }).errorDetails.gateway.reason, 'timeout');
  });

  test(`${label}: [SPEC §5] disconnect with a queued and an in-flight CALL -> two disconnected errors`, T, async (t) => {
    const { ocppUrl, mqttUrl, queueLength } = await setup(t);
    const svc = await Service.connect(t, mqttUrl);
    const raw = await rawSocket(t, `${ocppUrl}/CP1`);
    await svc.waitFor('ocpp/CP1/event/connected');
    await svc.publish('ocpp/CP1/dn/request/Reset/d1', { type: 'Hard' });
    await svc.publish('ocpp/CP1/dn/request/UnlockConnector/d2', { connectorId: 1 });
    assert.deepEqual(await raw.next(), [2, 'd1', 'Reset', { type: 'Hard' }]);
    // An external broker's PUBACK to the service does not mean d2 reached the gateway: wait until it
    // is queued behind d1 (else it would arrive after the close and rightly be not_connected).
    await until(async () => (await queueLength('CP1')) === 1, 'd2 to be queued behind d1');
    raw.ws.close(1000);
    const e1 = await svc.waitFor('ocpp/CP1/up/error/Reset/d1');
    const e2 = await svc.waitFor('ocpp/CP1/up/error/UnlockConnector/d2');
    for (const e of [e1, e2]) assert.equal((e.json as { errorDetails: { gateway: { reason: string } } }).errorDetails.gateway.reason, 'disconnected');
    const ev = await svc.waitFor('ocpp/CP1/event/disconnected');
    assert.equal((ev.json as { reason: string }).reason, 'closed_by_cp');
  });

  test(`${label}: [SPEC §3] second connection with the same cpId replaces the first; downstream reaches the second after the teardown`, T, async (t) => {
    const { ocppUrl, mqttUrl } = await setup(t);
    const svc = await Service.connect(t, mqttUrl);
    const first = await rawSocket(t, `${ocppUrl}/CP1`);
    await svc.waitFor('ocpp/CP1/event/connected');
    const second = await chargePoint(t, ocppUrl, 'CP1');
    second.handle('TriggerMessage', async () => ({ status: 'Accepted' }));
    const closed = await first.closed;
    assert.deepEqual(closed, { code: 1000, reason: 'replaced' });
    const ev = await svc.waitFor((m) => m.topic === 'ocpp/CP1/event/disconnected');
    assert.equal((ev.json as { reason: string }).reason, 'replaced');
    await svc.publish('ocpp/CP1/dn/request/TriggerMessage/t1', { requestedMessage: 'Heartbeat' });
    const res = await svc.waitFor('ocpp/CP1/up/response/TriggerMessage/t1');
    assert.deepEqual(res.json, { status: 'Accepted' });
    // The old teardown did not mark the charge point offline.
    const statuses = svc.received.filter((m) => m.topic === 'ocpp/CP1/status').map((m) => (m.json as { online: boolean }).online);
    assert.equal(statuses.at(-1), true);
  });

  test(`${label}: [SPEC §4] connected/disconnected events and the retained presence topic`, T, async (t) => {
    const { ocppUrl, mqttUrl } = await setup(t);
    const svc = await Service.connect(t, mqttUrl);
    const cp = await chargePoint(t, ocppUrl, 'CP-7', { password: 'secret' });
    const connected = await svc.waitFor('ocpp/CP-7/event/connected');
    const c = connected.json as Record<string, unknown>;
    assert.equal(c['cpId'], 'CP-7');
    assert.equal(c['protocol'], 'ocpp1.6');
    assert.equal(c['remoteAddress'], '127.0.0.1');
    assert.equal(c['username'], 'CP-7');
    assert.ok(!Number.isNaN(Date.parse(String(c['connectedAt']))));
    // A service that subscribes later still learns the charge point is online (retained). The exact
    // topic: RabbitMQ sends no retained messages to filters with wildcards.
    const late = await Service.connect(t, mqttUrl, ['ocpp/CP-7/status']);
    const online = await late.waitFor('ocpp/CP-7/status');
    assert.equal(online.retain, true);
    assert.deepEqual({ ...(online.json as object), since: 'x' }, { online: true, protocol: 'ocpp1.6', since: 'x' });
    await cp.close({ code: 1000 });
    const d = await svc.waitFor('ocpp/CP-7/event/disconnected');
    const dj = d.json as Record<string, unknown>;
    assert.equal(dj['reason'], 'closed_by_cp');
    assert.equal(dj['code'], 1000);
    const offline = await late.waitFor((m) => m.topic === 'ocpp/CP-7/status' && (m.json as { online: boolean }).online === false);
    assert.equal((offline.json as { protocol: string }).protocol, 'ocpp1.6');
    const later = await Service.connect(t, mqttUrl, ['ocpp/CP-7/status']);
    const retained = await later.waitFor('ocpp/CP-7/status');
    assert.equal((retained.json as { online: boolean }).online, false);
  });

  test(`${label}: [SPEC §4] the service answers a CP CALL with an error; the CP sees that CALLERROR`, T, async (t) => {
    const { ocppUrl, mqttUrl } = await setup(t);
    const svc = await Service.connect(t, mqttUrl);
    svc.client.on('message', (topic) => {
      const m = /^ocpp\/CP1\/up\/request\/Authorize\/(.+)$/.exec(topic);
      if (m) void svc.publish(`ocpp/CP1/dn/error/Authorize/${m[1]}`, { errorCode: 'NotSupported', errorDescription: 'no local auth', errorDetails: { hint: 1 } });
    });
    const cp = await chargePoint(t, ocppUrl, 'CP1');
    await assert.rejects(cp.call('Authorize', { idTag: 'TAG1' }), (err: Error & { rpcErrorCode?: string; details?: unknown }) => {
      assert.equal(err.rpcErrorCode, 'NotSupported');
      assert.equal(err.message, 'no local auth');
      assert.deepEqual(err.details, { hint: 1 });
      return true;
    });
  });

  test(`${label}: [SPEC §4] the CP answers a service CALL with a CALLERROR: it arrives on up/error with the action`, T, async (t) => {
    const { ocppUrl, mqttUrl } = await setup(t);
    const svc = await Service.connect(t, mqttUrl);
    const raw = await rawSocket(t, `${ocppUrl}/CP1`);
    await svc.waitFor('ocpp/CP1/event/connected');
    await svc.publish('ocpp/CP1/dn/request/UpdateFirmware/u1', { location: 'ftp://x', retrieveDate: '2026-01-01T00:00:00Z' });
    await raw.next();
    raw.send(JSON.stringify([4, 'u1', 'NotSupported', 'no firmware updates', { a: 1 }]));
    const err = await svc.waitFor('ocpp/CP1/up/error/UpdateFirmware/u1');
    assert.deepEqual(err.json, { errorCode: 'NotSupported', errorDescription: 'no firmware updates', errorDetails: { a: 1 } });
  });

  test(`${label}: [SPEC §4] messageIds with characters not allowed in a topic level are percent-encoded`, T, async (t) => {
    const { ocppUrl, mqttUrl } = await setup(t);
    const svc = await Service.connect(t, mqttUrl);
    const raw = await rawSocket(t, `${ocppUrl}/CP1`);
    raw.send(JSON.stringify([2, 'a/b+c#d%e', 'Heartbeat', {}]));
    const req = await svc.waitFor((m) => m.topic.startsWith('ocpp/CP1/up/request/Heartbeat/'));
    assert.equal(req.topic, 'ocpp/CP1/up/request/Heartbeat/a%2Fb%2Bc%23d%25e');
    await svc.publish('ocpp/CP1/dn/response/Heartbeat/a%2Fb%2Bc%23d%25e', { currentTime: '2026-01-01T00:00:00Z' });
    assert.deepEqual(await raw.next(), [3, 'a/b+c#d%e', { currentTime: '2026-01-01T00:00:00Z' }]);
  });

  test(`${label}: [SPEC §3] the heartbeat interval of an accepted BootNotification shows in the client list`, T, async (t) => {
    const { ocppUrl, mqttUrl, apiUrl } = await setup(t);
    const svc = await Service.connect(t, mqttUrl);
    svc.client.on('message', (topic) => {
      const m = /^ocpp\/CP1\/up\/request\/BootNotification\/(.+)$/.exec(topic);
      if (m) void svc.publish(`ocpp/CP1/dn/response/BootNotification/${m[1]}`, { status: 'Accepted', currentTime: '2026-11-23T10:00:00.000Z', interval: 120 });
    });
    const cp = await chargePoint(t, ocppUrl, 'CP1');
    await cp.call('BootNotification', BOOT);
    const list = (await (await fetch(`${apiUrl}/api/v1/clients`)).json()) as { data: Array<Record<string, unknown>>; meta: Record<string, number> };
    assert.equal(list.meta['count'], 1);
    assert.equal(list.data[0]?.['cpId'], 'CP1');
    assert.equal(list.data[0]?.['heartbeatInterval'], 120);
  });

}
