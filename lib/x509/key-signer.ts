// A Signer over a node:crypto private key (the software "HSM").
import { type KeyObject, sign } from 'node:crypto';
import { oid, seq } from '../der/encode.ts';
import { CA_KEY_ALGORITHMS, type CaKeyAlgorithm } from './algorithms.ts';
import type { Signer } from './certificate.ts';

export function keySigner(key: KeyObject, algorithm: CaKeyAlgorithm): Signer {
  const { hash, sigOid } = CA_KEY_ALGORITHMS[algorithm];
  // RFC 5758 §3.2: ecdsa-with-SHA* AlgorithmIdentifiers carry no parameters.
  const algorithmIdentifier = seq(oid(sigOid));
  return { algorithmIdentifier, sign: (data) => sign(hash, data, key) };
}

export function caKeyAlgorithmOf(key: KeyObject): CaKeyAlgorithm {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (curve === 'prime256v1') return 'P-256';
  if (curve === 'secp384r1') return 'P-384';
  throw new TypeError(`CA key must be EC P-256 or P-384, got ${curve ?? key.asymmetricKeyType}`);
}
