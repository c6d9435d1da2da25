// auth.provider = http against a real HTTP server in the test, and the admission limits. [SPEC §8]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basic, rawSocket, Service, startTestGateway, upgradeStatus } from './support/harness.js';
import { defer } from './support/cleanup.js';
import { CheckGate } from '../src/auth/check-gate.js';
import { HttpAuthProvider } from '../src/auth/http-provider.js';
import { systemClock } from '../src/session/clock.js';

const T = { timeout: 20_000 };

interface AuthCall { authorization?: string | undefined; cpId: string; username: string | null; password: string | null; password_base64: string | null; remoteAddress: string; protocol: string; listener: string; certificateCn: string | null }

/** An auth service: answers by password; "slow" never answers in time. */
async function authService(t: Parameters<typeof defer>[0], decide: (body: AuthCall) => object | 'hang') {
  const calls: AuthCall[] = [];
  const hanging: Array<() => void> = [];
  const server = createServer((req: IncomingMessage, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const parsed = JSON.parse(raw) as AuthCall;
      const body = req.headers.authorization === undefined ? parsed : { ...parsed, authorization: req.headers.authorization };
      calls.push(body);
      const answer = decide(body);
      if (answer === 'hang') {
        hanging.push(() => res.destroy());
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  defer(t, () => new Promise<void>((resolve) => {
    for (const h of hanging) h();
    server.close(() => resolve());
  }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth`, calls };
}

test('[SPEC §8] http provider: allow, deny with reason, timeout denies, answers cached, binary passwords as base64', T, async (t) => {
  const auth = await authService(t, (b) => {
    if (b.password === 'slow') return 'hang';
    if (b.password === 'good' || b.password_base64 === Buffer.from([0xff, 0x00]).toString('base64')) return { allow: true };
    return { allow: false, reason: 'unknown charger' };
  });
  const { ocppUrl } = await startTestGateway(t, { 'auth.provider': 'http', 'auth.http.url': auth.url, 'auth.http.timeout': '300ms' });
  const url = `${ocppUrl}/CP1`;
  assert.equal((await upgradeStatus(url, ['ocpp1.6'], { authorization: basic('CP1', 'good') })).status, 101);
  assert.deepEqual(auth.calls[0], { cpId: 'CP1', username: 'CP1', password: 'good', password_base64: Buffer.from('good').toString('base64'), remoteAddress: '127.0.0.1', certificateCn: null, certificateFingerprint: null, protocol: 'ocpp1.6', listener: 'ws' } as unknown as AuthCall);
  // Cached: the same credentials again do not ask the service.
  assert.equal((await upgradeStatus(url, ['ocpp1.6'], { authorization: basic('CP1', 'good') })).status, 101);
  assert.equal(auth.calls.length, 1);
  assert.deepEqual(await upgradeStatus(url, ['ocpp1.6'], { authorization: basic('CP1', 'bad') }), { status: 401, reason: 'unauthorized' });
  assert.deepEqual(await upgradeStatus(url, ['ocpp1.6'], { authorization: basic('CP1', 'slow') }), { status: 401, reason: 'unauthorized' });
  assert.equal((await upgradeStatus(url, ['ocpp1.6'], { authorization: basic('CP1', Buffer.from([0xff, 0x00])) })).status, 101);
  assert.equal(auth.calls.at(-1)?.password, null, 'bytes that are not UTF-8 travel only as base64');
  // No credentials at all: the service decides (here: deny).
  assert.equal((await upgradeStatus(url, ['ocpp1.6'])).status, 401);
});

test('[SPEC §8] http provider: expire_at closes the connection with reason expired', T, async (t) => {
  const auth = await authService(t, () => ({ allow: true, expire_at: new Date(Date.now() + 400).toISOString() }));
  const { ocppUrl, mqttUrl } = await startTestGateway(t, { 'auth.provider': 'http', 'auth.http.url': auth.url });
  const svc = await Service.connect(t, mqttUrl);
  const raw = await rawSocket(t, `${ocppUrl}/CP1`, ['ocpp1.6'], { headers: { authorization: basic('CP1', 'x') } });
  assert.deepEqual(await raw.closed, { code: 1000, reason: 'expired' });
  const ev = await svc.waitFor('ocpp/CP1/event/disconnected');
  assert.equal((ev.json as { reason: string }).reason, 'expired');
});

test('[SPEC §8] http provider: an expire_at in the past or a malformed answer denies', T, async (t) => {
  let answer: object = { allow: true, expire_at: '2001-01-01T00:00:00Z' };
  const auth = await authService(t, () => answer);
  const { ocppUrl } = await startTestGateway(t, { 'auth.provider': 'http', 'auth.http.url': auth.url, 'auth.http.cache_ttl': 0 });
  assert.equal((await upgradeStatus(`${ocppUrl}/CP1`, ['ocpp1.6'], { authorization: basic('CP1', 'x') })).status, 401);
  answer = { allow: 'yes' };
  assert.equal((await upgradeStatus(`${ocppUrl}/CP1`, ['ocpp1.6'], { authorization: basic('CP1', 'x') })).status, 401);
  answer = { allow: true, expire_at: 'soon' };
  assert.equal((await upgradeStatus(`${ocppUrl}/CP1`, ['ocpp1.6'], { authorization: basic('CP1', 'x') })).status, 401);
});

test('[SPEC §8] an unreachable auth service denies (fail closed)', T, async (t) => {
  const { ocppUrl } = await startTestGateway(t, { 'auth.provider': 'http', 'auth.http.url': 'http://127.0.0.1:9/auth' });
  assert.deepEqual(await upgradeStatus(`${ocppUrl}/CP1`, ['ocpp1.6'], { authorization: basic('CP1', 'x') }), { status: 401, reason: 'unauthorized' });
});

test('[SPEC §3] limits: connections per address (429), connect rate with burst (429), origin allow-list (403), profile 1 needs credentials', T, async (t) => {
  const { ocppUrl } = await startTestGateway(t, { 'ocpp.max_connections_per_address': 2, 'ocpp.allowed_origins': 'https://ops.example.com' });
  await rawSocket(t, `${ocppUrl}/A`);
  await rawSocket(t, `${ocppUrl}/B`);
  assert.deepEqual(await upgradeStatus(`${ocppUrl}/C`, ['ocpp1.6']), { status: 429, reason: 'too_many_from_address' });
  const { ocppUrl: other } = await startTestGateway(t, { 'ocpp.allowed_origins': 'https://ops.example.com', 'ocpp.max_connect_rate': 1, 'ocpp.connect_burst': 3, 'ocpp.security_profile': 1 });
  assert.deepEqual(await upgradeStatus(`${other}/X`, ['ocpp1.6'], { origin: 'https://evil.example' }), { status: 403, reason: 'origin_not_allowed' });
  assert.deepEqual(await upgradeStatus(`${other}/X`, ['ocpp1.6'], { origin: 'https://ops.example.com' }), { status: 401, reason: 'credentials_required' });
  assert.equal((await upgradeStatus(`${other}/X`, ['ocpp1.6'], { authorization: basic('X', 'any') })).status, 101);
  // The bucket (3) is spent; of five attempts at once, at most one can find a refilled token (1/s).
  const burst = await Promise.all(['Y1', 'Y2', 'Y3', 'Y4', 'Y5'].map((id) => upgradeStatus(`${other}/${id}`, ['ocpp1.6'])));
  assert.ok(burst.filter((r) => r.status === 429 && r.reason === 'rate_limited').length >= 4, JSON.stringify(burst));
});

test('[SPEC §8] http provider behind the check gate: its refusals are not cached, the service failing does not throttle', T, async (t) => {
  const auth = await authService(t, (b) => ({ allow: b.password === 'good' }));
  const clock = { ...systemClock, t: 1_000_000, now: () => clock.t };
  const gate = new CheckGate({ maxInFlight: 2, maxQueued: 10, failureLimit: 2, failureWindowMs: 60_000, backoffMs: 1000, maxBackoffMs: 8000, maxTrackedSources: 100, now: () => clock.t });
  const provider = new HttpAuthProvider({ url: auth.url, timeoutMs: 2000, cacheTtlMs: 60_000, cacheSize: 100, clock, gate });
  t.after(() => provider.close());
  const ask = (password: string, remoteAddress = '10.0.0.1') => provider.authenticate({ cpId: 'CP1', protocol: 'ocpp1.6', remoteAddress, listener: 'ws', username: 'CP1', password: Buffer.from(password) });
  assert.equal((await ask('guess-1')).allow, false);
  assert.equal((await ask('guess-2')).allow, false);
  const throttled = await ask('good');
  assert.equal(throttled.allow ? undefined : throttled.refusal, 'auth_throttled');
  assert.equal(auth.calls.length, 2, 'a throttled address does not reach the service');
  clock.t += 1000;
  assert.deepEqual(await ask('good'), { allow: true }, 'the 429 was not remembered as a denial');
  // A service that does not answer in time is its own failure, not the client's: never a throttle.
  const failing = await authService(t, () => 'hang');
  const broken = new HttpAuthProvider({ url: failing.url, timeoutMs: 50, cacheTtlMs: 0, cacheSize: 0, clock, gate });
  t.after(() => broken.close());
  for (let i = 0; i < 4; i++) {
    const d = await broken.authenticate({ cpId: 'CP2', protocol: 'ocpp1.6', remoteAddress: '10.0.0.2', listener: 'ws', username: 'CP2', password: Buffer.from(`p${i}`) });
    assert.equal(d.allow ? undefined : d.refusal, undefined, `attempt ${i}: a timeout is a 401, never a throttle`);
  }
  assert.equal(gate.blockedSources(), 0);
});

test('[SPEC §8] http provider: credentials in auth.http.url travel as an Authorization header (fetch refuses them in the URL) and never reach the charger', T, async (t) => {
  const auth = await authService(t, (b) => ({ allow: b.authorization === basic('svc', 'p@ss:word') && b.password === 'good' }));
  const withCredentials = auth.url.replace('http://', `http://svc:${encodeURIComponent('p@ss:word')}@`);
  const { ocppUrl } = await startTestGateway(t, { 'auth.provider': 'http', 'auth.http.url': withCredentials });
  assert.equal((await upgradeStatus(`${ocppUrl}/CP1`, ['ocpp1.6'], { authorization: basic('CP1', 'good') })).status, 101);
  assert.equal(auth.calls[0]?.authorization, basic('svc', 'p@ss:word'));
  assert.deepEqual(await upgradeStatus(`${ocppUrl}/CP2`, ['ocpp1.6'], { authorization: basic('CP2', 'bad') }), { status: 401, reason: 'unauthorized' });
});
