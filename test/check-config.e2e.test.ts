// `ocpp-gateway check-config` as an operator runs it: every problem the start would refuse, in one pass,
// each line naming the key and where its value came from (config file, environment variable, flag);
// the start itself prints the same lines. [SPEC §2]
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { within } from './support/harness.js';
import { run } from './support/process.js';
import { defer } from './support/cleanup.js';
import { TestPki } from './support/certs.js';
import { hashPassword } from '../src/auth/password-hash.js';

const T = { timeout: 90_000 };

/** The CLI with args and extra environment: exit code, stderr lines (without the "ocpp-gateway: " prefix) and stdout. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; lines: string[]; out: string }> {
  // Variables of the test's own environment must not leak into the configuration under test.
  const clean = Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith('OCPP_GW_')).map((k) => [k, '']));
  const r = run(args, { ...clean, ...env });
  let out = '';
  r.child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  // A process start on a loaded machine (tsx compiles the sources) takes longer than other waits.
  const code = await within(r.exit, `ocpp-gateway ${args.join(' ')}`, 45_000);
  const lines = r.stderr().split('\n').filter((l) => l !== '').map((l) => l.replace(/^ocpp-gateway: /, ''));
  return { code, lines, out };
}

function workDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'ocpp-gw-check-'));
  defer(t, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The line of `key`, checked against `pattern` (after "key: "), ending with its source note. */
function lineOf(lines: string[], key: string): string {
  const found = lines.filter((l) => l.startsWith(`${key}: `));
  assert.equal(found.length, 1, `one line for ${key} in:\n${lines.join('\n')}`);
  return found[0] as string;
}

test('[SPEC §2] check-config: schema errors, rules between keys, URLs, files, port clashes in one pass, each naming its source; the start prints the same lines', T, async (t) => {
  const dir = workDir(t);
  const garbage = join(dir, 'garbage.pem');
  writeFileSync(garbage, 'not a certificate\n');
  const aFolder = join(dir, 'folder');
  mkdirSync(aFolder);
  const creds = join(dir, 'creds.yaml');
  writeFileSync(creds, 'CP1: 123\n');
  const schemas = join(dir, 'schemas');
  mkdirSync(schemas);
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, [
    'ocpp:',
    '  port: 40001',
    '  unknown_thing: 1',
    '  tls:',
    `    cert_file: ${garbage}`,
    `    key_file: ${aFolder}`,
    'auth:',
    '  provider: file',
    `  file: ${creds}`,
    `json_schema_dir: ${schemas}`,
    '',
  ].join('\n'));
  const env = { OCPP_GW_MQTT__URL: 'localhost:1883', OCPP_GW_UPSTREAM__AWAITING_TIMEOUT: 'soon' };
  const flags = ['--config', file, '--api-port', '40001', '--set', 'mqtt.tls.ca_file=/nonexistent/ca.pem', '--set', 'topics.status=x/status', '--set', 'mqtt.qos=7'];

  const [check, start] = await Promise.all([cli(['check-config', ...flags], env), cli(flags, env)]);
  assert.equal(check.code, 1);
  assert.doesNotMatch(check.out, /valid/);
  const fromFile = `from config file ${escape(file)}`;
  const expected: Record<string, RegExp> = {
    // the schema: one key each
    'ocpp.unknown_thing': new RegExp(`^ocpp\\.unknown_thing: unknown key \\(${fromFile}\\)$`),
    'upstream.awaiting_timeout': /^upstream\.awaiting_timeout: .*not a duration.* \(from environment variable OCPP_GW_UPSTREAM__AWAITING_TIMEOUT\)$/,
    'mqtt.qos': /^mqtt\.qos: must be a whole number from 0 to 2, got "7" \(from flag --set mqtt\.qos\)$/,
    // a rule between keys, in the same pass as the single-key errors
    'topics.status': /^topics\.status: must contain \$\{cpId\} \(from flag --set topics\.status\)$/,
    // URLs
    'mqtt.url': /^mqtt\.url: "localhost:1883" has no scheme; .*e\.g\. mqtt:\/\/localhost:1883 \(from environment variable OCPP_GW_MQTT__URL\)$/,
    // files: missing, unreadable (a folder), not what the key says
    'mqtt.tls.ca_file': /^mqtt\.tls\.ca_file: cannot read \/nonexistent\/ca\.pem \(ENOENT\) \(from flag --set mqtt\.tls\.ca_file\)$/,
    'ocpp.tls.key_file': new RegExp(`^ocpp\\.tls\\.key_file: cannot read ${escape(aFolder)} \\(EISDIR\\) \\(${fromFile}\\)$`),
    'ocpp.tls.cert_file': new RegExp(`^ocpp\\.tls\\.cert_file: ${escape(garbage)} is not a PEM certificate \\(.+\\) \\(${fromFile}\\)$`),
    'auth.file': new RegExp(`^auth\\.file: ${escape(creds)}: CP1: the hash must be a string \\(${fromFile}\\)$`),
    'json_schema_dir': new RegExp(`^json_schema_dir: ${escape(schemas)} has no \\.json files \\(${fromFile}\\)$`),
    // two listeners on one port: the flag that set one, the file that set the other
    'api.port': new RegExp(`^api\\.port: 40001 is also ocpp\\.port \\(ocpp\\.host 0\\.0\\.0\\.0, api\\.host 127\\.0\\.0\\.1\\); two listeners cannot share a port \\(from flag --api-port; ocpp\\.port ${fromFile}\\)$`),
  };
  assert.deepEqual(check.lines.map((l) => l.split(': ')[0]).sort(), Object.keys(expected).sort(), check.lines.join('\n'));
  for (const [key, pattern] of Object.entries(expected)) assert.match(lineOf(check.lines, key), pattern);

  // The start refuses with exactly these lines: one list, so the two cannot disagree.
  assert.equal(start.code, 1);
  assert.deepEqual(start.lines, check.lines);
});

test('[SPEC §2] check-config: wrong URL schemes, a key that is not its certificate\'s, a profile-3 listener without CA; passwords in URLs stay masked', T, async (t) => {
  const dir = workDir(t);
  const pki = new TestPki();
  defer(t, () => rmSync(pki.dir, { recursive: true, force: true }));
  const ca = pki.ca('ca');
  const one = pki.server('one', ca, 'ec');
  const other = pki.server('other', ca, 'ec');
  const empty = join(dir, 'empty-ca.pem');
  writeFileSync(empty, '# no certificates here\n');
  const r = await cli([
    'check-config', '--mqtt-url', 'http://broker:1883',
    '--set', `mqtt.tls.cert_file=${one.cert}`, '--set', `mqtt.tls.key_file=${other.key}`, '--set', `mqtt.tls.ca_file=${empty}`,
    '--set', 'auth.provider=http', '--set', 'auth.http.url=ftp://svc:Url-S3cret@auth.example/check',
    '--set', 'ocpp.security_profile=3',
  ]);
  assert.equal(r.code, 1);
  assert.match(lineOf(r.lines, 'mqtt.url'), /^mqtt\.url: "http:\/\/broker:1883" has the scheme http:\/\/; expected one of mqtt:\/\/, mqtts:\/\/, ws:\/\/, wss:\/\/, mqtt\+unix:\/\/ \(from flag --mqtt-url\)$/);
  assert.match(lineOf(r.lines, 'auth.http.url'), /^auth\.http\.url: "ftp:\/\/\*\*\*@auth\.example\/check" has the scheme ftp:\/\/; expected one of http:\/\/, https:\/\/ \(from flag --set auth\.http\.url\)$/);
  assert.match(lineOf(r.lines, 'mqtt.tls.key_file'), new RegExp(`^mqtt\\.tls\\.key_file: ${escape(other.key)} is not the key of the certificate in mqtt\\.tls\\.cert_file \\(.+\\) \\(from flag --set mqtt\\.tls\\.key_file; mqtt\\.tls\\.cert_file from flag --set mqtt\\.tls\\.cert_file\\)$`));
  assert.match(lineOf(r.lines, 'mqtt.tls.ca_file'), /holds no PEM certificate \(from flag --set mqtt\.tls\.ca_file\)$/);
  assert.match(lineOf(r.lines, 'ocpp.tls.ca_file'), /^ocpp\.tls\.ca_file: is required for ocpp\.security_profile 3 .*\(ocpp\.security_profile from flag --set ocpp\.security_profile\)$/);
  assert.equal(r.lines.length, 5, r.lines.join('\n'));
  assert.ok(!r.lines.join('\n').includes('Url-S3cret'), 'the password of auth.http.url is not shown');
});

test('[SPEC §2] check-config: real files, URLs and port 0 on every listener pass', T, async (t) => {
  const dir = workDir(t);
  const pki = new TestPki();
  defer(t, () => rmSync(pki.dir, { recursive: true, force: true }));
  const ca = pki.ca('ca');
  const server = pki.server('server', ca, 'ec');
  const client = pki.client('client', ca, 'ocpp-gateway');
  const creds = join(dir, 'creds.yaml');
  writeFileSync(creds, `CP1: ${await hashPassword(Buffer.from('pw'))}\n`);
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, JSON.stringify({
    ocpp: { port: 0, tls: { port: 0, cert_file: server.cert, key_file: server.key, ca_file: ca.cert } },
    mqtt: { url: 'mqtts://broker.example:8883', tls: { ca_file: ca.cert, cert_file: client.cert, key_file: client.key } },
    api: { port: 0 },
    auth: { provider: 'file', file: creds },
  }));
  const r = await cli(['check-config', '--config', file]);
  assert.equal(r.code, 0, r.lines.join('\n'));
  assert.equal(r.out, 'configuration is valid\n');
  // An auth service URL with http(s) is fine, and so are the embedded broker's listeners on port 0.
  const http = await cli(['check-config', '--set', 'auth.provider=http', '--set', 'auth.http.url=https://auth.example/check', '--mqtt-port', '0', '--mqtt-ws-port', '0', '--api-port', '0', '--ocpp-port', '0']);
  assert.equal(http.code, 0, http.lines.join('\n'));
});
