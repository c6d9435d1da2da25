import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { hashPassword, parsePasswordHash, verifyPassword } from '../src/auth/password-hash.js';

test('scrypt hashes from hash-password verify; other passwords do not', async () => {
  const text = await hashPassword(Buffer.from('pw'));
  const h = parsePasswordHash(text);
  assert.ok(typeof h !== 'string');
  if (typeof h === 'string') return;
  assert.equal(await verifyPassword(h, Buffer.from('pw')), true);
  assert.equal(await verifyPassword(h, Buffer.from('pw ')), false);
});

test('pbkdf2-sha256 and pbkdf2-sha512 hashes made elsewhere verify', async () => {
  for (const digest of ['sha256', 'sha512'] as const) {
    const salt = randomBytes(16);
    const key = pbkdf2Sync('secret', salt, 1000, 32, digest);
    const h = parsePasswordHash(`pbkdf2-${digest}$1000$${salt.toString('base64')}$${key.toString('base64')}`);
    assert.ok(typeof h !== 'string');
    if (typeof h === 'string') return;
    assert.equal(await verifyPassword(h, Buffer.from('secret')), true);
    assert.equal(await verifyPassword(h, Buffer.from('Secret')), false);
  }
});

test('malformed hashes are refused with a reason', () => {
  for (const bad of ['', 'plain', 'scrypt$1000$8$1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5', 'scrypt$16384$8$1$$', 'pbkdf2-sha256$10$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5a2V5', 'md5$x']) {
    assert.equal(typeof parsePasswordHash(bad), 'string', bad);
  }
});
