// The public half of an encryption key of the control plane, as a JWK (kid = the RFC 7638
// thumbprint, alg ECDH-ES+A256KW): the fleet's telemetry key (devices encrypt telemetry to
// it; the gateway routes what it cannot read; the consumer decrypts) and the key service's
// key (release engineers wrap a package's content key to it).
import { createPublicKey } from 'node:crypto';
import type { Handler } from 'hono';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { SigningKey } from '../../keys/hierarchy.ts';
import type { AppEnv } from '../env.ts';

export function encryptionKeyRoute(key: SigningKey): Handler<AppEnv> {
  const jwk = createPublicKey({ key: key.publicKeyDer, format: 'der', type: 'spki' }).export({
    format: 'jwk',
  }) as JWK;
  const body = calculateJwkThumbprint(jwk, 'sha256').then((kid) => ({
    kid,
    jwk: { ...jwk, kid, use: 'enc', alg: 'ECDH-ES+A256KW' },
  }));
  return async (c) => c.json(await body);
}
