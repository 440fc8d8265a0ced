// The attestation verifier library: evidence in, a typed result or a coded error out. No I/O:
// time, keys, trust anchors, revocation status and reference values come in as arguments.
export {
  type Appraisal,
  type AppraisalInput,
  type AppraiseOptions,
  appraise,
  type FirmwareReference,
  type ReferenceValues,
} from './appraise.ts';
export { EAT_PROFILE, type EatClaims, hwmodelClaim, type SwVersion } from './eat-claims.ts';
export {
  EAT_JWT_MEDIA_TYPE,
  type EvidenceContext,
  MAX_EVIDENCE_BYTES,
  type VerifiedEvidence,
  verifyEatJwt,
} from './eat-jwt.ts';
export {
  ATTESTATION_ERROR_CODES,
  AttestationError,
  type AttestationErrorCode,
  isAttestationError,
} from './errors.ts';
export {
  type EvidenceFormat,
  type EvidenceFormatName,
  FORMATS,
  formatForMediaType,
  verifyEvidence,
} from './evidence-formats.ts';
export { type EvidenceInput, type EvidenceSigner, evidenceClaims, signEvidence } from './evidence-sign.ts';
export {
  authorizeKeyRelease,
  KEY_RELEASE_ALG,
  KEY_RELEASE_ENC,
  type ReleaseGrant,
  type ReleaseRequest,
  unwrapContentKey,
  wrapContentKey,
} from './key-release.ts';
export {
  type ComponentName,
  MEASUREMENT_CONTENT_FORMAT,
  type MeasuredComponent,
  type Measurements,
  measurementsClaim,
} from './measurements.ts';
export {
  APPRAISAL_POLICY_ID,
  AR4SI,
  POLICY,
  type Reason,
  type ReasonCode,
  type Status,
  type Tier,
  TRUST_CLAIMS,
  type TrustClaimName,
  type TrustVector,
  tierOf,
  worstTier,
} from './policy.ts';
export {
  type AttestationResult,
  EAR_PROFILE,
  EAR_SUBMOD,
  EDGESEAL_CLAIM,
  requireAffirming,
  type ResultEvidence,
  type SignResultOptions,
  signResult,
  type VerifierId,
  type VerifyResultOptions,
  verifyResult,
} from './result.ts';
export type { LeafCache, VerifiedLeaf } from './x5c-chain.ts';
