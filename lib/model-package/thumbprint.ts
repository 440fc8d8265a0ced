// RFC 7638 §3.2 thumbprint of a P-256 key: SHA-256 over {"crv","kty","x","y"} in that order,
// no whitespace, base64url. The kid of a release key's manifests and of a key envelope's
// recipient. Computed directly (as attestation/eat-jwt.ts does): jose's calculateJwkThumbprint
// gives the same value through WebCrypto's async digest, ~100× slower.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

export const isP256 = (k: KeyObject): boolean =>
  k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === 'prime256v1';

export function p256Thumbprint(key: KeyObject): string {
  if (!isP256(key)) throw new TypeError('expected a P-256 key');
  const jwk = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'jwk' });
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}
