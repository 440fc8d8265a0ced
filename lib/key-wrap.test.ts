import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { unwrapPrivateKey, wrapPrivateKey } from './key-wrap.ts';

describe('private key wrapping under the KEK', () => {
  const kek = randomBytes(32);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const blob = wrapPrivateKey(kek, privateKey, 'edgeseal-ca-key:ica-1');

  it('round-trips, and the blob holds no plaintext PKCS#8', () => {
    const back = unwrapPrivateKey(kek, blob, 'edgeseal-ca-key:ica-1');
    expect(back.export({ format: 'jwk' })).toEqual(privateKey.export({ format: 'jwk' }));
    const d = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
    expect(blob.includes(d)).toBe(false);
  });

  it('names a wrong KEK as such', () => {
    expect(() => unwrapPrivateKey(randomBytes(32), blob, 'edgeseal-ca-key:ica-1')).toThrow(
      /encrypted under KEK [0-9a-f]{16}/,
    );
  });

  it('refuses a blob moved to another record (AAD) or tampered with', () => {
    expect(() => unwrapPrivateKey(kek, blob, 'edgeseal-ca-key:root-1')).toThrow(/failed authentication/);
    const t = Buffer.from(blob);
    t[t.length - 1]! ^= 1;
    expect(() => unwrapPrivateKey(kek, t, 'edgeseal-ca-key:ica-1')).toThrow(/failed authentication/);
    expect(() => unwrapPrivateKey(kek, Buffer.from('nope'), 'x')).toThrow(/unknown format/);
  });
});
