// Security profiles 2 and 3 over wss://, with certificates made by the test. The charge point is
// ocpp-rpc; refusals are read off the HTTP answer of the upgrade. [SPEC §8]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import WebSocket from 'ws';
import { hashPassword } from '../src/auth/password-hash.js';
import { chargePoint, Service, startTestGateway } from './support/harness.js';
import { TestPki } from './support/certs.js';

const T = { timeout: 30_000 };
const pki = new TestPki();
const ca = pki.ca('cp-ca');
const otherCa = pki.ca('rogue-ca');
const serverRsa = pki.server('server-rsa', ca, 'rsa');
const serverEc = pki.server('server-ec', ca, 'ec');
const cp1 = TestPki.pem(pki.client('cp1', ca, 'CP1'));
const cp2 = TestPki.pem(pki.client('cp2', ca, 'CP2'));
const rogue = TestPki.pem(pki.client('rogue', otherCa, 'CP1'));
const expired = TestPki.pem(pki.expiredClient('expired', ca, 'CP1'));
const caPem = readFileSync(ca.cert);

function wssStatus(url: string, options: WebSocket.ClientOptions): Promise<{ status: number; reason: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['ocpp1.6'], { ca: caPem, ...options });
    ws.once('open', () => {
      resolve({ status: 101, reason: undefined, body: '' });
      ws.terminate();
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, reason: res.headers['x-ocpp-gateway-reason'] as string | undefined, body }));
    });
    ws.once('error', (err) => {
      if (!/Unexpected server response/.test(String(err))) reject(err);
    });
  });
}

test('[SPEC §8] profile 2: Basic over wss (RSA server certificate); missing or wrong credentials refused', T, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ocpp-gw-p2-'));
  const creds = join(dir, 'creds.yaml');
  writeFileSync(creds, `CP1: "${await hashPassword(Buffer.from('pw-1'))}"\n`);
  const { wssUrl, mqttUrl } = await startTestGateway(t, {
    'ocpp.tls.port': 0, 'ocpp.tls.host': '127.0.0.1', 'ocpp.tls.cert_file': serverRsa.cert, 'ocpp.tls.key_file': serverRsa.key, 'ocpp.tls.security_profile': 2,
    'auth.provider': 'file', 'auth.file': creds,
  });
  const svc = await Service.connect(t, mqttUrl);
  svc.client.on('message', (topic) => {
    const m = /^ocpp\/CP1\/up\/request\/Heartbeat\/(.+)$/.exec(topic);
    if (m) void svc.publish(`ocpp/CP1/dn/response/Heartbeat/${m[1]}`, { currentTime: '2026-11-23T10:00:00Z' });
  });
  const cp = await chargePoint(t, wssUrl, 'CP1', { password: 'pw-1', wsOpts: { ca: caPem } });
  assert.deepEqual(await cp.call('Heartbeat', {}), { currentTime: '2026-11-23T10:00:00Z' });
  assert.deepEqual((await wssStatus(`${wssUrl}/CP1`, {})).reason, 'credentials_required');
  const wrong = await wssStatus(`${wssUrl}/CP1`, { headers: { authorization: `Basic ${Buffer.from('CP1:nope').toString('base64')}` } });
  assert.deepEqual([wrong.status, wrong.reason], [401, 'unauthorized']);
  // TLS below 1.2 is refused in the handshake.
  const port = Number(new URL(wssUrl).port);
  await assert.rejects(new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca: caPem, servername: 'localhost', minVersion: 'TLSv1', maxVersion: 'TLSv1.1' }, () => resolve(s.getProtocol()));
    s.once('error', reject);
  }));
});

test('[SPEC §8] profile 3: mTLS with CN binding (ECDSA server certificate); wrong CN, unknown CA, expired, no certificate each refused as documented', T, async (t) => {
  const { wssUrl, ocppUrl, mqttUrl } = await startTestGateway(t, {
    'ocpp.tls.port': 0, 'ocpp.tls.host': '127.0.0.1', 'ocpp.tls.cert_file': serverEc.cert, 'ocpp.tls.key_file': serverEc.key, 'ocpp.tls.ca_file': ca.cert, 'ocpp.tls.security_profile': 3,
    'ocpp.security_profile': 1,
  });
  const svc = await Service.connect(t, mqttUrl, ['ocpp/+/event/#']);
  const cp = await chargePoint(t, wssUrl, 'CP1', { wsOpts: { ca: caPem, cert: cp1.cert, key: cp1.key } });
  assert.equal(cp.protocol, 'ocpp1.6');
  const connected = await svc.waitFor('ocpp/CP1/event/connected');
  assert.equal((connected.json as { cpId: string }).cpId, 'CP1');

  const cases: Array<[string, WebSocket.ClientOptions, number, string, RegExp]> = [
    ['wrong CN', { cert: cp2.cert, key: cp2.key }, 403, 'certificate_cn_mismatch', /CN "CP2" is not the charge point id "CP1"/],
    ['unknown CA', { cert: rogue.cert, key: rogue.key }, 401, 'certificate_invalid', /does not verify/],
    ['expired', { cert: expired.cert, key: expired.key }, 401, 'certificate_invalid', /CERT_HAS_EXPIRED/],
    ['no certificate', {}, 401, 'certificate_required', /no client certificate/],
  ];
  for (const [name, opts, status, reason, detail] of cases) {
    const r = await wssStatus(`${wssUrl}/CP1`, opts);
    assert.deepEqual([r.status, r.reason], [status, reason], name);
    assert.match(r.body, detail, name);
  }
  await svc.waitFor((m) => m.topic === 'ocpp/CP1/event/rejected' && (m.json as { reason: string }).reason === 'certificate_required');
  const rejected = svc.received.filter((m) => m.topic === 'ocpp/CP1/event/rejected').map((m) => (m.json as { reason: string }).reason);
  assert.deepEqual(rejected, cases.map((c) => c[3]));
  // The ws:// listener (profile 1) runs alongside and wants Basic credentials.
  const plain = await new Promise<number>((resolve) => {
    const ws = new WebSocket(`${ocppUrl}/CP9`, ['ocpp1.6']);
    ws.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
    ws.once('open', () => resolve(101));
    ws.once('error', () => undefined);
  });
  assert.equal(plain, 401);
});

test('[SPEC §8] profile 3 with cn_must_match off admits any valid certificate', T, async (t) => {
  const { wssUrl } = await startTestGateway(t, {
    'ocpp.tls.port': 0, 'ocpp.tls.host': '127.0.0.1', 'ocpp.tls.cert_file': serverEc.cert, 'ocpp.tls.key_file': serverEc.key, 'ocpp.tls.ca_file': ca.cert, 'ocpp.tls.security_profile': 3, 'ocpp.tls.cn_must_match': false,
  });
  assert.equal((await wssStatus(`${wssUrl}/CP1`, { cert: cp2.cert, key: cp2.key })).status, 101);
});

test('[SPEC §8] certificates are reloaded on change without a restart', T, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ocpp-gw-reload-'));
  const certFile = join(dir, 'server.pem');
  const keyFile = join(dir, 'server.key');
  copyFileSync(serverRsa.cert, certFile);
  copyFileSync(serverRsa.key, keyFile);
  const { gw, wssUrl } = await startTestGateway(t, { 'ocpp.tls.port': 0, 'ocpp.tls.host': '127.0.0.1', 'ocpp.tls.cert_file': certFile, 'ocpp.tls.key_file': keyFile, 'auth.provider': 'none', 'ocpp.tls.security_profile': 2 });
  const port = Number(new URL(wssUrl).port);
  const servedFingerprint = () => new Promise<string>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca: caPem, servername: 'localhost' }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.destroy();
    });
    s.once('error', reject);
  });
  assert.equal(await servedFingerprint(), new X509Certificate(readFileSync(serverRsa.cert)).fingerprint256);
  copyFileSync(serverEc.cert, certFile);
  copyFileSync(serverEc.key, keyFile);
  await gw.reload(); // what SIGHUP does; the file watcher does the same within 2 s
  assert.equal(await servedFingerprint(), new X509Certificate(readFileSync(serverEc.cert)).fingerprint256);
});

test('[SPEC §8] missing certificate files stop the start with a message naming the key', T, async (t) => {
  await assert.rejects(startTestGateway(t, { 'ocpp.tls.cert_file': '/nonexistent/cert.pem', 'ocpp.tls.key_file': '/nonexistent/key.pem' }), /ocpp\.tls\.cert_file: cannot read \/nonexistent\/cert\.pem \(ENOENT\)/);
});
