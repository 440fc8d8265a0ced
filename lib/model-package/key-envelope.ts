// The key envelope: the content key as a compact JWE (RFC 7516) to the control plane's key
// service, ECDH-ES+A256KW / A256GCM (RFC 7518 §4.6, §5.3), kid = the key service key's
// RFC 7638 thumbprint. The package id is a protected header parameter, and the protected
// header is the JWE's additional authenticated data (RFC 7516 §5.1 step 14): it cannot be
// changed without the tag failing, so an envelope moved to another package is refused by name.
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { CompactEncrypt, compactDecrypt, type JWK } from 'jose';
import { KEY_BYTES, PACKAGE_ID_BYTES } from './chunks.ts';
import { fromBase64url } from './encoding.ts';
import { fail, PackageError } from './errors.ts';
import { MAX_ENVELOPE_BYTES } from './format.ts';
import { isP256, p256Thumbprint } from './thumbprint.ts';

export const ENVELOPE_ALG = 'ECDH-ES+A256KW';
export const ENVELOPE_ENC = 'A256GCM';
/** epk is ECDH-ES's own (RFC 7518 §4.6.1.1); anything else (zip, cty, crit, jku…) is refused */
const HEADER_ALLOWED = new Set(['alg', 'enc', 'epk', 'kid', 'package_id']);

const isPackageId = (v: unknown): v is string =>
  typeof v === 'string' && fromBase64url(v)?.length === PACKAGE_ID_BYTES;

function publicKeyOf(jwk: JWK): KeyObject {
  let key: KeyObject | undefined;
  try {
    const { kty, crv, x, y } = jwk ?? {}; // never d: a private JWK given by mistake stays private
    key = createPublicKey({ key: { kty, crv, x, y } as JsonWebKey, format: 'jwk' });
  } catch {
    key = undefined;
  }
  if (!key || !isP256(key)) throw new TypeError('the key service key must be a P-256 public JWK');
  return key;
}

/** Wraps a content key to the key service's P-256 public key, bound to one package id. */
export async function wrapContentKey(
  contentKey: Uint8Array,
  keyServicePublicJwk: JWK,
  packageId: string,
): Promise<string> {
  if (!(contentKey instanceof Uint8Array) || contentKey.byteLength !== KEY_BYTES)
    throw new TypeError(`contentKey must be ${KEY_BYTES} bytes`);
  if (!isPackageId(packageId)) throw new TypeError('packageId must be 16 bytes in base64url');
  const key = publicKeyOf(keyServicePublicJwk);
  return new CompactEncrypt(contentKey)
    .setProtectedHeader({
      alg: ENVELOPE_ALG,
      enc: ENVELOPE_ENC,
      kid: p256Thumbprint(key),
      package_id: packageId,
    })
    .encrypt(key);
}

/** The key service side: opens an envelope for the package it came with. */
export async function unwrapContentKey(
  jwe: string,
  privateKey: KeyObject,
  packageId: string,
): Promise<Buffer> {
  if (privateKey?.type !== 'private' || !isP256(privateKey))
    throw new TypeError('privateKey must be a P-256 private KeyObject');
  if (typeof jwe !== 'string' || jwe.length > MAX_ENVELOPE_BYTES)
    fail('KeyEnvelopeInvalid', 'key envelope is not a compact JWE of a sensible size');
  let opened: Awaited<ReturnType<typeof compactDecrypt>>;
  try {
    opened = await compactDecrypt(jwe, privateKey, {
      keyManagementAlgorithms: [ENVELOPE_ALG],
      contentEncryptionAlgorithms: [ENVELOPE_ENC],
    });
  } catch (e) {
    return fail('KeyEnvelopeInvalid', 'key envelope does not open with this key', e);
  }
  const key = Buffer.from(opened.plaintext.buffer, opened.plaintext.byteOffset, opened.plaintext.byteLength);
  try {
    const h = opened.protectedHeader;
    for (const name of Object.keys(h))
      if (!HEADER_ALLOWED.has(name))
        fail('KeyEnvelopeInvalid', `header parameter "${name.slice(0, 16)}" is not allowed`);
    if (h.kid !== p256Thumbprint(privateKey))
      fail('KeyEnvelopeInvalid', 'key envelope names another recipient key');
    if (!isPackageId(h['package_id'])) fail('KeyEnvelopeInvalid', 'key envelope names no package');
    if (h['package_id'] !== packageId)
      fail('KeyEnvelopeOtherPackage', `key envelope is bound to package ${h['package_id']}`);
    if (key.length !== KEY_BYTES)
      fail('KeyEnvelopeInvalid', `key envelope holds ${key.length} bytes, not a key`);
    return key;
  } catch (e) {
    key.fill(0);
    if (e instanceof PackageError) throw e;
    return fail('KeyEnvelopeInvalid', 'key envelope could not be checked', e);
  }
}
