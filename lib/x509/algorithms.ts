// Key and signature algorithms as data tables (the jose way), not switches.
import { OID } from './oids.ts';

export type KeyType = 'ec-p256' | 'ec-p384' | 'ed25519' | 'rsa';

/** How to verify a signature made with a given signatureAlgorithm OID. */
export interface SignatureAlgorithm {
  readonly hash: 'sha256' | 'sha384' | 'sha512' | null;
  readonly family: 'ecdsa' | 'eddsa' | 'rsa-pkcs1';
  /**
   * whether the AlgorithmIdentifier may carry a NULL parameter: RSA yes (RFC 4055 §5: NULL,
   * and absent accepted); ECDSA (RFC 5758 §3.2) and Ed25519 (RFC 8410 §3) MUST omit it
   */
  readonly nullParams: boolean;
}

export const SIGNATURE_ALGORITHMS: Readonly<Record<string, SignatureAlgorithm>> = {
  [OID.ecdsaWithSha256]: { hash: 'sha256', family: 'ecdsa', nullParams: false },
  [OID.ecdsaWithSha384]: { hash: 'sha384', family: 'ecdsa', nullParams: false },
  [OID.ecdsaWithSha512]: { hash: 'sha512', family: 'ecdsa', nullParams: false },
  [OID.ed25519]: { hash: null, family: 'eddsa', nullParams: false },
  [OID.sha256WithRsa]: { hash: 'sha256', family: 'rsa-pkcs1', nullParams: true },
  [OID.sha384WithRsa]: { hash: 'sha384', family: 'rsa-pkcs1', nullParams: true },
  [OID.sha512WithRsa]: { hash: 'sha512', family: 'rsa-pkcs1', nullParams: true },
};

/** Which signature families a key type may produce. */
export const KEY_SIGNATURE_FAMILY: Readonly<Record<KeyType, SignatureAlgorithm['family']>> = {
  'ec-p256': 'ecdsa',
  'ec-p384': 'ecdsa',
  ed25519: 'eddsa',
  rsa: 'rsa-pkcs1',
};

/** The CA's own signing algorithms: curve → hash and signatureAlgorithm OID (RFC 5758 §3.2). */
export const CA_KEY_ALGORITHMS = {
  'P-256': { namedCurve: 'prime256v1', hash: 'sha256', sigOid: OID.ecdsaWithSha256 },
  'P-384': { namedCurve: 'secp384r1', hash: 'sha384', sigOid: OID.ecdsaWithSha384 },
} as const;
export type CaKeyAlgorithm = keyof typeof CA_KEY_ALGORITHMS;
