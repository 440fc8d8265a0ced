// The wrapping key: an ECDH P-256 key pair made at each `agent run` start, in memory only.
// Its public half goes into the evidence (cnf, RFC 7800); the key service wraps content keys
// to it (ECDH-ES+A256KW). Never written, never logged: a released key is useless outside
// this one process. Logs carry its RFC 7638 thumbprint (the kid of every release) only.
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';

export interface WrappingKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicJwk: JWK;
  /** RFC 7638 thumbprint (SHA-256, base64url) of publicJwk */
  readonly kid: string;
}

export async function newWrappingKey(): Promise<WrappingKey> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKey = createPublicKey(privateKey);
  const jwk = publicKey.export({ format: 'jwk' });
  const publicJwk: JWK = { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! };
  return { privateKey, publicKey, publicJwk, kid: await calculateJwkThumbprint(publicJwk, 'sha256') };
}
