import { randomBytes } from 'node:crypto';
import { CompactEncrypt } from 'jose';
import { describe, expect, it } from 'vitest';
import { ContentKeyStore } from './content-keys.ts';
import { openReleasedKey } from './key-release.ts';
import { newWrappingKey, type WrappingKey } from './wrapping-key.ts';

const wrapTo = (w: WrappingKey, key: Uint8Array, header: Record<string, string> = {}) =>
  new CompactEncrypt(key)
    .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: w.kid, ...header })
    .encrypt(w.publicKey);

describe('openReleasedKey', () => {
  it('opens a 32-byte key wrapped to this process (ECDH-ES+A256KW / A256GCM, kid = thumbprint)', async () => {
    const w = await newWrappingKey();
    const key = randomBytes(32);
    expect(Buffer.from(await openReleasedKey(await wrapTo(w, key), w))).toEqual(key);
  });

  it.each([
    [
      'another process wrapping key',
      async (w: WrappingKey) => wrapTo(await newWrappingKey(), randomBytes(32), { kid: w.kid }),
    ],
    ['a kid that is not ours', (w: WrappingKey) => wrapTo(w, randomBytes(32), { kid: 'someone-else' })],
    ['another algorithm', (w: WrappingKey) => wrapTo(w, randomBytes(32), { alg: 'ECDH-ES' })],
    ['another content encryption', (w: WrappingKey) => wrapTo(w, randomBytes(32), { enc: 'A128GCM' })],
    ['a 16-byte key', (w: WrappingKey) => wrapTo(w, randomBytes(16))],
    ['not a JWE', async () => 'not.a.jwe'],
  ])('refuses %s', async (_name, make) => {
    const w = await newWrappingKey();
    await expect(openReleasedKey(await make(w), w)).rejects.toMatchObject({ code: 'ERR_PROTOCOL' });
  });
});

describe('wrapping key and content key store', () => {
  it('the kid is the RFC 7638 thumbprint; the public JWK has no private member', async () => {
    const w = await newWrappingKey();
    expect(Object.keys(w.publicJwk).sort()).toEqual(['crv', 'kty', 'x', 'y']);
    expect(w.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(w)).not.toContain('"d"');
  });

  it('holds keys in memory and wipes them when dropped', () => {
    const store = new ContentKeyStore();
    const key = new Uint8Array(randomBytes(32));
    const seen: string[] = [];
    store.onReleased((id) => seen.push(id));
    store.set('k1', key);
    expect(store.get('k1')).toBe(key);
    expect(seen).toEqual(['k1']);
    expect(store.clear()).toEqual(['k1']);
    expect(store.get('k1')).toBeUndefined();
    expect(key.every((b) => b === 0)).toBe(true);
  });
});
