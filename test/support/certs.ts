// Test PKI made with the openssl CLI in a temporary folder: CAs, server certificates (RSA, ECDSA) for
// localhost/127.0.0.1, and client certificates (valid, other CA, expired).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KeyPair { cert: string; key: string }
export interface Pem { cert: Buffer; key: Buffer }

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });

export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'ocpp-gw-pki-'));

  #key(name: string, kind: 'rsa' | 'ec'): string {
    const key = join(this.dir, `${name}.key`);
    openssl(kind === 'rsa' ? ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', key] : ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key], this.dir);
    return key;
  }

  ca(name: string): KeyPair {
    const key = this.#key(name, 'ec');
    const cert = join(this.dir, `${name}.pem`);
    openssl(['req', '-x509', '-new', '-key', key, '-subj', `/CN=${name}`, '-days', '30', '-out', cert, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], this.dir);
    return { cert, key };
  }

  #sign(name: string, ca: KeyPair, csr: string, ext: string): string {
    const cert = join(this.dir, `${name}.pem`);
    const extFile = join(this.dir, `${name}.ext`);
    writeFileSync(extFile, ext);
    openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '30', '-out', cert, '-extfile', extFile], this.dir);
    return cert;
  }

  server(name: string, ca: KeyPair, kind: 'rsa' | 'ec'): KeyPair {
    const key = this.#key(name, kind);
    const csr = join(this.dir, `${name}.csr`);
    openssl(['req', '-new', '-key', key, '-subj', '/CN=localhost', '-out', csr], this.dir);
    return { cert: this.#sign(name, ca, csr, 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'), key };
  }

  client(name: string, ca: KeyPair, cn: string): KeyPair {
    const key = this.#key(name, 'ec');
    const csr = join(this.dir, `${name}.csr`);
    openssl(['req', '-new', '-key', key, '-subj', `/CN=${cn}`, '-out', csr], this.dir);
    return { cert: this.#sign(name, ca, csr, 'extendedKeyUsage=clientAuth\n'), key };
  }

  /** A client certificate that expired in 2020 (openssl ca sets explicit dates). */
  expiredClient(name: string, ca: KeyPair, cn: string): KeyPair {
    const key = this.#key(name, 'ec');
    const csr = join(this.dir, `${name}.csr`);
    openssl(['req', '-new', '-key', key, '-subj', `/CN=${cn}`, '-out', csr], this.dir);
    const caDir = join(this.dir, `${name}-ca`);
    mkdirSync(join(caDir, 'newcerts'), { recursive: true });
    writeFileSync(join(caDir, 'index.txt'), '');
    writeFileSync(join(caDir, 'serial'), '1000\n');
    writeFileSync(join(caDir, 'ca.cnf'), `[ca]\ndefault_ca=d\n[d]\ndir=${caDir}\ndatabase=$dir/index.txt\nnew_certs_dir=$dir/newcerts\nserial=$dir/serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n`);
    const cert = join(this.dir, `${name}.pem`);
    openssl(['ca', '-batch', '-config', join(caDir, 'ca.cnf'), '-cert', ca.cert, '-keyfile', ca.key, '-in', csr, '-out', cert, '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-notext'], this.dir);
    return { cert, key };
  }

  static pem(pair: KeyPair): Pem {
    return { cert: readFileSync(pair.cert), key: readFileSync(pair.key) };
  }
}
