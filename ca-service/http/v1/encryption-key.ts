// The fleet's telemetry key, public half: devices encrypt telemetry to it as JWE
// (ECDH-ES+A256KW / A256GCM); the gateway routes what it cannot read; the control plane's
// consumer decrypts. kid = the RFC 7638 thumbprint.
import { createPublicKey } from 'node:crypto';
import type { Handler } from 'hono';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { SigningKey } from '../../keys/hierarchy.ts';
import type { AppEnv } from '../env.ts';

export function telemetryKeyRoute(key: SigningKey): Handler<AppEnv> {
  const jwk = createPublicKey({ key: key.publicKeyDer, format: 'der', type: 'spki' }).export({
    format: 'jwk',
  }) as JWK;
  const body = calculateJwkThumbprint(jwk, 'sha256').then((kid) => ({
    kid,
    jwk: { ...jwk, kid, use: 'enc', alg: 'ECDH-ES+A256KW' },
  }));
  return async (c) => c.json(await body);
}
