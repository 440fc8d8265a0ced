// One error base with stable codes (the jose way). Bad input throws a coded EdgesealError;
// misuse of an API by our own code throws TypeError. Transports map codes to their own
// vocabulary in one place each (HTTP: ca-service/http/problem.ts).

export const ERROR_CODES = [
  'ERR_BAD_ENCODING', // malformed base64, PEM or DER
  'ERR_CSR_MALFORMED',
  'ERR_CSR_SIGNATURE',
  'ERR_KEY_UNSUPPORTED',
  'ERR_KEY_WEAK',
  'ERR_DEVICE_ID_INVALID',
  'ERR_DEVICE_EXISTS',
  'ERR_DEVICE_UNKNOWN',
  'ERR_KEY_REUSED',
  'ERR_HARDWARE_MODEL_MISMATCH',
  'ERR_SUBJECT_MISMATCH',
  'ERR_UNAUTHENTICATED',
  'ERR_FORBIDDEN',
  'ERR_BATCH_REVOKED',
  'ERR_BATCH_EXPIRED',
  'ERR_BATCH_QUOTA_EXHAUSTED',
  'ERR_CERT_REVOKED',
  'ERR_CERT_UNKNOWN',
  'ERR_CERT_SUPERSEDED', // only a device's newest certificate may re-enroll
  'ERR_GATEWAY_CONFLICT', // a gateway that would split the fleet (core/gateway-leases.ts)
  'ERR_FIRMWARE_EXISTS',
  'ERR_RELEASE_KEY_EXISTS',
  'ERR_RELEASE_EXISTS', // a model's release counter already published
  'ERR_PACKAGE_REFUSED', // a model package that does not verify at upload (the detail names why)
  'ERR_NOT_FOUND',
  'ERR_INVALID_REQUEST',
  'ERR_UNSUPPORTED_MEDIA_TYPE',
  'ERR_BODY_TOO_LARGE',
  'ERR_CA_NOT_INITIALIZED',
  'ERR_KEK',
  'ERR_STORE_UNAVAILABLE',
  'ERR_CONFIG',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class EdgesealError extends Error {
  readonly code: ErrorCode;
  /** Safe to show to the client. The message may say more and goes to the log. */
  readonly detail: string;
  constructor(code: ErrorCode, detail: string, options?: { cause?: unknown }) {
    super(detail, options);
    this.name = 'EdgesealError';
    this.code = code;
    this.detail = detail;
  }
}

export const fail = (code: ErrorCode, detail: string, cause?: unknown): never => {
  throw new EdgesealError(code, detail, cause === undefined ? undefined : { cause });
};
