// One error class with stable codes (the jose way). A bad package, manifest, payload or key
// envelope throws a coded PackageError, never a TypeError/RangeError; misuse of the API by our
// own code (a 31-byte content key, a release key that is not P-256) throws TypeError.
// Transports map the codes to their vocabulary in one place each.

export const PACKAGE_ERROR_CODES = [
  // the container (format.ts)
  'PackageMalformed', // bad magic, reserved bits set, a length out of bounds, trailing bytes, non-ASCII text
  'PackageTruncated', // a section runs past the end of the bytes
  'UnsupportedVersion', // our magic, a format version this code does not know
  // the manifest (manifest.ts, manifest-claims.ts)
  'ManifestMalformed', // not a canonical compact JWS, bad JSON, a claim missing/unknown/ill-typed/inconsistent
  'ManifestHeaderNotAllowed', // a protected header parameter beyond alg/kid/typ, or the wrong typ
  'AlgorithmNotAllowed', // alg other than ES256 (none, HS256, ES384…)
  'ReleaseKeyUnknown', // no release key for this kid (or the key registered under it has another thumbprint)
  'ManifestSignatureInvalid',
  'ManifestIssuedInFuture', // iat later than now + clock skew
  'HardwareModelNotAllowed', // the device's hardware model is not in hardware_models
  'BelowMinimumFirmwareSvn',
  'ModelMismatch', // the manifest is for another model id than the caller expects
  'ModelDowngrade', // release_counter below the caller's floor
  // the payload (decrypt.ts, decrypt-stream.ts)
  'PayloadSizeMismatch', // payload length is not plaintext_size + 16 × chunk_count
  'PayloadDigestMismatch', // SHA-256 of the encrypted payload is not payload_sha256
  'PayloadReadFailed', // the stream the payload came from failed
  'PlaintextTooLarge', // plaintext_size cannot be allocated here
  'ContentKeyInvalid', // not 32 bytes
  'ChunkAuthFailed', // a chunk's GCM tag does not verify (tampered, reordered, another key or package)
  'PlaintextDigestMismatch',
  // the key envelope (key-envelope.ts)
  'KeyEnvelopeInvalid', // not a JWE we accept, or does not open with this key
  'KeyEnvelopeOtherPackage', // opens, but is bound to another package id
] as const;

export type PackageErrorCode = (typeof PACKAGE_ERROR_CODES)[number];

export class PackageError extends Error {
  readonly code: PackageErrorCode;
  /** Short, safe to log or show: never key material or plaintext. */
  readonly detail: string;
  /** ChunkAuthFailed: the index of the first chunk whose tag failed */
  readonly chunkIndex: number | undefined;
  constructor(code: PackageErrorCode, detail: string, options?: { cause?: unknown; chunkIndex?: number }) {
    super(`${code}: ${detail}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PackageError';
    this.code = code;
    this.detail = detail;
    this.chunkIndex = options?.chunkIndex;
  }
}

export const fail = (code: PackageErrorCode, detail: string, cause?: unknown): never => {
  throw new PackageError(code, detail, cause === undefined ? undefined : { cause });
};

export const isPackageError = (e: unknown, code?: PackageErrorCode): e is PackageError =>
  e instanceof PackageError && (code === undefined || e.code === code);
