// Private keys at rest: PKCS#8 DER sealed with AES-256-GCM under a key-encryption key.
// Layout: "ESK1" | kek id (8) | iv (12) | tag (16) | ciphertext. The kek id (a hash of the
// KEK) lets a wrong KEK be named as such instead of failing as "bad tag". The AAD binds the
// blob to the record it belongs to, so blobs cannot be swapped between rows.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { EdgesealError } from './errors.ts';

const MAGIC = Buffer.from('ESK1');

export const kekId = (kek: Buffer): Buffer =>
  createHash('sha256').update('edgeseal-kek-id').update(kek).digest().subarray(0, 8);

export function wrapPrivateKey(kek: Buffer, key: KeyObject, aad: string): Buffer {
  const pkcs8 = key.export({ format: 'der', type: 'pkcs8' });
  try {
    return wrapSecret(kek, pkcs8, aad);
  } finally {
    pkcs8.fill(0);
  }
}

/** Seals raw key bytes (a content key) in the same format as private keys. */
export function wrapSecret(kek: Buffer, secret: Buffer, aad: string): Buffer {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', kek, iv);
  c.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([c.update(secret), c.final()]);
  return Buffer.concat([MAGIC, kekId(kek), iv, c.getAuthTag(), ct]);
}

export function unwrapPrivateKey(kek: Buffer, blob: Buffer, aad: string): KeyObject {
  const pkcs8 = unwrapSecret(kek, blob, aad);
  const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  pkcs8.fill(0);
  return key;
}

/** The raw bytes sealed by wrapSecret (the caller wipes them when done). */
export function unwrapSecret(kek: Buffer, blob: Buffer, aad: string): Buffer {
  if (blob.length < 40 || !blob.subarray(0, 4).equals(MAGIC)) {
    throw new EdgesealError('ERR_KEK', 'wrapped key has an unknown format');
  }
  const id = blob.subarray(4, 12);
  if (!id.equals(kekId(kek))) {
    throw new EdgesealError(
      'ERR_KEK',
      `the keys were encrypted under KEK ${id.toString('hex')}, but the configured KEK is ${kekId(kek).toString('hex')}`,
    );
  }
  const d = createDecipheriv('aes-256-gcm', kek, blob.subarray(12, 24));
  d.setAAD(Buffer.from(aad, 'utf8'));
  d.setAuthTag(blob.subarray(24, 40));
  try {
    return Buffer.concat([d.update(blob.subarray(40)), d.final()]);
  } catch {
    throw new EdgesealError(
      'ERR_KEK',
      'wrapped key failed authentication (tampered, or bound to another record)',
    );
  }
}
