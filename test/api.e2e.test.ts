// The HTTP API: every route and every documented status, with a real charge point (ocpp-rpc) and a
// real MQTT service around it. [SPEC §9]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../src/config/load.js';
import { request } from 'node:http';
import { chargePoint, rawSocket, Service, startTestGateway, until, within } from './support/harness.js';

const T = { timeout: 20_000 };
const BOOT = { chargePointVendor: 'Acme', chargePointModel: 'M1' };

function api(gw: { api: FastifyInstance | undefined }): FastifyInstance {
  if (gw.api === undefined) throw new Error('no API');
  return gw.api;
}

test('[SPEC §9] health, readiness, OpenAPI, unknown route', T, async (t) => {
  const { gw } = await startTestGateway(t);
  const app = api(gw);
  assert.deepEqual((await app.inject('/healthz')).json(), { status: 'ok' });
  const ready = await app.inject('/readyz');
  assert.equal(ready.statusCode, 200);
  assert.deepEqual(ready.json(), { status: 'ready', checks: { ocpp_listener: true, broker: true } });
  const oas = (await app.inject('/api/v1/openapi.json')).json() as { openapi: string; paths: Record<string, unknown> };
  assert.match(oas.openapi, /^3\./);
  for (const path of ['/api/v1/clients', '/api/v1/clients/{cpId}', '/api/v1/clients/{cpId}/calls', '/api/v1/clients/{cpId}/trace', '/api/v1/stats', '/metrics', '/healthz', '/readyz', '/api/v1/actions']) assert.ok(oas.paths[path], path);
  const missing = await app.inject('/api/v1/nope');
  assert.equal(missing.statusCode, 404);
  assert.equal((missing.json() as { error: string }).error, 'not_found');
  const dash = await app.inject('/');
  assert.equal(dash.statusCode, 200);
  assert.match(dash.headers['content-type'] as string, /text\/html/);
  assert.doesNotMatch(dash.body, /https?:\/\/(?!www\.w3)/, 'self-contained: no external URLs');
});

test('[SPEC §9] GET /api/v1/clients: filters, pagination, 400 for bad queries', T, async (t) => {
  const { gw, ocppUrl } = await startTestGateway(t, { 'ocpp.protocols': 'ocpp1.6,ocpp2.0.1' });
  const app = api(gw);
  for (const id of ['CP-A', 'CP-B', 'CP-C', 'OTHER']) await rawSocket(t, `${ocppUrl}/${id}`);
  await rawSocket(t, `${ocppUrl}/CP-V2`, ['ocpp2.0.1']);
  const all = (await app.inject('/api/v1/clients')).json() as { data: Array<{ cpId: string }>; meta: { count: number; page: number; limit: number } };
  assert.deepEqual(all.data.map((c) => c.cpId), ['CP-A', 'CP-B', 'CP-C', 'CP-V2', 'OTHER']);
  assert.deepEqual(all.meta, { page: 1, limit: 100, count: 5 });
  const page2 = (await app.inject('/api/v1/clients?limit=2&page=2')).json() as { data: Array<{ cpId: string }>; meta: { count: number } };
  assert.deepEqual(page2.data.map((c) => c.cpId), ['CP-C', 'CP-V2']);
  assert.equal(page2.meta.count, 5);
  const like = (await app.inject('/api/v1/clients?like=CP-')).json() as { meta: { count: number } };
  assert.equal(like.meta.count, 4);
  const v2 = (await app.inject('/api/v1/clients?protocol=ocpp2.0.1')).json() as { data: Array<{ cpId: string; protocol: string }> };
  assert.deepEqual(v2.data.map((c) => [c.cpId, c.protocol]), [['CP-V2', 'ocpp2.0.1']]);
  const future = (await app.inject(`/api/v1/clients?connected_since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).json() as { meta: { count: number } };
  assert.equal(future.meta.count, 0);
  for (const bad of ['limit=0', 'limit=1001', 'page=0', 'connected_since=yesterday', 'bogus=1']) {
    const r = await app.inject(`/api/v1/clients?${bad}`);
    assert.equal(r.statusCode, 400, bad);
    assert.equal((r.json() as { error: string }).error, 'bad_request');
  }
});

test('[SPEC §9] GET and DELETE /api/v1/clients/{cpId}: detail, kick (reason kicked), 404', T, async (t) => {
  const { gw, ocppUrl, mqttUrl } = await startTestGateway(t);
  const app = api(gw);
  const svc = await Service.connect(t, mqttUrl);
  const raw = await rawSocket(t, `${ocppUrl}/CP1`);
  const detail = (await app.inject('/api/v1/clients/CP1')).json() as Record<string, unknown>;
  assert.equal(detail['cpId'], 'CP1');
  assert.equal(detail['protocol'], 'ocpp1.6');
  assert.deepEqual(detail['inflight'], { up: 0, down: 0 });
  assert.equal(detail['queueLength'], 0);
  assert.equal((await app.inject('/api/v1/clients/NOPE')).statusCode, 404);
  assert.equal((await app.inject({ method: 'DELETE', url: '/api/v1/clients/NOPE' })).statusCode, 404);
  const kicked = await app.inject({ method: 'DELETE', url: '/api/v1/clients/CP1' });
  assert.equal(kicked.statusCode, 204);
  assert.deepEqual(await raw.closed, { code: 1000, reason: 'kicked' });
  const ev = await svc.waitFor('ocpp/CP1/event/disconnected');
  assert.equal((ev.json as { reason: string }).reason, 'kicked');
  assert.equal((await app.inject('/api/v1/clients/CP1')).statusCode, 404);
});

test('[SPEC §9] POST .../calls: 200 result, 502 CALLERROR, 504 timeout, 404, 400 invalid payload and bad body, 503 queue full', T, async (t) => {
  const { gw, ocppUrl, mqttUrl } = await startTestGateway(t, { 'dnstream.max_mqueue_len': 0 });
  const app = api(gw);
  const svc = await Service.connect(t, mqttUrl);
  const cp = await chargePoint(t, ocppUrl, 'CP1');
  let release: () => void = () => undefined;
  cp.handle('TriggerMessage', async () => ({ status: 'Accepted' }));
  cp.handle('UnlockConnector', async () => { throw Object.assign(new Error('connector jammed'), { rpcErrorCode: 'InternalError' }); });
  cp.handle('ChangeAvailability', () => new Promise((resolve) => (release = () => resolve({ status: 'Accepted' }))));
  const post = (cpId: string, body: unknown) => app.inject({ method: 'POST', url: `/api/v1/clients/${cpId}/calls`, payload: body as object });

  const ok = await post('CP1', { action: 'TriggerMessage', payload: { requestedMessage: 'Heartbeat' } });
  assert.equal(ok.statusCode, 200);
  const okBody = ok.json() as { messageId: string; result: unknown };
  assert.deepEqual(okBody.result, { status: 'Accepted' });
  // The same CALL and its answer are visible on MQTT, as every message is.
  await svc.waitFor(`ocpp/CP1/up/response/TriggerMessage/${okBody.messageId}`);

  const err = await post('CP1', { action: 'UnlockConnector', payload: { connectorId: 1 } });
  assert.equal(err.statusCode, 502);
  const errBody = err.json() as { errorCode: string; errorDescription: string };
  assert.equal(errBody.errorCode, 'InternalError');

  const slow = await post('CP1', { action: 'ChangeAvailability', payload: { connectorId: 1, type: 'Inoperative' }, timeout_ms: 50 });
  assert.equal(slow.statusCode, 504);
  const slowId = (slow.json() as { messageId: string }).messageId;
  // Still in flight: with max_mqueue_len 0, a second CALL is refused with 503.
  const full = await post('CP1', { action: 'TriggerMessage', payload: { requestedMessage: 'Heartbeat' } });
  assert.equal(full.statusCode, 503);
  assert.equal((full.json() as { errorDetails: { gateway: { reason: string } } }).errorDetails.gateway.reason, 'queue_full');
  release();
  await svc.waitFor(`ocpp/CP1/up/response/ChangeAvailability/${slowId}`);

  const invalid = await post('CP1', { action: 'Reset', payload: { type: 'Warm' } });
  assert.equal(invalid.statusCode, 400);
  const invBody = invalid.json() as { errorCode: string; errorDetails: { gateway: { reason: string; path: string } } };
  assert.equal(invBody.errorCode, 'PropertyConstraintViolation');
  assert.equal(invBody.errorDetails.gateway.path, '/type');
  assert.equal((await post('CP1', { payload: {} })).statusCode, 400);
  assert.equal((await post('CP1', { action: 'Reset', payload: [] })).statusCode, 400);
  assert.equal((await post('CP1', { action: 'Reset', payload: {}, timeout_ms: 10 ** 9 })).statusCode, 400);
  assert.equal((await post('NOPE', { action: 'Reset', payload: { type: 'Soft' } })).statusCode, 404);
});

test('[SPEC §5, §9] a CALL via MQTT and one via HTTP at the same time reach the CP one at a time', T, async (t) => {
  const { gw, ocppUrl, mqttUrl } = await startTestGateway(t);
  const app = api(gw);
  const svc = await Service.connect(t, mqttUrl);
  const cp = await chargePoint(t, ocppUrl, 'CP1');
  let inHandler = 0;
  let maxConcurrent = 0;
  const seen: string[] = [];
  let releaseFirst: () => void = () => undefined;
  const firstArrived = new Promise<void>((arrived) => {
    cp.handle('DataTransfer', async ({ params }) => {
      inHandler++;
      maxConcurrent = Math.max(maxConcurrent, inHandler);
      seen.push(String(params?.['messageId']));
      if (seen.length === 1) {
        arrived();
        await new Promise<void>((r) => (releaseFirst = r));
      }
      inHandler--;
      return { status: 'Accepted' };
    });
  });
  await svc.publish('ocpp/CP1/dn/request/DataTransfer/via-mqtt', { vendorId: 'x', messageId: 'mqtt' });
  await firstArrived;
  const httpCall = app.inject({ method: 'POST', url: '/api/v1/clients/CP1/calls', payload: { action: 'DataTransfer', payload: { vendorId: 'x', messageId: 'http' } } });
  // The HTTP CALL waits in the queue behind the MQTT one.
  const queued = async () => ((await app.inject('/api/v1/clients/CP1')).json() as { queueLength: number }).queueLength;
  await until(async () => (await queued()) !== 0, 'the CALL to be queued');
  assert.deepEqual(seen, ['mqtt']);
  releaseFirst();
  assert.equal((await httpCall).statusCode, 200);
  assert.deepEqual(seen, ['mqtt', 'http']);
  assert.equal(maxConcurrent, 1);
});

test('[SPEC §9] live trace (SSE): frames in and out, end on disconnect, 404, 429 beyond the listener limit', T, async (t) => {
  const { gw, ocppUrl, mqttUrl, apiUrl } = await startTestGateway(t);
  const svc = await Service.connect(t, mqttUrl);
  svc.client.on('message', (topic) => {
    const m = /^ocpp\/CP1\/up\/request\/Heartbeat\/(.+)$/.exec(topic);
    if (m) void svc.publish(`ocpp/CP1/dn/response/Heartbeat/${m[1]}`, { currentTime: '2026-11-23T10:00:00Z' });
  });
  const cp = await chargePoint(t, ocppUrl, 'CP1');
  const controller = new AbortController();
  t.after(() => controller.abort());
  const res = await fetch(`${apiUrl}/api/v1/clients/CP1/trace`, { signal: controller.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let buffer = '';
  const events: Array<{ event: string; data: { direction?: string; text?: string } }> = [];
  const until = async (pred: () => boolean) => {
    while (!pred()) {
      const { value, done } = await reader.read();
      if (done) throw new Error('stream ended');
      buffer += new TextDecoder().decode(value);
      let idx;
      while ((idx = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, idx);
        buffer = buffer.slice(idx + 2);
        const ev = /^event: (.+)$/m.exec(block)?.[1];
        const data = /^data: (.+)$/m.exec(block)?.[1];
        if (ev && data) events.push({ event: ev, data: JSON.parse(data) });
      }
    }
  };
  await until(() => events.some((e) => e.event === 'hello'));
  await cp.call('Heartbeat', {});
  await until(() => events.filter((e) => e.event === 'frame').length >= 2);
  const frames = events.filter((e) => e.event === 'frame').map((e) => [e.data.direction, JSON.parse(e.data.text ?? '[]')[0]]);
  assert.deepEqual(frames, [['in', 2], ['out', 3]]);
  assert.equal((await api(gw).inject('/api/v1/clients/NOPE/trace')).statusCode, 404);
  // Fill the listener slots (8 per CP), then one more is refused.
  const extra = await Promise.all(Array.from({ length: 7 }, () => fetch(`${apiUrl}/api/v1/clients/CP1/trace`, { signal: controller.signal })));
  assert.ok(extra.every((r) => r.status === 200));
  assert.equal((await fetch(`${apiUrl}/api/v1/clients/CP1/trace`)).status, 429);
  await cp.close();
  await until(() => events.some((e) => e.event === 'end'));
});

test('[SPEC §9] /metrics after a scripted session shows exactly that session\'s counts', T, async (t) => {
  const { gw, ocppUrl, mqttUrl } = await startTestGateway(t, { 'upstream.awaiting_timeout': '200ms' });
  const app = api(gw);
  const svc = await Service.connect(t, mqttUrl);
  svc.client.on('message', (topic) => {
    const m = /^ocpp\/CP1\/up\/request\/BootNotification\/(.+)$/.exec(topic);
    if (m) void svc.publish(`ocpp/CP1/dn/response/BootNotification/${m[1]}`, { status: 'Accepted', currentTime: '2026-11-23T10:00:00Z', interval: 60 });
  });
  const cp = await chargePoint(t, ocppUrl, 'CP1');
  await cp.call('BootNotification', BOOT);                               // 1 in request, 1 out response
  await assert.rejects(cp.call('Heartbeat', {}));                         // 1 in request, timeout -> 1 out error
  cp.handle('Reset', async () => ({ status: 'Accepted' }));
  await svc.publish('ocpp/CP1/dn/request/Reset/r1', { type: 'Soft' });     // 1 out request, 1 in response
  await svc.waitFor('ocpp/CP1/up/response/Reset/r1');
  await svc.publish('ocpp/CP1/dn/request/Reset/r2', { type: 'Warm' });     // invalid: validation failure, gateway error
  await svc.waitFor('ocpp/CP1/up/error/Reset/r2');
  await cp.close({ code: 1000 });
  await svc.waitFor('ocpp/CP1/event/disconnected');
  await assert.rejects(rawSocket(t, `${ocppUrl}/`));                       // 1 refusal: bad_cp_id

  const text = (await app.inject('/metrics')).body;
  const value = (line: string) => {
    const found = text.split('\n').find((l) => l.startsWith(`${line} `));
    return found === undefined ? undefined : Number(found.slice(line.length + 1));
  };
  assert.equal(value('ocpp_gateway_connects_total'), 1);
  assert.equal(value('ocpp_gateway_connections'), 0);
  assert.equal(value('ocpp_gateway_disconnects_total{reason="closed_by_cp"}'), 1);
  assert.equal(value('ocpp_gateway_upgrade_refusals_total{reason="bad_cp_id"}'), 1);
  assert.equal(value('ocpp_gateway_frames_total{direction="in",type="request",action="BootNotification"}'), 1);
  assert.equal(value('ocpp_gateway_frames_total{direction="out",type="response",action="BootNotification"}'), 1);
  assert.equal(value('ocpp_gateway_frames_total{direction="in",type="request",action="Heartbeat"}'), 1);
  assert.equal(value('ocpp_gateway_frames_total{direction="out",type="error",action="Heartbeat"}'), 1);
  assert.equal(value('ocpp_gateway_frames_total{direction="out",type="request",action="Reset"}'), 1);
  assert.equal(value('ocpp_gateway_frames_total{direction="in",type="response",action="Reset"}'), 1);
  assert.equal(value('ocpp_gateway_timeouts_total{direction="upstream"}'), 1);
  assert.equal(value('ocpp_gateway_validation_failures_total{direction="dnstream",code="PropertyConstraintViolation"}'), 1);
  assert.equal(value('ocpp_gateway_gateway_errors_total{reason="timeout"}'), 1);
  assert.equal(value('ocpp_gateway_gateway_errors_total{reason="invalid_payload"}'), 1);
  assert.equal(value('ocpp_gateway_round_trip_seconds_count{direction="upstream",action="BootNotification"}'), 1);
  assert.equal(value('ocpp_gateway_round_trip_seconds_count{direction="dnstream",action="Reset"}'), 1);
  assert.equal(value('ocpp_gateway_broker_connected'), 1);
  assert.ok((value('ocpp_gateway_mqtt_publishes_total{result="ok"}') ?? 0) > 0);
  // Frames are tallied on the hot path and handed over at each collection: a second scrape and the
  // stats route report the same totals, not double.
  const bytesIn = value('ocpp_gateway_frame_bytes_total{direction="in"}') ?? 0;
  assert.ok(bytesIn > 0);
  const again = (await app.inject('/metrics')).body;
  assert.ok(again.includes('ocpp_gateway_frames_total{direction="in",type="request",action="BootNotification"} 1\n'));
  assert.ok(again.includes(`ocpp_gateway_frame_bytes_total{direction="in"} ${bytesIn}\n`));
  assert.equal(value('ocpp_gateway_pending_calls{state="upstream"}'), 0);
  const stats = (await app.inject('/api/v1/stats')).json() as Record<string, unknown>;
  assert.equal(stats['connects_total'], 1);
  assert.deepEqual(stats['timeouts_total'], { upstream: 1 });
  assert.equal((stats['frames_total'] as Record<string, number>)['in,request,BootNotification'], 1);
});

test('[SPEC §8] API key: 401 without, accepted as Bearer, X-API-Key or api_key; health stays open', T, async (t) => {
  const { gw } = await startTestGateway(t, { 'api.key': 's3cret-key' });
  const app = api(gw);
  const none = await app.inject('/api/v1/clients');
  assert.equal(none.statusCode, 401);
  assert.equal((none.json() as { error: string }).error, 'unauthorized');
  assert.equal((await app.inject({ url: '/api/v1/clients', headers: { authorization: 'Bearer wrong' } })).statusCode, 401);
  assert.equal((await app.inject({ url: '/api/v1/clients', headers: { authorization: 'Bearer s3cret-key' } })).statusCode, 200);
  assert.equal((await app.inject({ url: '/metrics', headers: { 'x-api-key': 's3cret-key' } })).statusCode, 200);
  assert.equal((await app.inject('/metrics')).statusCode, 401);
  assert.equal((await app.inject('/api/v1/stats?api_key=s3cret-key')).statusCode, 200);
  assert.equal((await app.inject('/healthz')).statusCode, 200);
  assert.equal((await app.inject('/readyz')).statusCode, 200);
  assert.equal((await app.inject('/')).statusCode, 200);
});

test('[SPEC §8] an API bound beyond loopback without api.key is a configuration error naming the key', () => {
  const r = loadConfig({ overrides: [['api.host', '0.0.0.0']] });
  assert.ok(!r.ok && r.errors.some((e) => e.startsWith('api.key:')));
  assert.ok(loadConfig({ overrides: [['api.host', '0.0.0.0'], ['api.key', 'k']] }).ok);
});

test('GET /api/v1/actions lists the actions with a schema', T, async (t) => {
  const { gw } = await startTestGateway(t);
  const r = (await api(gw).inject('/api/v1/actions?protocol=ocpp1.6')).json() as { protocol: string; actions: string[] };
  assert.equal(r.actions.length, 39);
  assert.ok(r.actions.includes('TriggerMessage'));
  assert.equal((await api(gw).inject('/api/v1/actions?protocol=ocpp9')).statusCode, 400);
});

test('[SPEC §8, §9] a live trace whose listener stops reading is cut past 1 MiB waiting, counted, and its slot freed; the charge point is not slowed', T, async (t) => {
  const { gw, ocppUrl, apiUrl } = await startTestGateway(t, { 'upstream.awaiting_timeout': '200ms' });
  const cp = await rawSocket(t, `${ocppUrl}/CP1`);
  const u = new URL(`${apiUrl}/api/v1/clients/CP1/trace`);
  // A listener that reads the headers and then nothing.
  const res = await within(new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname }, resolve);
    req.on('error', reject);
    req.end();
  }), 'the trace response');
  t.after(() => res.destroy());
  assert.equal(res.statusCode, 200);
  res.pause();
  res.on('error', () => undefined);
  const frame = JSON.stringify([2, 'x', 'DataTransfer', { vendorId: 'v', data: 'A'.repeat(200_000) }]);
  let sent = 0;
  // Far more than loopback's socket buffers: until the gateway cuts the stream (bounded: 200 frames).
  await until(async () => {
    const cut = (await gw.metrics.snapshot())['trace_streams_cut_total'] === 1;
    if (!cut && sent < 200) {
      cp.send(frame.replace('"x"', `"x${sent++}"`));
    }
    return cut;
  }, 'the slow trace to be cut');
  const conn = gw.registry.get('CP1');
  assert.ok(conn !== undefined, 'the charge point is still connected');
  // Its slot is free again: all 8 listeners fit.
  const offs = Array.from({ length: 8 }, () => conn.addTraceListener(() => undefined));
  assert.ok(offs.every((off) => off !== undefined));
  for (const off of offs) off?.();
});
