// The attester's half of eat-jwt: builds and signs the evidence the verifier accepts. Pure:
// the device key, its certificate chain, the clock and the measurements come in as arguments
// (the agent measures; this file only encodes and signs).
import { createPublicKey, type KeyObject } from 'node:crypto';
import { type JWK, SignJWT } from 'jose';
import { EAT_PROFILE, hwmodelClaim, type SwVersion } from './eat-claims.ts';
import { measurementsClaim } from './measurements.ts';

export interface EvidenceInput {
  /** the challenge nonce: its bytes, or the base64url text the verifier handed out */
  readonly nonce: Uint8Array | string;
  /** RFC 9711 §4.2.1 UEID bytes, e.g. 0x01 followed by 16/24/32 random bytes made once */
  readonly ueid: Uint8Array;
  /** RFC 9711 §4.2.3: an IANA PEN, or 3 (IEEE) or 16 (random) bytes */
  readonly oemid: number | Uint8Array;
  readonly hardwareModel: string;
  readonly swname: string;
  readonly swversion: string | SwVersion;
  readonly firmware: { readonly sha256: string; readonly version?: string };
  readonly agent: { readonly sha256: string; readonly version?: string };
  /** the in-memory P-256 key model keys are to be wrapped to; only its public half is sent */
  readonly wrappingKey: KeyObject | JWK;
  readonly now: Date;
}

export interface EvidenceSigner {
  /** the device private key (P-256, P-384 or Ed25519) */
  readonly key: KeyObject;
  /** DER of the device certificate, then of its issuing CA */
  readonly chain: readonly Uint8Array[];
}

function algFor(key: KeyObject): 'ES256' | 'ES384' | 'EdDSA' {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (curve === 'prime256v1') return 'ES256';
  if (curve === 'secp384r1') return 'ES384';
  throw new TypeError(`device key must be P-256, P-384 or Ed25519, got ${curve ?? key.asymmetricKeyType}`);
}

function publicJwk(k: KeyObject | JWK): JWK {
  let jwk = k as JWK;
  if ('asymmetricKeyType' in k) {
    const ko = k as KeyObject;
    jwk = (ko.type === 'public' ? ko : createPublicKey(ko)).export({ format: 'jwk' }) as JWK;
  }
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256') throw new TypeError('wrapping key must be EC P-256');
  return { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! };
}

const b64u = (b: Uint8Array) => Buffer.from(b).toString('base64url');

/** The claims set of edgeseal evidence (see the README's claims table). */
export function evidenceClaims(input: EvidenceInput): Record<string, unknown> {
  return {
    eat_profile: EAT_PROFILE,
    eat_nonce: typeof input.nonce === 'string' ? input.nonce : b64u(input.nonce),
    ueid: b64u(input.ueid),
    oemid: typeof input.oemid === 'number' ? input.oemid : b64u(input.oemid),
    hwmodel: hwmodelClaim(input.hardwareModel),
    swname: input.swname,
    swversion: typeof input.swversion === 'string' ? [input.swversion] : input.swversion,
    iat: Math.floor(input.now.getTime() / 1000),
    measurements: measurementsClaim({ firmware: input.firmware, agent: input.agent }),
    cnf: { jwk: publicJwk(input.wrappingKey) },
  };
}

/** Signs evidence as an EAT JWT with the chain in x5c (RFC 7515 §4.1.6). */
export function signEvidence(input: EvidenceInput, signer: EvidenceSigner): Promise<string> {
  if (signer.chain.length !== 2) throw new TypeError('chain must be [device certificate, issuing CA]');
  return new SignJWT(evidenceClaims(input))
    .setProtectedHeader({
      alg: algFor(signer.key),
      typ: 'eat+jwt',
      x5c: signer.chain.map((der) => Buffer.from(der).toString('base64')),
    })
    .sign(signer.key);
}
