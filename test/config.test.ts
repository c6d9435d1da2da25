import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envToTree, loadConfig } from '../src/config/load.js';
import { parseDuration, parseSize } from '../src/config/units.js';
import { hostsOverlap } from '../src/config/startup-checks.js';

test('durations and sizes', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration(250), 250);
  assert.equal(parseDuration('250'), 250);
  for (const bad of ['', 's', '5 days', '-1s', 'abc', -5, Number.NaN, true]) assert.equal(typeof parseDuration(bad), 'string', String(bad));
  assert.equal(parseSize('256KiB'), 262_144);
  assert.equal(parseSize('1MiB'), 1_048_576);
  assert.equal(parseSize('10kB'), 10_000);
  assert.equal(parseSize(100), 100);
  for (const bad of ['1XB', 'big', 1.5, -1]) assert.equal(typeof parseSize(bad), 'string', String(bad));
});

test('[SPEC §2] defaults match the contract', () => {
  const r = loadConfig({});
  assert.ok(r.ok);
  if (!r.ok) return;
  const c = r.config;
  assert.equal(c.ocpp.port, 33033);
  assert.equal(c.ocpp.host, '0.0.0.0');
  assert.equal(c.ocpp.path, '/ocpp');
  assert.equal(c.ocpp.max_frame_size, 256 * 1024);
  assert.equal(c.ocpp.ws_ping_interval, 60_000);
  assert.equal(c.ocpp.max_bad_messages, 10);
  assert.equal(c.ocpp.max_id_length, 48);
  assert.equal(c.mqtt.embedded.port, 1883);
  assert.equal(c.mqtt.embedded.ws_port, 8083);
  assert.equal(c.mqtt.embedded.ws_path, '/mqtt');
  assert.equal(c.mqtt.qos, 1);
  assert.equal(c.mqtt.mountpoint, 'ocpp/');
  assert.equal(c.api.host, '127.0.0.1');
  assert.equal(c.api.port, 18083);
  assert.equal(c.upstream.awaiting_timeout, 30_000);
  assert.equal(c.dnstream.max_mqueue_len, 100);
  assert.equal(c.dnstream.retry_interval, 30_000);
  assert.equal(c.dnstream.max_retries, 0);
  assert.equal(c.shutdown_timeout, 10_000);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.ocpp));
});

test('[SPEC §2] file < env < flags, env names with __ between levels', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ocpp-gw-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'ocpp:\n  port: 1000\n  path: /cp\nupstream:\n  awaiting_timeout: 5s\n');
  assert.deepEqual(envToTree({ OCPP_GW_MQTT__URL: 'mqtt://x', OTHER: 'y', OCPP_GW_UPSTREAM__AWAITING_TIMEOUT: '1s' }), { mqtt: { url: 'mqtt://x' }, upstream: { awaiting_timeout: '1s' } });
  const r = loadConfig({ file, env: { OCPP_GW_OCPP__PORT: '2000', OCPP_GW_UPSTREAM__AWAITING_TIMEOUT: '7s' }, overrides: [['ocpp.port', '3000']] });
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.equal(r.config.ocpp.port, 3000);
  assert.equal(r.config.ocpp.path, '/cp');
  assert.equal(r.config.upstream.awaiting_timeout, 7000);
});

test('[SPEC §2] every bad key is reported, one line each, naming the key; single-key errors and the rules between keys in one pass', () => {
  const r = loadConfig({ env: { OCPP_GW_OCPP__PROTOCOLS: 'ocpp1.6,ocpp9', OCPP_GW_NOPE: '1' }, overrides: [['mqtt.qos', '3'], ['auth.provider', 'file'], ['topics.status', 'x/status'], ['log.level', 'loud']] });
  assert.ok(!r.ok);
  if (r.ok) return;
  assert.deepEqual(r.errors.map((e) => e.split(':')[0]).sort(), ['auth.file', 'log.level', 'mqtt.qos', 'nope', 'ocpp.protocols.1', 'topics.status']);
  const r2 = loadConfig({ env: { OCPP_GW_OCPP__PROTOCOLS: 'ocpp1.6,ocpp9' }, overrides: [['auth.provider', 'file'], ['topics.status', 'x/status'], ['ocpp.default_protocol', 'ocpp2.1']] });
  assert.ok(!r2.ok);
  if (r2.ok) return;
  assert.deepEqual(r2.errors.map((e) => e.split(':')[0]).sort(), ['auth.file', 'ocpp.default_protocol', 'ocpp.protocols.1', 'topics.status']);
});

test('[SPEC §2] each error names where its value came from: config file, environment variable, flag', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ocpp-gw-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'ocpp:\n  port: 99999\n  unknown_thing: 1\nauth:\n  provider: file\n');
  const r = loadConfig({
    file,
    env: { OCPP_GW_UPSTREAM__AWAITING_TIMEOUT: 'soon', OCPP_GW_NOPE__DEEP: 'x' },
    overrides: [['mqtt.qos', '9', '--set mqtt.qos'], ['api.port', 'x', '--api-port'], ['log.level', 'loud']],
  });
  assert.ok(!r.ok);
  if (r.ok) return;
  const line = (key: string) => r.errors.find((e) => e.startsWith(`${key}:`)) ?? `(no error for ${key})`;
  assert.match(line('ocpp.port'), new RegExp(`\\(from config file ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)$`));
  assert.match(line('ocpp.unknown_thing'), /^ocpp\.unknown_thing: unknown key \(from config file /);
  assert.match(line('upstream.awaiting_timeout'), /\(from environment variable OCPP_GW_UPSTREAM__AWAITING_TIMEOUT\)$/);
  assert.match(line('nope'), /^nope: unknown key \(from environment variable OCPP_GW_NOPE__DEEP\)$/);
  assert.match(line('mqtt.qos'), /\(from flag --set mqtt\.qos\)$/);
  assert.match(line('api.port'), /\(from flag --api-port\)$/);
  assert.match(line('log.level'), /\(from flag --set log\.level\)$/, 'an override without its flag is named as --set');
  // A rule names its own key (at its default here) and the source of the other key it names.
  assert.match(line('auth.file'), /^auth\.file: is required when auth\.provider is "file" \(auth\.provider from config file .*c\.yaml\)$/);
  // Later sources replace earlier ones, and so does the source named.
  const later = loadConfig({ file, env: { OCPP_GW_OCPP__PORT: 'x' }, overrides: [['auth.file', '/f']] });
  assert.ok(!later.ok);
  if (later.ok) return;
  assert.match(later.errors.find((e) => e.startsWith('ocpp.port:')) ?? '', /\(from environment variable OCPP_GW_OCPP__PORT\)$/);
});

test('[SPEC §2] a rule about a key that already failed is left out; the failed keys are at their defaults in the fallback', () => {
  const r = loadConfig({ overrides: [['auth.provider', 'http'], ['auth.http.url', 5], ['ocpp.port', 'x']] });
  assert.ok(!r.ok);
  if (r.ok) return;
  assert.deepEqual(r.errors.map((e) => e.split(':')[0]), ['ocpp.port', 'auth.http.url'], r.errors.join('\n'));
  assert.equal(r.fallback?.config.ocpp.port, 33033);
  assert.equal(r.fallback?.config.auth.provider, 'http');
  // An unknown section or a section that is not a mapping does not hide the other errors.
  const s = loadConfig({ overrides: [['ocpp', 5], ['nope.deeper', 1], ['mqtt.qos', 7]] });
  assert.ok(!s.ok);
  if (s.ok) return;
  assert.deepEqual(s.errors.map((e) => e.split(':')[0]).sort(), ['mqtt.qos', 'nope', 'ocpp']);
  assert.ok(s.fallback !== undefined);
});

test('[SPEC §2] listeners clash on overlapping addresses only: the same, "::" with any, 0.0.0.0 with IPv4', () => {
  assert.equal(hostsOverlap('127.0.0.1', '127.0.0.1'), true);
  assert.equal(hostsOverlap('0.0.0.0', '127.0.0.1'), true);
  assert.equal(hostsOverlap('::', '127.0.0.1'), true);
  assert.equal(hostsOverlap('[::1]', '::1'), true);
  assert.equal(hostsOverlap('::', 'localhost'), true);
  assert.equal(hostsOverlap('0.0.0.0', '::1'), false);
  assert.equal(hostsOverlap('127.0.0.1', '127.0.0.2'), false);
  assert.equal(hostsOverlap('0.0.0.0', 'localhost'), false, 'a name is not resolved before the start');
});

test('config file errors are one line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ocpp-gw-'));
  const f = join(dir, 'broken.yaml');
  writeFileSync(f, 'ocpp: [\n');
  const r = loadConfig({ file: f });
  assert.ok(!r.ok && r.errors.length === 1 && r.errors[0]?.includes('not valid YAML'));
  const missing = loadConfig({ file: join(dir, 'missing.yaml') });
  assert.ok(!missing.ok && missing.errors[0]?.includes('ENOENT'));
  const list = join(dir, 'list.json');
  writeFileSync(list, '[1]');
  const l = loadConfig({ file: list });
  assert.ok(!l.ok && l.errors[0]?.includes('mapping'));
});
