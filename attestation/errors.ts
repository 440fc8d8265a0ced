// One error base with stable codes (the jose way). Bad evidence, a bad reference or a bad
// result throws a coded AttestationError; misuse of the API by our own code throws TypeError.
// Transports map the codes to their vocabulary in one place each (HTTP: problem+json).

export const ATTESTATION_ERROR_CODES = [
  // the evidence as a token
  'EvidenceMalformed', // not a compact JWS, bad base64url, non-JSON header or payload, unknown format
  'EvidenceTooLarge', // over the size cap, refused before any parsing
  'AlgorithmNotAllowed', // alg outside the allow-list, or not the one the leaf key makes
  'KeyHeaderNotAllowed', // kid, jwk, jku, x5u, x5t, crit or any header beyond alg/typ/x5c
  // the certificate chain in x5c
  'ChainInvalid', // x5c missing/empty/too long/not base64 DER, not issued by the given issuing CA
  'LeafIsCa', // leaf with basicConstraints cA or keyUsage keyCertSign
  'CertificateExpired', // leaf outside its validity at `now`
  'CertificateRevoked', // ctx.isRevoked(serial) said so
  'SignatureInvalid', // the JWS signature does not verify under the x5c leaf key
  'DeviceMismatch', // evidence signed by another device's certificate than the caller's
  'HardwareModelMismatch', // hwmodel claim is not the certificate's OU
  // freshness: checked by the caller, which owns the nonce store; the codes live here
  'NonceMissing',
  'NonceReplayed',
  'NonceExpired',
  'NonceUnknown', // not this session's / this device's nonce
  // claims
  'ClaimMissing', // a claim the edgeseal EAT profile requires is absent
  'ClaimInvalid', // a claim is present but has the wrong shape or value (names the claim)
  // appraisal outcomes (reason codes; thrown only by helpers that insist on affirming)
  'FirmwareUnknown',
  'FirmwareDenied',
  'BelowMinimumSvn',
  // attestation results
  'ResultInvalid', // bad signature, wrong alg/profile, malformed
  'ResultExpired',
  'ResultOtherDevice',
  'ResultOtherSession', // the result answers another attestation session's nonce
  'ResultNotAffirming',
  'ResultMissing',
  // key release
  'KeyReleaseInvalid', // a wrapped content key that is not ours to open (agent side)
] as const;

export type AttestationErrorCode = (typeof ATTESTATION_ERROR_CODES)[number];

export class AttestationError extends Error {
  readonly code: AttestationErrorCode;
  /** Short, safe to show to the device. Never contains a token, nonce or key. */
  readonly detail: string;
  constructor(code: AttestationErrorCode, detail: string, options?: { cause?: unknown }) {
    super(`${code}: ${detail}`, options);
    this.name = 'AttestationError';
    this.code = code;
    this.detail = detail;
  }
}

export const fail = (code: AttestationErrorCode, detail: string, cause?: unknown): never => {
  throw new AttestationError(code, detail, cause === undefined ? undefined : { cause });
};

export const isAttestationError = (e: unknown, code?: AttestationErrorCode): e is AttestationError =>
  e instanceof AttestationError && (code === undefined || e.code === code);
