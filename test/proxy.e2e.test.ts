// TLS terminated or connections relayed by a load balancer: PROXY protocol v1/v2 and a forwarded
// client certificate, believed only from ocpp.trusted_proxies. [SPEC §8]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { parseProxyHeader, PROXY_V2_SIGNATURE } from '../src/transport/proxy-protocol.js';
import { Service, startTestGateway } from './support/harness.js';
import { TestPki } from './support/certs.js';
import { defer } from './support/cleanup.js';

const T = { timeout: 30_000 };

function v2Header(src: string, srcPort: number): Buffer {
  const body = Buffer.alloc(12);
  src.split('.').forEach((o, i) => body.writeUInt8(Number(o), i));
  [10, 0, 0, 1].forEach((o, i) => body.writeUInt8(o, 4 + i));
  body.writeUInt16BE(srcPort, 8);
  body.writeUInt16BE(33033, 10);
  const head = Buffer.from([0x21, 0x11, 0x00, 12]);
  return Buffer.concat([PROXY_V2_SIGNATURE, head, body]);
}

/** Opens a WebSocket whose TCP stream starts with `preamble` (what a load balancer would send). */
function openThroughProxy(url: string, preamble: Buffer | string, options: WebSocket.ClientOptions = {}, tls?: { ca: Buffer }): Promise<{ status: number; ws?: WebSocket }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['ocpp1.6'], {
      ...options,
      createConnection: () => {
        const raw: Socket = netConnect(Number(u.port), '127.0.0.1');
        raw.write(preamble);
        return tls ? tlsConnect({ socket: raw, ca: tls.ca, servername: 'localhost' }) : raw;
      },
    });
    ws.once('open', () => resolve({ status: 101, ws }));
    ws.once('unexpected-response', (_q, res) => resolve({ status: res.statusCode ?? 0 }));
    ws.once('error', (err) => (/Unexpected server response/.test(String(err)) ? undefined : reject(err)));
  });
}

test('PROXY protocol parser: v1, v2, LOCAL, partial and broken headers', () => {
  assert.deepEqual(parseProxyHeader(Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.1 5555 33033\r\nGET /')), { state: 'done', consumed: 44, source: { address: '203.0.113.7', port: 5555 } });
  assert.deepEqual(parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::1 ::1 5555 33033\r\n')).state, 'done');
  assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), { state: 'done', consumed: 15, source: undefined });
  assert.deepEqual(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3')), { state: 'incomplete' });
  assert.deepEqual(parseProxyHeader(Buffer.from('PRO')), { state: 'incomplete' });
  assert.equal(parseProxyHeader(Buffer.from('PROXY TCP4 999.2.3.4 10.0.0.1 1 2\r\n')).state, 'invalid');
  assert.equal(parseProxyHeader(Buffer.from('GET / HTTP/1.1\r\n')).state, 'invalid');
  assert.equal(parseProxyHeader(Buffer.from(`PROXY ${'x'.repeat(120)}`)).state, 'invalid');
  assert.deepEqual(parseProxyHeader(v2Header('198.51.100.9', 4000)), { state: 'done', consumed: 28, source: { address: '198.51.100.9', port: 4000 } });
  assert.deepEqual(parseProxyHeader(v2Header('198.51.100.9', 4000).subarray(0, 20)), { state: 'incomplete' });
  const local = Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
  assert.deepEqual(parseProxyHeader(local), { state: 'done', consumed: 16, source: undefined });
});

test('[SPEC §8] PROXY protocol v1 and v2 set the charge point address; untrusted peers and bad headers are dropped', T, async (t) => {
  const { ocppUrl, mqttUrl, gw } = await startTestGateway(t, { 'ocpp.proxy_protocol': true, 'ocpp.trusted_proxies': '127.0.0.1' });
  const svc = await Service.connect(t, mqttUrl, ['ocpp/+/event/connected']);
  const v1 = await openThroughProxy(`${ocppUrl}/CP-V1`, 'PROXY TCP4 203.0.113.7 10.0.0.1 5555 33033\r\n');
  defer(t, () => v1.ws?.terminate());
  assert.equal(v1.status, 101);
  assert.equal(((await svc.waitFor('ocpp/CP-V1/event/connected')).json as { remoteAddress: string }).remoteAddress, '203.0.113.7');
  const v2 = await openThroughProxy(`${ocppUrl}/CP-V2`, v2Header('198.51.100.9', 4000));
  defer(t, () => v2.ws?.terminate());
  assert.equal(gw.registry.get('CP-V2')?.remoteAddress, '198.51.100.9');
  // A connection without a header, and one from an address that is not a trusted proxy, are dropped.
  await assert.rejects(openThroughProxy(`${ocppUrl}/CP-X`, ''), /socket hang up|ECONNRESET/);
  await assert.rejects(new Promise((resolve, reject) => {
    const ws = new WebSocket(`${ocppUrl}/CP-Y`, ['ocpp1.6'], { localAddress: '127.0.0.2' });
    ws.once('open', resolve);
    ws.once('error', reject);
  }), /socket hang up|ECONNRESET/);
  const metrics = (await gw.api?.inject('/metrics'))?.body ?? '';
  assert.match(metrics, /upgrade_refusals_total\{reason="bad_proxy_header"\} 1/);
  assert.match(metrics, /upgrade_refusals_total\{reason="untrusted_proxy"\} 1/);
});

test('[SPEC §8] PROXY protocol in front of the wss:// listener', T, async (t) => {
  const pki = new TestPki();
  const ca = pki.ca('proxy-ca');
  const server = pki.server('proxy-server', ca, 'ec');
  const { wssUrl, gw } = await startTestGateway(t, { 'ocpp.proxy_protocol': true, 'ocpp.tls.port': 0, 'ocpp.tls.host': '127.0.0.1', 'ocpp.tls.cert_file': server.cert, 'ocpp.tls.key_file': server.key, 'ocpp.tls.security_profile': 2 });
  const r = await openThroughProxy(`${wssUrl}/CP-TLS`, 'PROXY TCP4 192.0.2.44 10.0.0.1 6000 33034\r\n', { headers: { authorization: `Basic ${Buffer.from('CP-TLS:x').toString('base64')}` } }, { ca: readFileSync(ca.cert) });
  defer(t, () => r.ws?.terminate());
  assert.equal(r.status, 101);
  assert.equal(gw.registry.get('CP-TLS')?.remoteAddress, '192.0.2.44');
});

test('[SPEC §8] profile 3 behind a TLS-terminating proxy: the forwarded certificate is verified, only from trusted proxies', T, async (t) => {
  const pki = new TestPki();
  const ca = pki.ca('fwd-ca');
  const rogueCa = pki.ca('fwd-rogue');
  const pem = (pair: { cert: string }) => encodeURIComponent(readFileSync(pair.cert, 'utf8'));
  const good = pem(pki.client('fwd-cp1', ca, 'CP1'));
  const otherCn = pem(pki.client('fwd-cp2', ca, 'CP2'));
  const rogue = pem(pki.client('fwd-rogue-cp1', rogueCa, 'CP1'));
  const expired = pem(pki.expiredClient('fwd-expired', ca, 'CP1'));
  const { ocppUrl } = await startTestGateway(t, { 'ocpp.security_profile': 3, 'ocpp.client_cert_header': 'X-SSL-Client-Cert', 'ocpp.trusted_proxies': '127.0.0.1', 'ocpp.tls.ca_file': ca.cert, 'ocpp.max_connections_per_address': 100 });
  const status = (header: string | undefined, localAddress = '127.0.0.1') => new Promise<[number, string | undefined]>((resolve) => {
    const ws = new WebSocket(`${ocppUrl}/CP1`, ['ocpp1.6'], { localAddress, headers: header === undefined ? {} : { 'x-ssl-client-cert': header } });
    ws.once('open', () => { resolve([101, undefined]); ws.terminate(); });
    ws.once('unexpected-response', (_q, res) => { resolve([res.statusCode ?? 0, res.headers['x-ocpp-gateway-reason'] as string | undefined]); res.resume(); });
    ws.once('error', () => undefined);
  });
  assert.deepEqual(await status(good), [101, undefined]);
  assert.deepEqual(await status(otherCn), [403, 'certificate_cn_mismatch']);
  assert.deepEqual(await status(rogue), [401, 'certificate_invalid']);
  assert.deepEqual(await status(expired), [401, 'certificate_invalid']);
  assert.deepEqual(await status(undefined), [401, 'certificate_required']);
  assert.deepEqual(await status('not%20a%20certificate'), [401, 'certificate_invalid']);
  // The same header from an address that is not a trusted proxy is not believed.
  assert.deepEqual(await status(good, '127.0.0.2'), [401, 'certificate_required']);
});

test('[SPEC §8] PROXY protocol in front of a profile 3 wss:// listener: client certificates still verified', T, async (t) => {
  const pki = new TestPki();
  const ca = pki.ca('pp3-ca');
  const server = pki.server('pp3-server', ca, 'ec');
  const good = TestPki.pem(pki.client('pp3-cp1', ca, 'CP1'));
  const wrongCn = TestPki.pem(pki.client('pp3-cp2', ca, 'CP2'));
  const expired = TestPki.pem(pki.expiredClient('pp3-exp', ca, 'CP1'));
  const { wssUrl, gw } = await startTestGateway(t, { 'ocpp.proxy_protocol': true, 'ocpp.tls.port': 0, 'ocpp.tls.host': '127.0.0.1', 'ocpp.tls.cert_file': server.cert, 'ocpp.tls.key_file': server.key, 'ocpp.tls.ca_file': ca.cert, 'ocpp.tls.security_profile': 3 });
  const caPem = readFileSync(ca.cert);
  const attempt = async (client: { cert: Buffer; key: Buffer } | undefined) => {
    const u = new URL(`${wssUrl}/CP1`);
    return new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(u, ['ocpp1.6'], {
        createConnection: () => {
          const raw = netConnect(Number(u.port), '127.0.0.1');
          raw.write('PROXY TCP4 192.0.2.55 10.0.0.1 6000 33034\r\n');
          return tlsConnect({ socket: raw, ca: caPem, servername: 'localhost', ...(client ?? {}) });
        },
      });
      ws.once('open', () => { resolve(101); ws.terminate(); });
      ws.once('unexpected-response', (_q, res) => { resolve(res.statusCode ?? 0); res.resume(); });
      ws.once('error', (err) => (/Unexpected server response/.test(String(err)) ? undefined : reject(err)));
    });
  };
  assert.equal(await attempt(wrongCn), 403);
  assert.equal(await attempt(expired), 401);
  assert.equal(await attempt(undefined), 401);
  assert.equal(await attempt(good), 101);
  const metrics = (await gw.api?.inject('/metrics'))?.body ?? '';
  assert.match(metrics, /upgrade_refusals_total\{reason="certificate_cn_mismatch"\} 1/);
  assert.match(metrics, /upgrade_refusals_total\{reason="certificate_invalid"\} 1/);
  assert.match(metrics, /upgrade_refusals_total\{reason="certificate_required"\} 1/);
});
