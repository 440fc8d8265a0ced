import { generateKeyPairSync } from 'node:crypto';
import { type CompactJWEHeaderParameters, CompactEncrypt, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { isPackageError, type PackageErrorCode } from './errors.ts';
import { readPackage } from './format.ts';
import { unwrapContentKey, wrapContentKey } from './key-envelope.ts';
import { releaseKeyId } from './manifest.ts';
import { newPackageId } from './package-model.ts';
import { contentKey, keyService, make } from './test-fixtures.ts';

const jwk = keyService.publicKey.export({ format: 'jwk' });
const packageId = newPackageId();
const envelope = await wrapContentKey(contentKey, jwk, packageId);

const code = (p: Promise<unknown>): Promise<PackageErrorCode | unknown> =>
  p.then(
    () => 'accepted',
    (e: unknown) => (isPackageError(e) ? e.code : e),
  );

describe('key envelope', () => {
  it('wraps to the key service: ECDH-ES+A256KW/A256GCM, kid = its thumbprint, the package id bound', async () => {
    expect(decodeProtectedHeader(envelope)).toMatchObject({
      alg: 'ECDH-ES+A256KW',
      enc: 'A256GCM',
      kid: releaseKeyId(keyService.publicKey),
      package_id: packageId,
    });
    const key = await unwrapContentKey(envelope, keyService.privateKey, packageId);
    expect(key.equals(contentKey)).toBe(true);
  });

  it('refuses an envelope moved to another package by name', async () => {
    expect(await code(unwrapContentKey(envelope, keyService.privateKey, newPackageId()))).toBe(
      'KeyEnvelopeOtherPackage',
    );
  });

  it('refuses a package id edited in the protected header (it is the JWE AAD)', async () => {
    const [h, ...rest] = envelope.split('.');
    const header = { ...decodeProtectedHeader(envelope), package_id: newPackageId() };
    const edited = [Buffer.from(JSON.stringify(header)).toString('base64url'), ...rest].join('.');
    expect(h).not.toBe(edited.split('.')[0]);
    expect(await code(unwrapContentKey(edited, keyService.privateKey, header.package_id))).toBe(
      'KeyEnvelopeInvalid',
    );
  });

  it('refuses an envelope for another key, a non-JWE, and other algorithms', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    expect(await code(unwrapContentKey(envelope, other, packageId))).toBe('KeyEnvelopeInvalid');
    expect(await code(unwrapContentKey('not.a.jwe.at.all', keyService.privateKey, packageId))).toBe(
      'KeyEnvelopeInvalid',
    );
    const ecdhDirect = await new CompactEncrypt(contentKey)
      .setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM', package_id: packageId })
      .encrypt(keyService.publicKey);
    expect(await code(unwrapContentKey(ecdhDirect, keyService.privateKey, packageId))).toBe(
      'KeyEnvelopeInvalid',
    );
  });

  it('refuses an envelope without a package id, with extra header parameters, or not holding 32 bytes', async () => {
    const kid = releaseKeyId(keyService.publicKey);
    const hdr = { alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid };
    const seal = (pt: Uint8Array, h: CompactJWEHeaderParameters) =>
      new CompactEncrypt(pt).setProtectedHeader(h).encrypt(keyService.publicKey);
    expect(await code(unwrapContentKey(await seal(contentKey, hdr), keyService.privateKey, packageId))).toBe(
      'KeyEnvelopeInvalid',
    );
    const withCty = { ...hdr, package_id: packageId, cty: 'x' };
    expect(
      await code(unwrapContentKey(await seal(contentKey, withCty), keyService.privateKey, packageId)),
    ).toBe('KeyEnvelopeInvalid');
    const short = await seal(contentKey.subarray(0, 16), { ...hdr, package_id: packageId });
    expect(await code(unwrapContentKey(short, keyService.privateKey, packageId))).toBe('KeyEnvelopeInvalid');
  });

  it('rides in the package and is bound to its package id', async () => {
    const pkg = readPackage(await make({ packageId, keyEnvelope: envelope }));
    expect(pkg.keyEnvelope).toBe(envelope);
    await expect(make({ keyEnvelope: envelope })).rejects.toThrow(TypeError); // a random id cannot match
    await expect(wrapContentKey(contentKey.subarray(1), jwk, packageId)).rejects.toThrow(TypeError);
    await expect(wrapContentKey(contentKey, jwk, 'short')).rejects.toThrow(TypeError);
    await expect(wrapContentKey(contentKey, { kty: 'oct', k: 'AAAA' }, packageId)).rejects.toThrow(TypeError);
    // a private JWK given by mistake: only its public half is used
    const fromPrivate = await wrapContentKey(
      contentKey,
      keyService.privateKey.export({ format: 'jwk' }),
      packageId,
    );
    expect((await unwrapContentKey(fromPrivate, keyService.privateKey, packageId)).equals(contentKey)).toBe(
      true,
    );
  });
});
