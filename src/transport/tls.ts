// The wss:// listener's TLS material (reloadable) and the profile-3 client certificate check.
import { X509Certificate } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import type { UpgradeRefusal } from '../errors.js';

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
}

/** Reads a file named by a config key; the error names the key, the path and the reason. */
export function readKeyFile(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${key}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** Reads the PEM files of the wss:// listener. */
export function readTlsFiles(files: TlsFiles): SecureContextOptions {
  const read = (path: string, what: string) => readKeyFile(path, `ocpp.tls.${what}`);
  return {
    cert: read(files.certFile, 'cert_file'),
    key: read(files.keyFile, 'key_file'),
    ...(files.caFile !== '' ? { ca: read(files.caFile, 'ca_file') } : {}),
  };
}

/** Calls `onChange` when any of the files changes (polled every 2 s; editors replace files). */
export function watchTlsFiles(files: TlsFiles, onChange: () => void): () => void {
  const paths = [files.certFile, files.keyFile, files.caFile].filter((p) => p !== '');
  for (const p of paths) watchFile(p, { interval: 2000, persistent: false }, onChange);
  return () => {
    for (const p of paths) unwatchFile(p, onChange);
  };
}

export interface ClientCertificate {
  readonly cn: string;
  readonly fingerprint256: string;
}

export type CertificateCheck = { ok: true; certificate: ClientCertificate } | { ok: false; refusal: UpgradeRefusal; detail: string; certificate?: ClientCertificate };

/**
 * Security profile 3: a client certificate signed by the configured CA, valid now, and (optionally)
 * with CN = cpId. The TLS handshake does not reject, so each failure can be answered and reported.
 */
export function checkClientCertificate(socket: TLSSocket, cpId: string, cnMustMatch: boolean): CertificateCheck {
  const peer = socket.getPeerCertificate();
  if (peer === null || typeof peer !== 'object' || Object.keys(peer).length === 0) {
    return { ok: false, refusal: 'certificate_required', detail: 'security profile 3: no client certificate was presented' };
  }
  const cnField: unknown = peer.subject?.CN;
  const cn = Array.isArray(cnField) ? String(cnField[0]) : String(cnField ?? '');
  const certificate = { cn, fingerprint256: peer.fingerprint256 };
  if (!socket.authorized) {
    return { ok: false, refusal: 'certificate_invalid', detail: `the client certificate does not verify: ${String(socket.authorizationError ?? 'unknown reason')}`, certificate };
  }
  if (cnMustMatch && cn !== cpId) {
    return { ok: false, refusal: 'certificate_cn_mismatch', detail: `certificate CN "${cn}" is not the charge point id "${cpId}"`, certificate };
  }
  return { ok: true, certificate };
}

/** The PEM blocks of a CA file, parsed. */
export function readCaCertificates(path: string): X509Certificate[] {
  const text = readFileSync(path, 'utf8');
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

function commonName(subject: string): string {
  for (const line of subject.split('\n')) if (line.startsWith('CN=')) return line.slice(3);
  return '';
}

/**
 * Verifies a client certificate against CA certificates: issued and signed by one of them (directly),
 * valid now, and (optionally) CN = cpId. Used where OpenSSL's own verification is not available:
 * certificates forwarded by a proxy, and TLS set up behind the PROXY protocol.
 */
export function verifyCertificate(cert: X509Certificate | undefined, cas: readonly X509Certificate[], cpId: string, cnMustMatch: boolean, now: number): CertificateCheck {
  if (cert === undefined) return { ok: false, refusal: 'certificate_required', detail: 'security profile 3: no client certificate was presented' };
  const certificate = { cn: commonName(cert.subject), fingerprint256: cert.fingerprint256 };
  if (now < Date.parse(cert.validFrom)) return { ok: false, refusal: 'certificate_invalid', detail: 'the client certificate does not verify: CERT_NOT_YET_VALID', certificate };
  if (now > Date.parse(cert.validTo)) return { ok: false, refusal: 'certificate_invalid', detail: 'the client certificate does not verify: CERT_HAS_EXPIRED', certificate };
  if (!cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))) {
    return { ok: false, refusal: 'certificate_invalid', detail: 'the client certificate does not verify: not signed by a CA of ocpp.tls.ca_file', certificate };
  }
  if (cnMustMatch && certificate.cn !== cpId) {
    return { ok: false, refusal: 'certificate_cn_mismatch', detail: `certificate CN "${certificate.cn}" is not the charge point id "${cpId}"`, certificate };
  }
  return { ok: true, certificate };
}

/** Profile 3 behind a TLS-terminating proxy: the client certificate arrives URL-encoded in a header. */
export function checkForwardedCertificate(header: string | undefined, cas: readonly X509Certificate[], cpId: string, cnMustMatch: boolean, now: number): CertificateCheck {
  if (header === undefined || header === '') return { ok: false, refusal: 'certificate_required', detail: 'security profile 3: the proxy forwarded no client certificate' };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(decodeURIComponent(header));
  } catch {
    return { ok: false, refusal: 'certificate_invalid', detail: 'the forwarded client certificate is not a PEM certificate' };
  }
  return verifyCertificate(cert, cas, cpId, cnMustMatch, now);
}
