import { createHmac, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import { describe, expect, it } from 'vitest';
import { isPackageError, type PackageErrorCode } from './errors.ts';
import { readPackage } from './format.ts';
import {
  MANIFEST_TYP,
  releaseKeyId,
  signManifest,
  type VerifyManifestOptions,
  verifyManifest,
} from './manifest.ts';
import { make, NOW, otherReleaseKey, releaseKey, releaseKeys } from './test-fixtures.ts';

const jws0 = readPackage(await make()).manifestJws;
const manifest = await verifyManifest(jws0, { releaseKeys, now: NOW });
const kid = releaseKeyId(releaseKey);

const b64u = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** A compact JWS built by hand, so a test can put anything in the header and the claims. */
function jws(header: Record<string, unknown>, payload: unknown, k: KeyObject = releaseKey): string {
  const input = `${b64u(header)}.${b64u(payload)}`;
  const sig = sign('sha256', Buffer.from(input), { key: k, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}
const H = { alg: 'ES256', kid, typ: MANIFEST_TYP };

async function code(p: Promise<unknown>): Promise<PackageErrorCode | unknown> {
  return p.then(
    () => 'accepted',
    (e: unknown) => (isPackageError(e) ? e.code : e),
  );
}
const verify = (j: string, over: Partial<VerifyManifestOptions> = {}) =>
  code(verifyManifest(j, { releaseKeys, now: NOW, ...over }));

describe('verifyManifest', () => {
  it('accepts the manifest packageModel signs; kid is the RFC 7638 thumbprint (same as jose)', async () => {
    expect(await verify(jws0)).toBe('accepted');
    const jwk = releaseKey.export({ format: 'jwk' });
    expect(kid).toBe(await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! }));
    expect(await verify(jws({ ...H, typ: `application/${MANIFEST_TYP}` }, manifest))).toBe('accepted');
  });

  it('takes release keys from a Map or a function of kid', async () => {
    expect(await verify(jws0, { releaseKeys: (k) => (k === kid ? releaseKey : undefined) })).toBe('accepted');
    expect(await verify(jws0, { releaseKeys: () => undefined })).toBe('ReleaseKeyUnknown');
  });

  it.each([
    ['alg none', { alg: 'none', kid, typ: MANIFEST_TYP }, 'AlgorithmNotAllowed'],
    ['alg HS256', { alg: 'HS256', kid, typ: MANIFEST_TYP }, 'AlgorithmNotAllowed'],
    ['alg ES384', { alg: 'ES384', kid, typ: MANIFEST_TYP }, 'AlgorithmNotAllowed'],
    ['no alg', { kid, typ: MANIFEST_TYP }, 'AlgorithmNotAllowed'],
    ['a jwk header', { ...H, jwk: { kty: 'EC' } }, 'ManifestHeaderNotAllowed'],
    ['crit', { ...H, crit: ['b64'], b64: false }, 'ManifestHeaderNotAllowed'],
    ['x5c', { ...H, x5c: [] }, 'ManifestHeaderNotAllowed'],
    ['another typ', { ...H, typ: 'JWT' }, 'ManifestHeaderNotAllowed'],
    ['no typ', { alg: 'ES256', kid }, 'ManifestHeaderNotAllowed'],
    ['no kid', { alg: 'ES256', typ: MANIFEST_TYP }, 'ManifestMalformed'],
    ['an unknown kid', { ...H, kid: 'x'.repeat(43) }, 'ReleaseKeyUnknown'],
  ])('refuses a header with %s', async (_name, header, expected) => {
    expect(await verify(jws(header, manifest))).toBe(expected);
  });

  it('refuses alg none with an empty signature by name', async () => {
    expect(await verify(`${b64u({ alg: 'none', kid, typ: MANIFEST_TYP })}.${b64u(manifest)}.`)).toBe(
      'AlgorithmNotAllowed',
    );
  });

  it('refuses an HMAC "signed" with the public key', async () => {
    const input = `${b64u({ alg: 'HS256', kid, typ: MANIFEST_TYP })}.${b64u(manifest)}`;
    const mac = createHmac('sha256', releaseKey.export({ format: 'jwk' }).x!)
      .update(input)
      .digest('base64url');
    expect(await verify(`${input}.${mac}`)).toBe('AlgorithmNotAllowed');
  });

  it('refuses a signature by another key under our kid', async () => {
    expect(await verify(jws(H, manifest, otherReleaseKey))).toBe('ManifestSignatureInvalid');
  });

  it('refuses a key set that registers a key under another key’s kid', async () => {
    expect(await verify(jws0, { releaseKeys: new Map([[kid, otherReleaseKey]]) })).toBe('ReleaseKeyUnknown');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    expect(await verify(jws0, { releaseKeys: new Map([[kid, rsa]]) })).toBe('ReleaseKeyUnknown');
  });

  it('refuses non-canonical base64url (one spelling per manifest)', async () => {
    const [h, p, s] = jws0.split('.') as [string, string, string];
    // the signature's last character carries 2 unused bits: set one, the bytes do not change
    const last = s.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const twin = alphabet[alphabet.indexOf(last) ^ 1]!;
    expect(Buffer.from(`${s.slice(0, -1)}${twin}`, 'base64url').equals(Buffer.from(s, 'base64url'))).toBe(
      true,
    );
    expect(await verify(`${h}.${p}.${s.slice(0, -1)}${twin}`)).toBe('ManifestSignatureInvalid');
    expect(await verify(`${h}.${p}=.${s}`)).toBe('ManifestMalformed');
    expect(await verify(`${h}.${p}.${s}.x`)).toBe('ManifestMalformed');
    expect(await verify('')).toBe('ManifestMalformed');
  });

  it.each([
    ['an unknown claim', { extra: 1 }],
    ['another enc', { enc: 'A128GCM' }],
    ['a chunk count that does not match the sizes', { chunk_count: manifest.chunk_count + 1 }],
    ['chunks smaller than 1 KiB', { chunk_size: 512, chunk_count: Math.ceil(manifest.plaintext_size / 512) }],
    ['no hardware models', { hardware_models: [] }],
    ['a duplicated hardware model', { hardware_models: ['a', 'a'] }],
    ['a control character in the model id', { model_id: 'vib\u001b[31m' }],
    ['a negative release counter', { release_counter: -1 }],
    ['a fractional release counter', { release_counter: 1.5 }],
    ['a package id of 15 bytes', { package_id: Buffer.alloc(15).toString('base64url') }],
    ['an upper-case digest', { plaintext_sha256: 'AB'.repeat(32) }],
    ['io with an unknown member', { io: { inputs: [], outputs: [], x: 1 } }],
    [
      'a tensor with a negative dimension',
      { io: { inputs: [{ name: 'a', type: 'f', shape: [-1] }], outputs: [] } },
    ],
    ['drift that is not an object', { drift: [1] }],
  ])('refuses a signed manifest with %s', async (_name, over) => {
    expect(await verify(jws(H, { ...manifest, ...over }))).toBe('ManifestMalformed');
  });

  it('refuses a manifest with a required claim missing', async () => {
    const { content_key_id: _, ...rest } = manifest;
    expect(await verify(jws(H, rest))).toBe('ManifestMalformed');
  });

  it('refuses a manifest issued in the future beyond the clock skew', async () => {
    const iat = Math.floor(NOW.getTime() / 1000);
    expect(await verify(jws(H, { ...manifest, iat: iat + 200 }))).toBe('accepted');
    expect(await verify(jws(H, { ...manifest, iat: iat + 400 }))).toBe('ManifestIssuedInFuture');
  });

  it('checks what the device asks: hardware model, firmware SVN, model id, downgrade', async () => {
    expect(await verify(jws0, { hardwareModel: 'edgecam-3', firmwareSvn: 3 })).toBe('accepted');
    expect(await verify(jws0, { hardwareModel: 'edgecam' })).toBe('HardwareModelNotAllowed');
    expect(await verify(jws0, { firmwareSvn: 2 })).toBe('BelowMinimumFirmwareSvn');
    const noMin = jws(H, { ...manifest, min_firmware_svn: undefined });
    expect(await verify(noMin, { firmwareSvn: 0 })).toBe('accepted');
    expect(await verify(jws0, { modelId: 'other' })).toBe('ModelMismatch');
    expect(await verify(jws0, { minReleaseCounter: 7 })).toBe('accepted'); // the same release again
    expect(await verify(jws0, { minReleaseCounter: 8 })).toBe('ModelDowngrade');
  });

  it('signManifest refuses claims it would refuse to read; misuse is a TypeError', async () => {
    expect(await code(signManifest({ ...manifest, hardware_models: [] }, releaseKey))).toBe(
      'ManifestMalformed',
    );
    await expect(signManifest(manifest, generateKeyPairSync('ed25519').privateKey)).rejects.toThrow(
      TypeError,
    );
    await expect(verifyManifest(jws0, { releaseKeys, now: 'now' as unknown as Date })).rejects.toThrow(
      TypeError,
    );
  });
});
