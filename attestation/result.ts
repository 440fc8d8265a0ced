// The attestation result: an EAR (draft-ietf-rats-ear) in a JWT, signed by the verifier key,
// in the Veraison EAR profile that veraison/ear and its `arc` tool verify. edgeseal's own
// claims ride in one extension map (EAR: "an EAR extension MUST be a map"), under a
// collision-resistant name (RFC 7519 §4.2).
import type { KeyObject } from 'node:crypto';
import { compactVerify, type JWK, SignJWT } from 'jose';
import type { Appraisal } from './appraise.ts';
import { fromBase64url, isRecord, jsonObject } from './encoding.ts';
import { AttestationError, fail } from './errors.ts';
import type { Measurements } from './measurements.ts';
import { type Reason, type Status, TRUST_CLAIMS, type TrustVector } from './policy.ts';

export const EAR_PROFILE = 'tag:github.com,2023:veraison/ear';
/** the EAR submods label of the one attester appraised (EAR §2: the verifier's choice) */
export const EAR_SUBMOD = 'edgeseal-device';
/** the edgeseal extension claim */
export const EDGESEAL_CLAIM = 'edgeseal.dev/device';
export const MAX_RESULT_BYTES = 16 * 1024;

/** AR4SI §2.2.2 verifier identity */
export interface VerifierId {
  readonly developer: string;
  readonly build: string;
}

/** The parts of verified evidence a result binds. */
export interface ResultEvidence {
  readonly deviceId: string;
  readonly certSerial: string;
  readonly claims: { readonly eat_nonce: string };
  readonly wrappingKey: JWK;
  readonly wrappingKeyThumbprint: string;
  readonly measurements?: Measurements;
}

export interface SignResultOptions {
  /** the verifier's P-256 private key */
  readonly key: KeyObject;
  readonly kid: string;
  readonly now: Date;
  readonly ttlSeconds: number;
  readonly resultId: string;
  readonly verifierId: VerifierId;
}

export interface AttestationResult {
  readonly resultId: string;
  readonly deviceId: string;
  readonly status: Status;
  readonly trustVector: TrustVector;
  readonly policyId: string;
  readonly reasons: readonly Reason[];
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  /** eat_nonce echoed from the evidence: which attestation session this answers */
  readonly nonce: string;
  readonly wrappingKey: JWK;
  readonly wrappingKeyThumbprint: string;
  readonly certSerial: string;
  readonly hardwareModel: string;
  readonly firmware: Appraisal['firmware'];
  readonly agent: Appraisal['agent'];
  readonly verifierId: VerifierId;
}

export function signResult(
  appraisal: Appraisal,
  evidence: ResultEvidence,
  o: SignResultOptions,
): Promise<string> {
  if (!Number.isSafeInteger(o.ttlSeconds) || o.ttlSeconds <= 0) throw new TypeError('ttlSeconds must be > 0');
  if (o.key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw new TypeError('verifier key must be P-256');
  const iat = Math.floor(o.now.getTime() / 1000);
  return new SignJWT({
    eat_profile: EAR_PROFILE,
    iat,
    exp: iat + o.ttlSeconds,
    jti: o.resultId,
    sub: evidence.deviceId,
    'ear.verifier-id': { developer: o.verifierId.developer, build: o.verifierId.build },
    eat_nonce: evidence.claims.eat_nonce,
    cnf: { jwk: evidence.wrappingKey }, // RFC 7800 §3.2: the key a release is wrapped to
    submods: {
      [EAR_SUBMOD]: {
        'ear.status': appraisal.status,
        'ear.trustworthiness-vector': appraisal.trustVector,
        'ear.appraisal-policy-id': appraisal.policyId,
      },
    },
    [EDGESEAL_CLAIM]: {
      cert_serial: evidence.certSerial,
      hardware_model: appraisal.hardwareModel,
      wrapping_key_thumbprint: evidence.wrappingKeyThumbprint,
      firmware: appraisal.firmware,
      agent: appraisal.agent,
      reasons: appraisal.reasons,
    },
  })
    .setProtectedHeader({ alg: 'ES256', kid: o.kid, typ: 'eat+jwt' })
    .sign(o.key);
}

const STATUSES = new Set<unknown>(['affirming', 'warning', 'contraindicated']);
const RESULT_HEADERS = new Set(['alg', 'kid', 'typ']);

const invalid = (why: string): never => fail('ResultInvalid', why);
const str = (v: unknown, what: string): string =>
  typeof v === 'string' && v.length > 0 ? v : invalid(`${what} missing`);
const int = (v: unknown, what: string): number =>
  Number.isSafeInteger(v) ? (v as number) : invalid(`${what} must be an integer`);

function vectorOf(v: unknown): TrustVector {
  if (!isRecord(v)) return invalid('trustworthiness vector missing');
  const out = {} as Record<(typeof TRUST_CLAIMS)[number], number>;
  for (const name of TRUST_CLAIMS) {
    const c = v[name] ?? 0;
    if (!Number.isInteger(c) || (c as number) < -128 || (c as number) > 127)
      invalid(`vector ${name} out of range`);
    out[name] = c as number;
  }
  return out;
}

function parse(p: Record<string, unknown>): AttestationResult {
  if (p['eat_profile'] !== EAR_PROFILE) invalid('not an EAR of the expected profile');
  const iat = int(p['iat'], 'iat');
  const exp = int(p['exp'], 'exp');
  const submods = p['submods'];
  const sub = isRecord(submods) ? submods[EAR_SUBMOD] : undefined;
  if (!isRecord(sub)) return invalid(`submods.${EAR_SUBMOD} missing`);
  const status = sub['ear.status'];
  if (!STATUSES.has(status)) invalid('ear.status invalid');
  const vid = p['ear.verifier-id'];
  const e = p[EDGESEAL_CLAIM];
  const cnf = p['cnf'];
  if (!isRecord(vid) || !isRecord(e) || !isRecord(cnf) || !isRecord(cnf['jwk']))
    return invalid('claims missing');
  if (!Array.isArray(e['reasons']) || !isRecord(e['firmware']) || !isRecord(e['agent']))
    invalid('reasons missing');
  return {
    resultId: str(p['jti'], 'jti'),
    deviceId: str(p['sub'], 'sub'),
    status: status as Status,
    trustVector: vectorOf(sub['ear.trustworthiness-vector']),
    policyId: str(sub['ear.appraisal-policy-id'], 'ear.appraisal-policy-id'),
    reasons: e['reasons'] as Reason[],
    issuedAt: new Date(iat * 1000),
    expiresAt: new Date(exp * 1000),
    nonce: str(p['eat_nonce'], 'eat_nonce'),
    wrappingKey: cnf['jwk'] as JWK,
    wrappingKeyThumbprint: str(e['wrapping_key_thumbprint'], 'wrapping_key_thumbprint'),
    certSerial: str(e['cert_serial'], 'cert_serial'),
    hardwareModel: str(e['hardware_model'], 'hardware_model'),
    firmware: e['firmware'] as unknown as Appraisal['firmware'],
    agent: e['agent'] as unknown as Appraisal['agent'],
    verifierId: { developer: str(vid['developer'], 'developer'), build: str(vid['build'], 'build') },
  };
}

export interface VerifyResultOptions {
  /** the verifier's public key (P-256) */
  readonly publicKey: KeyObject;
  readonly now: Date;
  /** the caller's device id (its mTLS identity): a result for another device is refused */
  readonly expectedDeviceId?: string;
  /** tolerated clock difference for a result issued "in the future", seconds (default 30) */
  readonly clockSkewSeconds?: number;
}

/** Verifies a signed result. Expiry is strict: at or after exp the result is refused. */
export async function verifyResult(jwt: string, o: VerifyResultOptions): Promise<AttestationResult> {
  if (typeof jwt !== 'string' || jwt.length > MAX_RESULT_BYTES)
    invalid('result is not a token of acceptable size');
  const headerBytes = fromBase64url(jwt.slice(0, Math.max(0, jwt.indexOf('.'))));
  const header = headerBytes && jsonObject(headerBytes);
  if (!header || Object.keys(header).some((k) => !RESULT_HEADERS.has(k)))
    invalid('result header not acceptable');
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(jwt, o.publicKey, { algorithms: ['ES256'] }));
  } catch (e) {
    return fail('ResultInvalid', 'result signature does not verify', e);
  }
  const r = parse(jsonObject(payload) ?? invalid('result payload is not JSON'));
  const now = o.now.getTime();
  if (r.issuedAt.getTime() > now + (o.clockSkewSeconds ?? 30) * 1000) invalid('result issued in the future');
  // RFC 7519 §4.1.4: on or after exp it MUST NOT be accepted
  if (now >= r.expiresAt.getTime())
    fail('ResultExpired', `result ${r.resultId} expired at ${r.expiresAt.toISOString()}`);
  if (o.expectedDeviceId !== undefined && r.deviceId !== o.expectedDeviceId) {
    fail('ResultOtherDevice', `result is for device ${r.deviceId}`);
  }
  return r;
}

/** The result, if it is there and affirming; otherwise why not. */
export function requireAffirming(result: AttestationResult | undefined | null): AttestationResult {
  if (!result) throw new AttestationError('ResultMissing', 'no attestation result');
  if (result.status !== 'affirming') {
    const why = result.reasons.map((r) => r.code).join(', ') || 'no reason recorded';
    fail('ResultNotAffirming', `attestation result is ${result.status} (${why})`);
  }
  return result;
}
