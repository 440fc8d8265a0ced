// Errors become responses here and only here. /v1 speaks RFC 9457 problem+json; EST speaks
// plain text with the status RFC 7030 expects. Clients get the short detail; unexpected
// errors get a generic message and the request id, and the full error goes to the log.
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { AttestationError, type AttestationErrorCode } from '../../attestation/index.ts';
import { EdgesealError, type ErrorCode } from '../../lib/errors.ts';
import type { AppEnv } from './env.ts';

const STATUS: Record<ErrorCode, number> = {
  ERR_BAD_ENCODING: 400,
  ERR_CSR_MALFORMED: 400,
  ERR_CSR_SIGNATURE: 400,
  ERR_KEY_UNSUPPORTED: 400,
  ERR_KEY_WEAK: 400,
  ERR_DEVICE_ID_INVALID: 400,
  ERR_SUBJECT_MISMATCH: 400,
  ERR_INVALID_REQUEST: 400,
  ERR_UNAUTHENTICATED: 401,
  ERR_FORBIDDEN: 403,
  ERR_BATCH_REVOKED: 403,
  ERR_BATCH_EXPIRED: 403,
  ERR_BATCH_QUOTA_EXHAUSTED: 403,
  ERR_HARDWARE_MODEL_MISMATCH: 403,
  ERR_CERT_REVOKED: 403,
  ERR_CERT_UNKNOWN: 403,
  ERR_CERT_SUPERSEDED: 403,
  ERR_NOT_FOUND: 404,
  ERR_DEVICE_UNKNOWN: 404,
  ERR_DEVICE_EXISTS: 409,
  ERR_KEY_REUSED: 409,
  ERR_GATEWAY_CONFLICT: 409,
  ERR_FIRMWARE_EXISTS: 409,
  ERR_RELEASE_KEY_EXISTS: 409,
  ERR_RELEASE_EXISTS: 409,
  ERR_PACKAGE_REFUSED: 422,
  ERR_BODY_TOO_LARGE: 413,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_CA_NOT_INITIALIZED: 503,
  ERR_STORE_UNAVAILABLE: 503,
  ERR_KEK: 500,
  ERR_CONFIG: 500,
};

export const statusOf = (code: ErrorCode): number => STATUS[code];

const title = (code: string) =>
  code
    .replace(/^ERR_/, '')
    .toLowerCase()
    .replace(/_/g, ' ')
    .replace(/^./, (c) => c.toUpperCase());

export function toEdgesealError(err: unknown): EdgesealError | undefined {
  if (err instanceof EdgesealError) return err;
  if (err instanceof HTTPException) {
    if (err.status === 413) return new EdgesealError('ERR_BODY_TOO_LARGE', 'request body is too large');
    if (err.status === 404) return new EdgesealError('ERR_NOT_FOUND', 'no such resource');
    if (err.status < 500) return new EdgesealError('ERR_INVALID_REQUEST', err.message || 'bad request');
  }
  return undefined;
}

/** Attestation refusals keep their stable codes (attestation/errors.ts); most are 403. */
const ATTESTATION_STATUS: Partial<Record<AttestationErrorCode, number>> = {
  EvidenceMalformed: 400,
  EvidenceTooLarge: 413,
  ClaimMissing: 400,
  ClaimInvalid: 400,
  NonceMissing: 400,
  ResultInvalid: 400,
};

function attestationProblem(err: AttestationError, c: Context<AppEnv>): Response {
  const status = ATTESTATION_STATUS[err.code] ?? 403;
  const fields = c.get('logFields');
  if (fields) Object.assign(fields, { error_code: err.code });
  return c.body(
    JSON.stringify({
      type: `urn:edgeseal:attestation:${err.code}`,
      title: err.code.replace(/([a-z])([A-Z])/g, '$1 $2'),
      status,
      detail: err.detail,
      code: err.code,
      request_id: c.get('requestId'),
    }),
    status as 400,
    { 'Content-Type': 'application/problem+json' },
  );
}

export function errorResponse(err: unknown, c: Context<AppEnv>): Response {
  if (err instanceof AttestationError) return attestationProblem(err, c);
  const e = toEdgesealError(err);
  const requestId = c.get('requestId');
  const status = e ? STATUS[e.code] : 500;
  const fields = c.get('logFields');
  if (fields) Object.assign(fields, { error_code: e?.code ?? 'ERR_INTERNAL' });
  if (!e || status >= 500) c.get('log')?.error({ err, request_id: requestId }, 'request failed');
  const detail = e && status < 500 ? e.detail : e && status === 503 ? e.detail : 'internal error';
  const headers: Record<string, string> = {};
  if (status === 401)
    headers['WWW-Authenticate'] = c.req.path.startsWith('/.well-known/est/')
      ? 'Basic realm="edgeseal EST"'
      : 'Bearer';
  if (status === 503) headers['Retry-After'] = '5';
  if (c.req.path.startsWith('/.well-known/est/')) {
    // RFC 7030 §4.2.3: error responses carry a human-readable text body.
    return c.body(`${detail}\n`, status as 400, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
  }
  const code = e?.code ?? 'ERR_INTERNAL';
  return c.body(
    JSON.stringify({
      type: `urn:edgeseal:error:${code}`,
      title: title(code),
      status,
      detail,
      code,
      request_id: requestId,
    }),
    status as 400,
    { ...headers, 'Content-Type': 'application/problem+json' },
  );
}
