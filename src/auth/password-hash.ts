// Salted password hashes for the file provider, with node:crypto only.
//   scrypt$<N>$<r>$<p>$<salt base64>$<key base64>
//   pbkdf2-sha256$<iterations>$<salt base64>$<key base64>   (also pbkdf2-sha512)
import { pbkdf2, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt) as (password: Buffer, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;
const pbkdf2Async = promisify(pbkdf2);

export type PasswordHash =
  | { kind: 'scrypt'; N: number; r: number; p: number; salt: Buffer; key: Buffer }
  | { kind: 'pbkdf2'; digest: 'sha256' | 'sha512'; iterations: number; salt: Buffer; key: Buffer };

export function parsePasswordHash(text: string): PasswordHash | string {
  const parts = text.split('$');
  const num = (s: string | undefined) => (s !== undefined && /^[0-9]{1,10}$/.test(s) ? Number(s) : Number.NaN);
  const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64');
  if (parts[0] === 'scrypt' && parts.length === 6) {
    const [N, r, p] = [num(parts[1]), num(parts[2]), num(parts[3])];
    if (!(N > 1 && (N & (N - 1)) === 0 && r > 0 && p > 0)) return 'scrypt parameters must be N (a power of two), r, p';
    const salt = b64(parts[4]);
    const key = b64(parts[5]);
    if (salt.length < 8 || key.length < 16) return 'scrypt salt or key too short';
    return { kind: 'scrypt', N, r, p, salt, key };
  }
  if ((parts[0] === 'pbkdf2-sha256' || parts[0] === 'pbkdf2-sha512') && parts.length === 4) {
    const iterations = num(parts[1]);
    if (!(iterations >= 1000)) return 'pbkdf2 needs at least 1000 iterations';
    const salt = b64(parts[2]);
    const key = b64(parts[3]);
    if (salt.length < 8 || key.length < 16) return 'pbkdf2 salt or key too short';
    return { kind: 'pbkdf2', digest: parts[0] === 'pbkdf2-sha256' ? 'sha256' : 'sha512', iterations, salt, key };
  }
  return 'unknown hash format (expected scrypt$N$r$p$salt$key or pbkdf2-sha256$iterations$salt$key)';
}

async function derive(hash: PasswordHash, password: Buffer): Promise<Buffer> {
  if (hash.kind === 'scrypt') {
    return scryptAsync(password, hash.salt, hash.key.length, { N: hash.N, r: hash.r, p: hash.p, maxmem: 256 * hash.N * hash.r + 1024 * 1024 });
  }
  return pbkdf2Async(password, hash.salt, hash.iterations, hash.key.length, hash.digest);
}

export async function verifyPassword(hash: PasswordHash, password: Buffer): Promise<boolean> {
  const derived = await derive(hash, password);
  return derived.length === hash.key.length && timingSafeEqual(derived, hash.key);
}

/** A new scrypt hash (N=16384, r=8, p=1, 16-byte salt, 32-byte key). */
export async function hashPassword(password: Buffer): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, 32, { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
  return `scrypt$16384$8$1$${salt.toString('base64')}$${key.toString('base64')}`;
}
