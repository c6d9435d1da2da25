// auth.provider = file: a YAML/JSON map cpId -> salted hash. Reloaded when the file changes and on
// SIGHUP; a bad reload keeps the previous credentials and is logged. Successful verifications are
// cached (by SHA-256 of the password) so a reconnect storm does not cost one scrypt per charger.
// Every hash runs through the CheckGate (bounded, fair per address, throttled after failures); a
// cached success does not, so it is admitted even from a throttled address. [SPEC §8]
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { unwatchFile, watchFile } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { parsePasswordHash, verifyPassword, type PasswordHash } from './password-hash.js';
import type { AuthDecision, AuthProvider, AuthRequest } from './provider.js';
import type { CheckGate } from './check-gate.js';

export interface FileProviderEvents {
  onReload(count: number): void;
  onReloadError(message: string): void;
}

const DUMMY_HASH = parsePasswordHash(`scrypt$16384$8$1$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(32).toString('base64')}`) as PasswordHash;

export async function loadCredentials(file: string): Promise<Map<string, PasswordHash>> {
  const text = await readFile(file, 'utf8');
  const data: unknown = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new Error(`${file}: must map charge point ids to password hashes`);
  const out = new Map<string, PasswordHash>();
  for (const [cpId, value] of Object.entries(data)) {
    if (typeof value !== 'string') throw new Error(`${file}: ${cpId}: the hash must be a string`);
    const hash = parsePasswordHash(value);
    if (typeof hash === 'string') throw new Error(`${file}: ${cpId}: ${hash}`);
    out.set(cpId, hash);
  }
  return out;
}

export class FileAuthProvider implements AuthProvider {
  readonly name = 'file';
  #credentials: Map<string, PasswordHash>;
  #verified = new Map<string, Buffer>();
  readonly #file: string;
  readonly #events: FileProviderEvents;
  readonly #gate: CheckGate;

  private constructor(file: string, credentials: Map<string, PasswordHash>, events: FileProviderEvents, gate: CheckGate) {
    this.#file = file;
    this.#credentials = credentials;
    this.#events = events;
    this.#gate = gate;
    watchFile(file, { interval: 2000, persistent: false }, () => void this.reload());
  }

  static async open(file: string, events: FileProviderEvents, gate: CheckGate): Promise<FileAuthProvider> {
    return new FileAuthProvider(file, await loadCredentials(file), events, gate);
  }

  async authenticate(request: AuthRequest, signal?: AbortSignal): Promise<AuthDecision> {
    // Security profile 3: the verified client certificate is the credential; passwords are not used.
    if (request.certificate !== undefined && request.password === undefined) return { allow: true };
    if (request.password === undefined) return { allow: false, detail: 'no HTTP Basic credentials' };
    const hash = this.#credentials.get(request.cpId);
    const digest = createHash('sha256').update(request.password).digest();
    const cached = this.#verified.get(request.cpId);
    if (hash !== undefined && cached !== undefined && timingSafeEqual(cached, digest)) return { allow: true };
    const password = request.password;
    return this.#gate.check(request.remoteAddress, signal, async () => {
      const ok = await verifyPassword(hash ?? DUMMY_HASH, password);
      if (hash === undefined) return { allow: false, detail: 'unknown charge point id' };
      if (!ok) return { allow: false, detail: 'wrong password' };
      if (this.#credentials.get(request.cpId) === hash) this.#verified.set(request.cpId, digest);
      return { allow: true };
    });
  }

  async reload(): Promise<void> {
    try {
      this.#credentials = await loadCredentials(this.#file);
      this.#verified = new Map();
      this.#events.onReload(this.#credentials.size);
    } catch (err) {
      this.#events.onReloadError((err as Error).message);
    }
  }

  close(): void {
    unwatchFile(this.#file);
  }
}
