// What an upgrade knows of its client besides the request: its address (the socket's, a trusted
// proxy's X-Forwarded-For, or a PROXY header's) and, for security profile 3, its certificate (the TLS
// socket's, or the one a trusted TLS-terminating proxy forwarded). A listener adds what only it knows
// (PROXY addresses, its own TLS); a server mounting handleUpgrade gets socketPeer. [SPEC §3]
import type { IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Clock } from '../session/clock.js';
import { checkClientCertificate, checkForwardedCertificate, readCaCertificates, type CertificateCheck } from './tls.js';

/** Who is on the other end of an upgrade: what the listener (or the mounting server) knows of it. */
export interface UpgradePeer {
  /** The client's address: a PROXY header's, a trusted proxy's X-Forwarded-For, else the socket's. */
  remoteAddress(req: IncomingMessage): string;
  /** Security profile 3: the client certificate (the TLS socket's, or one a trusted proxy forwarded). */
  checkCertificate(req: IncomingMessage, cpId: string): CertificateCheck;
}

/** What the logs and the profile checks call this entry point. */
export interface UpgradeEntry {
  readonly name: 'ws' | 'wss';
  /** OCPP security profile: 0 = as the auth provider decides, 1/2 = Basic required, 3 = client certificate required. */
  readonly profile: 0 | 1 | 2 | 3;
}

/** The peer as the socket shows it: no PROXY header, no TLS of the gateway's own. */
export function socketPeer(config: Readonly<Config>, clock: Clock, entry: UpgradeEntry): UpgradePeer {
  const o = config.ocpp;
  const trusted: ReadonlySet<string> = new Set(o.trusted_proxies);
  const forwardedCas: readonly X509Certificate[] = entry.name === 'ws' && entry.profile === 3 ? readCaCertificates(o.tls.ca_file) : [];
  return {
    remoteAddress(req) {
      const peer = req.socket.remoteAddress ?? '';
      const forwarded = req.headers['x-forwarded-for'];
      if (forwarded === undefined || !trusted.has(peer)) return peer;
      const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
      return first === undefined || first === '' ? peer : first;
    },
    checkCertificate(req, cpId) {
      if (req.socket instanceof TLSSocket) return checkClientCertificate(req.socket, cpId, o.tls.cn_must_match);
      // ws:// behind a TLS-terminating proxy: the certificate it forwarded, from a trusted proxy only.
      const fromProxy = trusted.has(req.socket.remoteAddress ?? '');
      const header = fromProxy ? req.headers[o.client_cert_header.toLowerCase()] : undefined;
      return checkForwardedCertificate(Array.isArray(header) ? header[0] : header, forwardedCas, cpId, o.tls.cn_must_match, clock.now());
    },
  };
}
