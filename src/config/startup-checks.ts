// What the start would refuse beyond the schema: URLs the clients could not use, files that cannot be
// read or are not what their key says, two listeners on one port, a json_schema_dir that does not
// load, topic templates that do not compile. The one list that both `check-config` and the start
// (startGateway) use, so the two cannot disagree. Each problem is one line "key: message". [SPEC §2]
import { isIPv4 } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { Config, Protocol } from './schema.js';
import { readCaCertificates, readKeyFile } from '../transport/tls.js';
import { loadCredentials } from '../auth/file-provider.js';
import { MessageChecks } from '../validation/checks.js';
import { PROTOCOLS } from '../ocpp/profiles/index.js';
import { TopicLayout } from '../bridge/topics.js';

const MQTT_SCHEMES = ['mqtt', 'mqtts', 'ws', 'wss', 'mqtt+unix'];
const HTTP_SCHEMES = ['http', 'https'];

export async function startupProblems(config: Readonly<Config>): Promise<string[]> {
  const problems: string[] = [];
  const add = (p: string | undefined) => {
    if (p !== undefined) problems.push(p);
  };
  const external = config.mqtt.url !== '';
  if (external) add(urlProblem('mqtt.url', config.mqtt.url, MQTT_SCHEMES, 1883));
  if (config.auth.provider === 'http' && config.auth.http.url !== '') add(urlProblem('auth.http.url', config.auth.http.url, HTTP_SCHEMES, 80));

  const o = config.ocpp;
  const wsProfile3 = o.enabled && o.security_profile === 3;
  if (o.tls.cert_file !== '' || wsProfile3) {
    problems.push(...tlsProblems('ocpp.tls', { cert_file: o.tls.cert_file, key_file: o.tls.key_file, ca_file: o.tls.ca_file }));
  }
  if (external) {
    const t = config.mqtt.tls;
    problems.push(...tlsProblems('mqtt.tls', t));
    if (t.cert_file !== '' && t.key_file === '') add('mqtt.tls.key_file: is required with mqtt.tls.cert_file');
    if (t.key_file !== '' && t.cert_file === '') add('mqtt.tls.cert_file: is required with mqtt.tls.key_file');
  }
  if (config.auth.provider === 'file' && config.auth.file !== '') add(await credentialsProblem(config.auth.file));

  problems.push(...portClashes(config));

  // The versions json_schema_dir feeds are compiled as the start compiles them (the bundled sets are
  // checked by the test suite, and compiling them here would double the start time).
  if (config.json_schema_dir !== '' && config.message_format_checking !== 'disable') {
    const fed = (config.ocpp.protocols as Protocol[]).filter((p) => PROTOCOLS[p]?.schemas.fromJsonSchemaDir === true);
    if (fed.length > 0) {
      try {
        new MessageChecks({ ...config, ocpp: { ...config.ocpp, protocols: fed } });
      } catch (err) {
        add((err as Error).message);
      }
    }
  }
  const topics = TopicLayout.create(config.mqtt.mountpoint, config.topics);
  if (typeof topics === 'string') add(topics);
  return problems;
}

/** A URL as it may be shown: whatever comes before an "@" (user and password) masked. */
function shown(url: string): string {
  const at = url.lastIndexOf('@');
  if (at < 0) return JSON.stringify(url);
  const scheme = url.indexOf('://');
  const start = scheme >= 0 && scheme < at ? scheme + 3 : 0;
  return JSON.stringify(`${url.slice(0, start)}***${url.slice(at)}`);
}

function urlProblem(key: string, url: string, schemes: readonly string[], examplePort: number): string | undefined {
  const expected = schemes.map((s) => `${s}://`).join(', ');
  if (!url.includes('://')) {
    return `${key}: ${shown(url)} has no scheme; write it as ${schemes[0]}://HOST:PORT (one of ${expected}), e.g. ${schemes[0]}://${url.includes('@') ? '…' : url.replace(/^\/+/, '') || `localhost:${examplePort}`}`;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${key}: ${shown(url)} is not a valid URL (expected ${schemes[0]}://HOST:PORT)`;
  }
  const scheme = parsed.protocol.slice(0, -1);
  if (!schemes.includes(scheme)) return `${key}: ${shown(url)} has the scheme ${scheme}://; expected one of ${expected}`;
  // A unix socket (MQTT.js's `mqtt+unix:///path/to/socket`): a path, no host.
  if (scheme.endsWith('+unix')) return parsed.hostname === '' && parsed.pathname.length > 1 ? undefined : `${key}: ${shown(url)} names no socket path; write it as ${scheme}:///path/to/socket`;
  if (parsed.hostname === '') return `${key}: ${shown(url)} has no host`;
  return undefined;
}

type TlsKeys = Readonly<{ cert_file: string; key_file: string; ca_file: string }>;

/** Each file readable and what its key says: a certificate chain, its private key, CA certificates. */
function tlsProblems(prefix: 'ocpp.tls' | 'mqtt.tls', files: TlsKeys): string[] {
  const problems: string[] = [];
  const read = (k: keyof TlsKeys): Buffer | undefined => {
    if (files[k] === '') return undefined;
    try {
      return readKeyFile(files[k], `${prefix}.${k}`);
    } catch (err) {
      problems.push((err as Error).message);
      return undefined;
    }
  };
  const cert = read('cert_file');
  const key = read('key_file');
  const ca = read('ca_file');
  const context = (options: { cert?: Buffer; key?: Buffer }): string | undefined => {
    try {
      createSecureContext(options);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  };
  const certError = cert === undefined ? undefined : context({ cert });
  if (certError !== undefined) problems.push(`${prefix}.cert_file: ${files.cert_file} is not a PEM certificate (${certError})`);
  const keyError = key === undefined ? undefined : context({ key });
  if (keyError !== undefined) problems.push(`${prefix}.key_file: ${files.key_file} is not a PEM private key without a passphrase (${keyError})`);
  if (cert !== undefined && key !== undefined && certError === undefined && keyError === undefined) {
    const pairError = context({ cert, key });
    if (pairError !== undefined) problems.push(`${prefix}.key_file: ${files.key_file} is not the key of the certificate in ${prefix}.cert_file (${pairError})`);
  }
  if (ca !== undefined) {
    try {
      if (readCaCertificates(files.ca_file).length === 0) problems.push(`${prefix}.ca_file: ${files.ca_file} holds no PEM certificate`);
    } catch (err) {
      problems.push(`${prefix}.ca_file: ${files.ca_file} is not a list of PEM certificates (${(err as Error).message})`);
    }
  }
  return problems;
}

async function credentialsProblem(file: string): Promise<string | undefined> {
  try {
    await loadCredentials(file);
    return undefined;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.syscall !== undefined) return `auth.file: cannot read ${file} (${e.code ?? e.message})`;
    const message = (err as Error).message.split('\n')[0] ?? '';
    return `auth.file: ${message.startsWith(`${file}: `) ? message : `${file}: ${message}`}`;
  }
}

interface Listener {
  readonly key: string;
  readonly hostKey: string;
  readonly host: string;
  readonly port: number;
}

/** Listeners the start would open, in the order it opens them. */
function listenersOf(config: Readonly<Config>): Listener[] {
  const out: Listener[] = [];
  const o = config.ocpp;
  if (o.enabled) out.push({ key: 'ocpp.port', hostKey: 'ocpp.host', host: o.host, port: o.port });
  if (o.tls.cert_file !== '') out.push({ key: 'ocpp.tls.port', hostKey: 'ocpp.tls.host', host: o.tls.host, port: o.tls.port });
  if (config.mqtt.url === '') {
    const e = config.mqtt.embedded;
    out.push({ key: 'mqtt.embedded.port', hostKey: 'mqtt.embedded.host', host: e.host, port: e.port });
    if (e.ws_enabled) out.push({ key: 'mqtt.embedded.ws_port', hostKey: 'mqtt.embedded.host', host: e.host, port: e.ws_port });
  }
  if (config.api.enabled) out.push({ key: 'api.port', hostKey: 'api.host', host: config.api.host, port: config.api.port });
  return out;
}

function normalHost(host: string): string {
  return host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
}

/**
 * Whether binding both addresses on one port fails: the same address, "::" (dual stack: every IPv4
 * and IPv6 address) with anything, "0.0.0.0" with any IPv4 address. A host name is compared only as
 * written (what it resolves to is not known before the start).
 */
export function hostsOverlap(a: string, b: string): boolean {
  const x = normalHost(a);
  const y = normalHost(b);
  if (x === y || x === '::' || y === '::') return true;
  if (x === '0.0.0.0') return isIPv4(y);
  if (y === '0.0.0.0') return isIPv4(x);
  return false;
}

/** Two listeners of this gateway on one port of overlapping addresses; port 0 (any free port) never clashes. */
function portClashes(config: Readonly<Config>): string[] {
  const listeners = listenersOf(config);
  const problems: string[] = [];
  for (const [i, later] of listeners.entries()) {
    if (later.port === 0) continue;
    const earlier = listeners.slice(0, i).find((l) => l.port === later.port && hostsOverlap(l.host, later.host));
    if (earlier === undefined) continue;
    const where = earlier.hostKey === later.hostKey ? `${later.hostKey} ${later.host}` : `${earlier.hostKey} ${earlier.host}, ${later.hostKey} ${later.host}`;
    problems.push(`${later.key}: ${later.port} is also ${earlier.key} (${where}); two listeners cannot share a port`);
  }
  return problems;
}
