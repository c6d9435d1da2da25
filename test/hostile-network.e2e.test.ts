// Attacks through the network doors an operator does not think of as doors: the embedded broker's
// listeners (bound beyond loopback, no login), a web page in the operator's browser (WebSocket
// upgrades with its Origin, the API after DNS rebinding) and secrets in logs. Every door is attacked in
// variants, and a good charge point keeps its round trips. [SPEC §2, §3, §8]
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { createInterface } from 'node:readline';
import mqtt from 'mqtt';
import { loadConfig } from '../src/config/load.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { createLogger } from '../src/obs/log.js';
import { EmbeddedBroker } from '../src/bridge/embedded-broker.js';
import { escapeControls, jsonForTerminal, SHOWN_JS } from '../src/api/escape.js';
import { defer } from './support/cleanup.js';
import { basic, chargePoint, Service, startTestGateway, upgradeStatus, within } from './support/harness.js';
import { EPHEMERAL_FLAGS, run } from './support/process.js';

const T = { timeout: 30_000 };
/** Ephemeral loopback ports, and nothing else: the embedded broker's host is left at its default. */
const PORTS: Array<[string, unknown]> = [['ocpp.host', '127.0.0.1'], ['ocpp.port', 0], ['mqtt.embedded.port', 0], ['mqtt.embedded.ws_port', 0], ['api.port', 0], ['log.level', 'silent']];

/** A gateway from `settings` over PORTS, logging JSON lines into `lines`. */
async function gatewayWithLog(t: TestContext, settings: Array<[string, unknown]>, lines: string[] = []): Promise<Gateway> {
  const loaded = loadConfig({ overrides: [...PORTS, ...settings] });
  if (!loaded.ok) throw new Error(loaded.errors.join('; '));
  const gw = await within(startGateway({ config: loaded.config, log: createLogger('info', { write: (line: string) => void lines.push(line) }) }), 'the gateway to start');
  defer(t, () => gw.close());
  return gw;
}

/** An address of this machine that is not loopback, if it has one. */
function outsideAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

/** Whether a TCP connection to host:port is accepted (false: refused). */
function reachable(host: string, port: number): Promise<boolean> {
  return within(new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  }), `a TCP connect to ${host}:${port}`);
}

/** A service that answers every Heartbeat, so a test can show a good charge point's round trips continue. */
async function heartbeatAnswerer(t: TestContext, mqttUrl: string): Promise<Service> {
  const svc = await Service.connect(t, mqttUrl, ['ocpp/+/up/request/Heartbeat/+']);
  svc.client.on('message', (topic) => {
    const m = /^ocpp\/([^/]+)\/up\/request\/Heartbeat\/([^/]+)$/.exec(topic);
    if (m) void svc.publish(`ocpp/${m[1]}/dn/response/Heartbeat/${m[2]}`, { currentTime: new Date().toISOString() });
  });
  return svc;
}

async function heartbeat(cp: { call(method: string, params: unknown): Promise<unknown> }): Promise<void> {
  const res = (await within(cp.call('Heartbeat', {}), 'a Heartbeat answer')) as { currentTime?: string };
  assert.equal(typeof res.currentTime, 'string');
}

/** One HTTP request with a chosen Host header (fetch may not set Host). */
function httpWithHost(port: number, method: string, path: string, host: string, body?: unknown, headers: Record<string, string> = {}, raw?: string): Promise<{ status: number; json: unknown }> {
  return within(new Promise((resolve, reject) => {
    const payload = raw ?? (body === undefined ? undefined : JSON.stringify(body));
    const req = request({ host: '127.0.0.1', port, method, path, headers: { ...(payload && raw === undefined ? { 'content-type': 'application/json' } : {}), ...headers, host } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
        // The trace route streams; its first event is enough.
        if (res.headers['content-type']?.startsWith('text/event-stream')) res.destroy();
      });
      const done = () => {
        let json: unknown;
        try { json = JSON.parse(text); } catch { json = text; }
        resolve({ status: res.statusCode ?? 0, json });
      };
      res.once('end', done);
      res.once('close', done);
    });
    req.once('error', reject);
    req.end(payload);
  }), `${method} ${path} with Host ${host}`);
}

// ---- the embedded broker: loopback by default, no anonymous listener beyond it ----

test('[SPEC §2] by default the embedded broker binds 127.0.0.1 (TCP and WebSocket): not reachable on the machine\'s other addresses', T, async (t) => {
  const gw = await gatewayWithLog(t, []);
  assert.equal(gw.config.mqtt.embedded.host, '127.0.0.1');
  assert.equal(gw.config.mqtt.embedded.allow_anonymous, false);
  const m = gw.addresses.mqtt;
  assert.ok(m?.wsPort);
  assert.equal(m.host, '127.0.0.1', 'the bound address, as the OS reports it');
  assert.equal(await reachable('127.0.0.1', m.port), true);
  const outside = outsideAddress();
  if (outside !== undefined) {
    assert.equal(await reachable(outside, m.port), false, `TCP ${outside}:${m.port}`);
    assert.equal(await reachable(outside, m.wsPort), false, `WebSocket ${outside}:${m.wsPort}`);
  } else t.diagnostic('no non-loopback IPv4 address on this machine: only the bound address was checked');
});

test('[SPEC §2] an embedded listener beyond loopback without username/password is a startup error naming the key (config, check-config, npm start)', T, async () => {
  for (const host of ['0.0.0.0', '::', '192.0.2.10', 'gateway.example']) {
    const r = loadConfig({ overrides: [['mqtt.embedded.host', host]] });
    assert.equal(r.ok, false, host);
    const errors = r.ok ? [] : r.errors;
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0] ?? '', /^mqtt\.embedded\.username: is required \(with mqtt\.embedded\.password\) when mqtt\.embedded\.host .* is not a loopback address; or set mqtt\.embedded\.allow_anonymous: true/);
  }
  // Loopback in every spelling, credentials, allow_anonymous or an external broker: all accepted.
  for (const overrides of [
    [['mqtt.embedded.host', '127.0.0.2']], [['mqtt.embedded.host', '::1']], [['mqtt.embedded.host', 'localhost']],
    [['mqtt.embedded.host', '0.0.0.0'], ['mqtt.embedded.username', 'csms'], ['mqtt.embedded.password', 'pw']],
    [['mqtt.embedded.host', '0.0.0.0'], ['mqtt.embedded.allow_anonymous', true]],
    [['mqtt.embedded.host', '0.0.0.0'], ['mqtt.url', 'mqtt://broker.example:1883']],
  ] as Array<Array<[string, unknown]>>) assert.equal(loadConfig({ overrides }).ok, true, JSON.stringify(overrides));

  const check = run(['check-config', '--set', 'mqtt.embedded.host=0.0.0.0']);
  assert.equal(await within(check.exit, 'check-config to exit'), 1);
  assert.match(check.stderr(), /^ocpp-gateway: mqtt\.embedded\.username: is required .*allow_anonymous/);
  const start = run([...EPHEMERAL_FLAGS, '--set', 'mqtt.embedded.host=0.0.0.0']);
  assert.equal(await within(start.exit, 'npm start to exit'), 1);
  assert.equal(start.stderr().trim().split('\n').length, 1, start.stderr());
  assert.match(start.stderr(), /mqtt\.embedded\.username: is required/);
});

test('[SPEC §2] mqtt.embedded.allow_anonymous: true opens it beyond loopback, with a warning at start', T, async (t) => {
  const lines: string[] = [];
  // Bound to every interface for the few moments of this test; nothing but loopback is talked to.
  const gw = await gatewayWithLog(t, [['mqtt.embedded.host', '0.0.0.0'], ['mqtt.embedded.allow_anonymous', true]], lines);
  assert.equal(gw.addresses.mqtt?.host, '0.0.0.0');
  const warning = lines.map((l) => JSON.parse(l) as { level: string; msg: string; host?: string }).find((l) => l.msg.startsWith('mqtt.embedded_open'));
  assert.ok(warning, lines.join(''));
  assert.equal(warning.level, 'warn');
  assert.equal(warning.host, '0.0.0.0');
  const svc = await Service.connect(t, `mqtt://127.0.0.1:${gw.addresses.mqtt?.port ?? 0}`, []);
  assert.ok(svc.client.connected, 'anonymous clients are let in, as configured');
});

// ---- browser origins on WebSocket upgrades ----

test('[SPEC §3] OCPP upgrades: a browser Origin not in ocpp.allowed_origins gets 403 (empty list = none), listed or "*" gets 101, no Origin gets 101; a good CP is unaffected', T, async (t) => {
  const { ocppUrl, mqttUrl, gw } = await startTestGateway(t);
  await heartbeatAnswerer(t, mqttUrl);
  const good = await chargePoint(t, ocppUrl, 'GOOD');
  await heartbeat(good);
  for (const origin of ['http://evil.example', 'https://evil.example:8443', 'null', 'http://127.0.0.1:18083', 'file://']) {
    assert.deepEqual(await upgradeStatus(`${ocppUrl}/GOOD`, ['ocpp1.6'], { origin }), { status: 403, reason: 'origin_not_allowed' }, origin);
  }
  assert.equal((await upgradeStatus(`${ocppUrl}/CP-NO-ORIGIN`, ['ocpp1.6'])).status, 101);
  // The refused "takeovers" of GOOD did not replace it.
  await heartbeat(good);
  assert.equal(gw.registry.get('GOOD') !== undefined, true);
  const refused = (await gw.metrics.snapshot())['upgrade_refusals_total'] as Record<string, number>;
  assert.equal(refused['origin_not_allowed'], 5);

  const listed = await startTestGateway(t, { 'ocpp.allowed_origins': 'https://ops.example.com, http://localhost:3000' });
  assert.equal((await upgradeStatus(`${listed.ocppUrl}/A`, ['ocpp1.6'], { origin: 'https://ops.example.com' })).status, 101);
  assert.equal((await upgradeStatus(`${listed.ocppUrl}/B`, ['ocpp1.6'], { origin: 'https://OPS.example.com:443' })).status, 101, 'the same origin in another spelling');
  assert.equal((await upgradeStatus(`${listed.ocppUrl}/C`, ['ocpp1.6'], { origin: 'http://localhost:3000' })).status, 101);
  assert.equal((await upgradeStatus(`${listed.ocppUrl}/D`, ['ocpp1.6'])).status, 101);
  for (const origin of ['http://evil.example', 'http://ops.example.com', 'https://ops.example.com.evil.example', 'http://localhost:3001']) {
    assert.deepEqual(await upgradeStatus(`${listed.ocppUrl}/E`, ['ocpp1.6'], { origin }), { status: 403, reason: 'origin_not_allowed' }, origin);
  }
  const open = await startTestGateway(t, { 'ocpp.allowed_origins': '*' });
  assert.equal((await upgradeStatus(`${open.ocppUrl}/F`, ['ocpp1.6'], { origin: 'http://evil.example' })).status, 101);
});

test('[SPEC §3] MQTT over WebSocket on the embedded broker: a foreign Origin gets 403 (counted, logged), none or a listed one connects', T, async (t) => {
  const lines: string[] = [];
  const gw = await gatewayWithLog(t, [], lines);
  const wsUrl = `ws://127.0.0.1:${gw.addresses.mqtt?.wsPort ?? 0}/mqtt`;
  for (const origin of ['http://evil.example', 'null', 'http://127.0.0.1:8083']) {
    assert.deepEqual(await upgradeStatus(wsUrl, ['mqtt'], { origin }), { status: 403, reason: 'origin_not_allowed' }, origin);
  }
  // MQTT.js with a browser's Origin header is refused; without one it works.
  const browserLike = mqtt.connect(wsUrl, { reconnectPeriod: 0, wsOptions: { headers: { origin: 'http://evil.example' } } });
  defer(t, () => browserLike.endAsync(true));
  const outcome = await within(new Promise<string>((resolve) => {
    browserLike.once('connect', () => resolve('connected'));
    browserLike.once('close', () => resolve('closed'));
  }), 'the MQTT.js connect with a foreign Origin');
  assert.equal(outcome, 'closed');
  const svc = await Service.connect(t, wsUrl, ['ocpp/+/event/#']);
  assert.ok(svc.client.connected);
  const snapshot = await gw.metrics.snapshot();
  assert.deepEqual(snapshot['refused_requests_total'], { 'mqtt_ws,origin_not_allowed': 4 });
  // Logged, but sampled: a page can repeat this in a loop.
  const logged = lines.map((l) => JSON.parse(l) as { msg: string; origin?: string; notLogged?: number }).filter((l) => l.msg === 'mqtt.ws_upgrade_refused');
  assert.equal(logged.length, 1);
  assert.equal(logged[0]?.origin, 'http://evil.example');

  const listed = await gatewayWithLog(t, [['mqtt.embedded.allowed_origins', 'https://ops.example.com']]);
  const listedUrl = `ws://127.0.0.1:${listed.addresses.mqtt?.wsPort ?? 0}/mqtt`;
  const ok = await Service.connect(t, listedUrl, [], { wsOptions: { headers: { origin: 'https://ops.example.com' } } });
  assert.ok(ok.client.connected);
  assert.equal((await upgradeStatus(listedUrl, ['mqtt'], { origin: 'https://evil.example' })).status, 403);
  const open = await gatewayWithLog(t, [['mqtt.embedded.allowed_origins', '*']]);
  const any = await Service.connect(t, `ws://127.0.0.1:${open.addresses.mqtt?.wsPort ?? 0}/mqtt`, [], { wsOptions: { headers: { origin: 'http://evil.example' } } });
  assert.ok(any.client.connected);
});

// ---- the HTTP API and DNS rebinding ----

test('[SPEC §8] the API answers only its own Host names: a foreign Host gets 421 host_not_allowed on every route, before the key and the route', T, async (t) => {
  const { gw, ocppUrl, mqttUrl } = await startTestGateway(t);
  const port = gw.addresses.api?.port ?? 0;
  await heartbeatAnswerer(t, mqttUrl);
  let resets = 0;
  const cp = await chargePoint(t, ocppUrl, 'CP1', {}, (c) => c.handle('Reset', async () => { resets++; return { status: 'Accepted' }; }));
  const routes: Array<[string, string, unknown?]> = [
    ['GET', '/'], ['GET', '/healthz'], ['GET', '/readyz'], ['GET', '/metrics'], ['GET', '/api/v1/stats'], ['GET', '/api/v1/openapi.json'],
    ['GET', '/api/v1/clients'], ['GET', '/api/v1/clients/CP1'], ['GET', '/api/v1/clients/CP1/trace'], ['GET', '/api/v1/actions'],
    ['POST', '/api/v1/clients/CP1/calls', { action: 'Reset', payload: { type: 'Hard' } }], ['DELETE', '/api/v1/clients/CP1'], ['GET', '/no/such/route'],
  ];
  for (const host of ['evil.example', `evil.example:${port}`, `localhost.evil.example:${port}`, '127.0.0.1.nip.io', 'EVIL.example.']) {
    for (const [method, path, body] of routes) {
      const r = await httpWithHost(port, method, path, host, body);
      assert.equal(r.status, 421, `${method} ${path} Host ${host}`);
      assert.equal((r.json as { error: string }).error, 'host_not_allowed');
    }
  }
  assert.equal(resets, 0, 'no CALL reached the charge point');
  await heartbeat(cp);
  assert.ok(gw.registry.get('CP1'), 'not kicked');
  const refused = (await gw.metrics.snapshot())['refused_requests_total'] as Record<string, number>;
  assert.equal(refused['api,host_not_allowed'], 5 * routes.length);

  // Its own names: loopback with and without the port, IP literals.
  for (const host of [`127.0.0.1:${port}`, '127.0.0.1', `localhost:${port}`, 'localhost', `[::1]:${port}`, `LOCALHOST:${port}`]) {
    assert.equal((await httpWithHost(port, 'GET', '/api/v1/clients', host)).status, 200, host);
  }
  const call = await httpWithHost(port, 'POST', '/api/v1/clients/CP1/calls', `127.0.0.1:${port}`, { action: 'Reset', payload: { type: 'Soft' } });
  assert.equal(call.status, 200);
  assert.equal(resets, 1);
});

test('[SPEC §8] api.allowed_hosts adds names ("*" turns the check off); with api.key the Host is checked first (421, not 401)', T, async (t) => {
  const { gw } = await startTestGateway(t, { 'api.allowed_hosts': 'gw.example.com, ops.example:8443, .corp.example', 'api.key': 'k-123456' });
  const port = gw.addresses.api?.port ?? 0;
  const auth = { authorization: 'Bearer k-123456' };
  for (const host of [`gw.example.com:${port}`, 'gw.example.com', 'ops.example:8443', 'corp.example', 'a.b.corp.example']) {
    assert.equal((await httpWithHost(port, 'GET', '/api/v1/clients', host, undefined, auth)).status, 200, host);
  }
  for (const host of ['evil.example', 'ops.example:8444', 'gw.example.com.evil.example', 'evilcorp.example']) {
    assert.equal((await httpWithHost(port, 'GET', '/api/v1/clients', host, undefined, auth)).status, 421, host);
    assert.equal((await httpWithHost(port, 'GET', '/api/v1/clients', host)).status, 421, `${host} without the key: still 421`);
  }
  assert.equal((await httpWithHost(port, 'GET', '/api/v1/clients', `127.0.0.1:${port}`)).status, 401, 'an allowed Host then meets the key check');
  const open = await startTestGateway(t, { 'api.allowed_hosts': '*' });
  assert.equal((await httpWithHost(open.gw.addresses.api?.port ?? 0, 'GET', '/api/v1/clients', 'evil.example')).status, 200);
});

test('[SPEC §8] cross-site requests to the API (a page posting blind to 127.0.0.1) get 403 cross_origin; the API\'s own origin and loopback pass', T, async (t) => {
  const { gw, ocppUrl } = await startTestGateway(t, { 'api.allowed_hosts': 'gw.example.com' });
  const port = gw.addresses.api?.port ?? 0;
  let resets = 0;
  await chargePoint(t, ocppUrl, 'CP1', {}, (c) => c.handle('Reset', async () => { resets++; return { status: 'Accepted' }; }));
  const self = `127.0.0.1:${port}`;
  const hardReset = JSON.stringify({ action: 'Reset', payload: { type: 'Hard' } });
  for (const origin of ['http://evil.example', 'http://6.6.6.6', 'null', `http://evil.example:${port}`, 'https://gw.example.com.evil.example']) {
    // text/plain is what a form or a no-cors fetch can send without a preflight.
    for (const [method, path, body, type] of [['POST', '/api/v1/clients/CP1/calls', hardReset, 'text/plain'], ['POST', '/api/v1/clients/CP1/calls', hardReset, 'application/json'], ['DELETE', '/api/v1/clients/CP1', undefined, undefined], ['GET', '/api/v1/clients', undefined, undefined]] as const) {
      const r = await httpWithHost(port, method, path, self, undefined, { origin, ...(type ? { 'content-type': type, 'content-length': String(Buffer.byteLength(body ?? '')) } : {}) }, body);
      assert.equal(r.status, 403, `${method} ${path} from ${origin}`);
      assert.equal((r.json as { error: string }).error, 'cross_origin');
    }
  }
  assert.equal(resets, 0);
  assert.ok(gw.registry.get('CP1'), 'not kicked');
  for (const origin of [`http://${self}`, `http://localhost:${port}`, 'http://localhost:3000', 'https://gw.example.com']) {
    assert.equal((await httpWithHost(port, 'GET', '/api/v1/clients', self, undefined, { origin })).status, 200, origin);
  }
  const snapshot = (await gw.metrics.snapshot())['refused_requests_total'] as Record<string, number>;
  assert.equal(snapshot['api,cross_origin'], 20);
});

test('[SPEC §8] a non-loopback api.host without api.key is a startup error (0.0.0.0, ::, an interface address)', () => {
  for (const host of ['0.0.0.0', '::', '192.0.2.10']) {
    const r = loadConfig({ overrides: [['api.host', host]] });
    assert.equal(r.ok, false, host);
    assert.match(r.ok ? '' : r.errors.join('\n'), /^api\.key: is required when api\.host .* is not a loopback address/m);
    assert.equal(loadConfig({ overrides: [['api.host', host], ['api.key', 'k']] }).ok, true);
  }
  for (const host of ['127.0.0.1', '127.0.0.5', '::1', 'localhost']) assert.equal(loadConfig({ overrides: [['api.host', host]] }).ok, true, host);
});

// ---- secrets in logs and startup errors ----

/** `npm start` with args; resolves with stdout so far once a line satisfies `until` (or the process exits). */
function startUntil(t: TestContext, args: string[], until: (entry: { msg?: string }) => boolean) {
  const r = run(args);
  t.after(() => { if (r.child.exitCode === null) r.child.kill('SIGKILL'); });
  let stdout = '';
  const reached = new Promise<boolean>((resolve) => {
    const lines = createInterface({ input: r.child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      stdout += `${line}\n`;
      try {
        if (until(JSON.parse(line) as { msg?: string })) resolve(true);
      } catch {
        // not a log line
      }
    });
    lines.once('close', () => resolve(false));
  });
  return { ...r, reached, stdout: () => stdout };
}

test('[SPEC §8] secrets never appear in logs or startup errors: mqtt.url credentials, mqtt.password, api.key (gateway.started, a refusing broker, an unreachable broker, check-config)', { timeout: 45_000 }, async (t) => {
  const PASS = 'Url-S3cret-pw';
  const broker = await within(EmbeddedBroker.start({ host: '127.0.0.1', port: 0, wsEnabled: false, wsPort: 0, wsPath: '/mqtt', qos: 1, credentials: { username: 'csms', password: PASS } }), 'the broker to start');
  defer(t, () => broker.close());
  const brokerUrl = (password: string, port = broker.addresses.mqttPort) => `mqtt://csms:${password}@127.0.0.1:${port}`;
  const extra = ['--set', 'api.key=Api-Key-S3cret', '--set', 'auth.provider=http', '--set', 'auth.http.url=http://auth:Http-S3cret-pw@127.0.0.1:9/auth'];
  const secrets = [PASS, 'Api-Key-S3cret', 'Http-S3cret-pw', 'Wrong-S3cret-pw', 'Gone-S3cret-pw'];
  const clean = (what: string, text: string) => { for (const s of secrets) assert.ok(!text.includes(s), `${what} shows ${s}:\n${text}`); };

  // An unreachable broker stops the start only with mqtt.connect_timeout_exit (10 s here; by default the
  // gateway starts without it, see broker-down-start.e2e.test.ts): started first, checked last.
  const closed = createServer();
  await within(new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve)), 'a free port');
  const closedPort = (closed.address() as { port: number }).port;
  await within(new Promise<void>((resolve) => closed.close(() => resolve())), 'the port to be free again');
  const unreachable = startUntil(t, [...EPHEMERAL_FLAGS, '--mqtt-url', brokerUrl('Gone-S3cret-pw', closedPort), '--set', 'mqtt.connect_timeout_exit=10s', ...extra], () => false);

  const started = startUntil(t, [...EPHEMERAL_FLAGS, '--mqtt-url', brokerUrl(PASS), ...extra], (e) => e.msg === 'gateway.started');
  assert.equal(await within(started.reached, 'gateway.started'), true, started.stderr());
  assert.match(started.stdout(), /"url":"mqtt:\/\/csms:\*\*\*@127\.0\.0\.1:\d+"/);
  // (Its exit code is not the point here: a SIGTERM that lands before cli.ts installs its handler ends it by the signal.)
  started.child.kill('SIGTERM');
  await within(started.exit, 'the gateway to stop');
  clean('npm start (log)', started.stdout());
  clean('npm start (stderr)', started.stderr());

  // A broker that refuses the credentials: once with the password in the URL, once in mqtt.password.
  const refusing = startUntil(t, [...EPHEMERAL_FLAGS, '--mqtt-url', brokerUrl('Wrong-S3cret-pw'), ...extra], () => false);
  assert.equal(await within(refusing.exit, 'the start against a refusing broker to fail'), 1);
  assert.match(refusing.stderr(), /mqtt:\/\/csms:\*\*\*@127\.0\.0\.1:\d+ \(mqtt\.url\) refused the connection/);
  clean('a refusing broker', refusing.stdout() + refusing.stderr());
  const refusingPassword = startUntil(t, [...EPHEMERAL_FLAGS, '--mqtt-url', `mqtt://127.0.0.1:${broker.addresses.mqttPort}`, '--set', 'mqtt.username=csms', '--set', 'mqtt.password=Wrong-S3cret-pw', ...extra], () => false);
  assert.equal(await within(refusingPassword.exit, 'the start with a wrong mqtt.password to fail'), 1);
  assert.match(refusingPassword.stderr(), /refused the connection/);
  clean('a refusing broker (mqtt.password)', refusingPassword.stdout() + refusingPassword.stderr());

  const check = run(['check-config', '--mqtt-url', brokerUrl(PASS), '--set', 'mqtt.password=Wrong-S3cret-pw', '--set', 'ocpp.port=99999', ...extra]);
  assert.equal(await within(check.exit, 'check-config'), 1);
  clean('check-config', check.stderr());

  assert.equal(await within(unreachable.exit, 'the start against an unreachable broker to fail', 25_000), 1);
  assert.match(unreachable.stderr(), /mqtt:\/\/csms:\*\*\*@127\.0\.0\.1:\d+ \(mqtt\.url\): no connection within/);
  clean('an unreachable broker', unreachable.stdout() + unreachable.stderr());
});

/** A WebSocket upgrade by hand, for the status and the body of a refusal. */
function upgradeWithBody(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return within(new Promise((resolve, reject) => {
    const req = request({
      host: u.hostname, port: u.port, path: u.pathname,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64'), 'sec-websocket-protocol': 'ocpp1.6', ...headers },
    });
    req.once('upgrade', (_res, socket) => { socket.destroy(); resolve({ status: 101, body: '' }); });
    req.once('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.once('error', reject);
    req.end();
  }), `the upgrade of ${url}`);
}

test('[SPEC §8] a refusal never carries a secret: the auth service URL\'s password stays out of the 401 body, event/rejected and the log', T, async (t) => {
  const lines: string[] = [];
  const gw = await gatewayWithLog(t, [['auth.provider', 'http'], ['auth.http.url', 'http://gw:Auth-S3cret-pw@127.0.0.1:9/auth']], lines);
  const svc = await Service.connect(t, `mqtt://127.0.0.1:${gw.addresses.mqtt?.port ?? 0}`, ['ocpp/+/event/rejected']);
  const r = await upgradeWithBody(`ws://127.0.0.1:${gw.addresses.ocpp?.port ?? 0}/ocpp/CP1`, { authorization: basic('CP1', 'guess') });
  assert.equal(r.status, 401);
  const event = await svc.waitFor('ocpp/CP1/event/rejected');
  for (const [what, text] of [['body', r.body], ['event', event.text], ['log', lines.join('')]] as const) {
    assert.ok(!text.includes('Auth-S3cret-pw'), `${what}: ${text}`);
  }
  assert.match(event.text, /unauthorized|auth service/);
});

// ---- client strings shown to an operator ----

test('[SPEC §8] client strings for a terminal or the dashboard: C0, DEL, C1, bidi controls and invisible characters become visible escapes; JSON stays JSON', () => {
  assert.equal(escapeControls('CP\u001b[2J\u202eEVIL\u007f\u009b\u2066x\u061c\u200e\u200f\u2028'), 'CP\\x1b[2J\\u202eEVIL\\x7f\\x9b\\u2066x\\u061c\\u200e\\u200f\\u2028');
  assert.equal(escapeControls('CP-1 ok: *-_=:+|@. é 中'), 'CP-1 ok: *-_=:+|@. é 中');
  // Characters that show as nothing or as blank: "CP1" and "CP1" + U+200B must not look the same.
  assert.equal(escapeControls('CP1\u200b\u034f\u115f\u3000\ufeff\u00ad\u2060\ufe0f'), 'CP1\\u200b\\u034f\\u115f\\u3000\\ufeff\\xad\\u2060\\ufe0f');
  const value = { cpId: 'A\u202eB', username: 'u\u001b]0;pwned\u0007', note: 'x\u0085y' };
  const json = jsonForTerminal(value);
  assert.deepEqual(JSON.parse(json), value);
  assert.doesNotMatch(json, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
  // The dashboard's browser copy escapes exactly the same, code point by code point.
  const shown = new Function(`${SHOWN_JS}; return shown;`)() as (text: string) => string;
  for (let cp = 0; cp <= 0xffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const c = String.fromCodePoint(cp);
    if (shown(c) !== escapeControls(c)) assert.fail(`U+${cp.toString(16)}: dashboard ${shown(c)} terminal ${escapeControls(c)}`);
  }
});
