// The claims of edgeseal evidence (RFC 9711, JSON encoding) and how each is checked. The
// README's claims table is this file in prose. A claim this profile requires and that is
// absent → ClaimMissing; present with the wrong shape → ClaimInvalid naming the claim. Claims
// the profile does not name are ignored (RFC 9711 §4: claims not understood MUST be ignored).
import { createHash } from 'node:crypto';
import type { JWK } from 'jose';
import { fromBase64url, isRecord } from './encoding.ts';
import { fail } from './errors.ts';
import { type Measurements, parseMeasurements } from './measurements.ts';

/** RFC 9711 §4.3.2 eat_profile of edgeseal evidence (a tag URI, RFC 4151). */
export const EAT_PROFILE = 'tag:edgeseal.dev,2026:eat-jwt-v1';

export type SwVersion = readonly [version: string] | readonly [version: string, scheme: number | string];

export interface EatClaims {
  readonly eat_profile: string;
  /** base64url text as sent; `nonce` on the evidence is its bytes */
  readonly eat_nonce: string;
  readonly ueid: string;
  readonly oemid: string | number;
  readonly hwmodel: string;
  readonly swname: string;
  readonly swversion: SwVersion;
  readonly iat: number;
  readonly measurements: readonly (readonly [number, string])[];
  readonly cnf: { readonly jwk: JWK };
}

export interface CheckedClaims {
  readonly claims: EatClaims;
  readonly nonce: Buffer;
  readonly measurements: Measurements;
  /** the public members only: { kty, crv, x, y } */
  readonly wrappingKey: JWK;
}

const invalid = (claim: string, why: string): never => fail('ClaimInvalid', `${claim} ${why}`);

function required(p: Record<string, unknown>, claim: string): unknown {
  const v = p[claim];
  return v === undefined ? fail('ClaimMissing', `${claim} is required by ${EAT_PROFILE}`) : v;
}

function b64urlBytes(p: Record<string, unknown>, claim: string, min: number, max: number): Buffer {
  const v = required(p, claim);
  const bytes = typeof v === 'string' ? fromBase64url(v) : undefined;
  if (!bytes) return invalid(claim, 'must be base64url text');
  if (bytes.length < min || bytes.length > max) return invalid(claim, `must be ${min}–${max} bytes`);
  return bytes;
}

/**
 * The hwmodel value a device of `model` sends (RFC 9711 §4.2.4: opaque bytes, at most 32;
 * bytes travel base64url in JSON, §7.2.2). The bytes are the model name's UTF-8 — the same
 * string the CA writes into the certificate's OU — so the verifier compares exactly what the
 * CA certified. A name longer than 32 bytes (the CA allows 64) is replaced by its SHA-256, as
 * §4.2.4 suggests for human-readable identifiers, to stay within the maximum.
 */
export function hwmodelClaim(model: string): string {
  const utf8 = Buffer.from(model, 'utf8');
  return (utf8.length <= 32 ? utf8 : createHash('sha256').update(utf8).digest()).toString('base64url');
}

function checkOemid(p: Record<string, unknown>): string | number {
  const v = required(p, 'oemid');
  // RFC 9711 §4.2.3: an IANA PEN (a number), or base64url of 3 (IEEE) or 16 (random) bytes
  if (typeof v === 'number')
    return Number.isSafeInteger(v) && v >= 0 ? v : invalid('oemid', 'PEN must be an integer');
  const bytes = typeof v === 'string' ? fromBase64url(v) : undefined;
  if (!bytes || (bytes.length !== 3 && bytes.length !== 16)) {
    return invalid('oemid', 'must be a PEN or base64url of 3 or 16 bytes');
  }
  return v as string;
}

function checkSwversion(p: Record<string, unknown>): SwVersion {
  const v = required(p, 'swversion');
  // RFC 9711 §4.2.7: [version, ?scheme] with the CoSWID version-scheme (RFC 9393)
  if (!Array.isArray(v) || v.length < 1 || v.length > 2 || typeof v[0] !== 'string' || v[0].length === 0) {
    return invalid('swversion', 'must be [version, scheme?]');
  }
  if (v.length === 2 && typeof v[1] !== 'number' && typeof v[1] !== 'string') {
    return invalid('swversion', 'scheme must be a number or text');
  }
  if (v[0].length > 64) return invalid('swversion', 'is too long');
  return v as unknown as SwVersion;
}

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'];

function checkCnf(p: Record<string, unknown>): JWK {
  const cnf = required(p, 'cnf');
  // RFC 7800 §3.2: cnf carries the key as {"jwk": {...}}; only that form is accepted here
  if (!isRecord(cnf) || !isRecord(cnf['jwk']) || Object.keys(cnf).length !== 1) {
    return invalid('cnf', 'must be {"jwk": {...}}');
  }
  const jwk = cnf['jwk'];
  if (PRIVATE_JWK_MEMBERS.some((m) => m in jwk)) return invalid('cnf', 'jwk carries private key material');
  // the key model keys are wrapped to with ECDH-ES+A256KW: P-256 only
  if (jwk['kty'] !== 'EC' || jwk['crv'] !== 'P-256')
    return invalid('cnf', 'jwk must be an EC P-256 public key');
  const x = typeof jwk['x'] === 'string' ? fromBase64url(jwk['x']) : undefined;
  const y = typeof jwk['y'] === 'string' ? fromBase64url(jwk['y']) : undefined;
  if (x?.length !== 32 || y?.length !== 32) return invalid('cnf', 'jwk x and y must be 32 base64url bytes');
  if (!onP256(x, y)) return invalid('cnf', 'jwk is not a point on P-256');
  return { kty: 'EC', crv: 'P-256', x: jwk['x'] as string, y: jwk['y'] as string };
}

// P-256 (SEC 2 §2.4.2 / FIPS 186-4 D.1.2.3): y² = x³ − 3x + b over GF(p). The cofactor is 1,
// so an affine point on the curve is in the group. ~10× cheaper than a KeyObject import,
// which a busy verifier felt (82 µs of ~330 µs per evidence).
const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
function onP256(xb: Buffer, yb: Buffer): boolean {
  const x = BigInt(`0x${xb.toString('hex')}`);
  const y = BigInt(`0x${yb.toString('hex')}`);
  if (x >= P || y >= P) return false;
  return (y * y - (x * x * x - 3n * x + B)) % P === 0n;
}

function checkIat(p: Record<string, unknown>, now: Date, skewSeconds: number): number {
  const v = required(p, 'iat');
  // RFC 9711 §4.3.1: a floating-point iat MUST be treated as an error
  if (typeof v !== 'number' || !Number.isSafeInteger(v))
    return invalid('iat', 'must be an integer NumericDate');
  if (v > now.getTime() / 1000 + skewSeconds) return invalid('iat', 'is in the future');
  const exp = p['exp'];
  if (exp !== undefined && (typeof exp !== 'number' || exp <= now.getTime() / 1000 - skewSeconds)) {
    return invalid('exp', 'is past or not a NumericDate'); // RFC 7519 §4.1.4
  }
  return v;
}

/** Checks a verified payload against the edgeseal EAT profile. */
export function checkClaims(p: Record<string, unknown>, now: Date, skewSeconds: number): CheckedClaims {
  const profile = required(p, 'eat_profile');
  if (profile !== EAT_PROFILE) invalid('eat_profile', `must be ${EAT_PROFILE}`);
  // RFC 9711 §4.1: in JSON a text string of 8–88 characters; one nonce only in this profile
  // (§6.3.11 lets a profile say so). Ours is base64url of the challenge's 8–64 bytes.
  const rawNonce = p['eat_nonce'];
  if (rawNonce === undefined) fail('NonceMissing', 'eat_nonce is required');
  if (Array.isArray(rawNonce)) invalid('eat_nonce', 'must be a single nonce');
  if (typeof rawNonce !== 'string' || rawNonce.length < 8 || rawNonce.length > 88) {
    invalid('eat_nonce', 'must be text of 8–88 characters');
  }
  const nonce = b64urlBytes(p, 'eat_nonce', 8, 64);
  // RFC 9711 §4.2.1: 7–33 bytes, opaque to the consumer (§4.2.1.2: no use of its structure)
  b64urlBytes(p, 'ueid', 7, 33);
  const oemid = checkOemid(p);
  // RFC 9711 §4.2.4: 1–32 bytes; compared with the certificate by the caller of this file
  b64urlBytes(p, 'hwmodel', 1, 32);
  const swname = required(p, 'swname'); // RFC 9711 §4.2.6: free-form text
  if (typeof swname !== 'string' || swname.length === 0 || swname.length > 128)
    invalid('swname', 'must be text');
  const swversion = checkSwversion(p);
  const iat = checkIat(p, now, skewSeconds);
  const measurements = parseMeasurements(required(p, 'measurements'));
  const wrappingKey = checkCnf(p);
  return {
    claims: {
      eat_profile: EAT_PROFILE,
      eat_nonce: rawNonce as string,
      ueid: p['ueid'] as string,
      oemid,
      hwmodel: p['hwmodel'] as string,
      swname: swname as string,
      swversion,
      iat,
      measurements: p['measurements'] as EatClaims['measurements'],
      cnf: { jwk: wrappingKey },
    },
    nonce,
    measurements,
    wrappingKey,
  };
}
