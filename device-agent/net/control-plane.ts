// The control plane's device API, over mTLS with the device certificate: attestation
// (challenge, evidence), key release and the fleet's telemetry key. Answers are checked for
// the shape the API promises; anything else is a protocol error, not a guess.
import type { JWK } from 'jose';
import { AgentError, fail } from '../errors.ts';
import type { HttpsClient } from './https.ts';
import { expectStatus, jsonBody } from './problem.ts';

export const ATTESTATION_STATUSES = ['affirming', 'warning', 'contraindicated'] as const;
export type AttestationStatus = (typeof ATTESTATION_STATUSES)[number];

export interface Challenge {
  /** base64url; goes into the evidence as eat_nonce and nowhere else (never logged) */
  readonly nonce: string;
  readonly expiresAt: Date;
}

export interface Reason {
  readonly code: string;
  readonly detail: string;
}

export interface Appraised {
  readonly status: AttestationStatus;
  /** the signed EAR JWT: the device's proof for key release (never logged) */
  readonly result: string;
  readonly expiresAt: Date;
  readonly reasons: readonly Reason[];
}

export interface Released {
  readonly keyId: string;
  readonly kid: string;
  readonly jwe: string;
}

export interface TelemetryKey {
  readonly kid: string;
  readonly jwk: JWK;
}

const date = (v: unknown, what: string): Date => {
  const t = typeof v === 'string' ? Date.parse(v) : Number.NaN;
  return Number.isNaN(t) ? fail('ERR_PROTOCOL', `${what} is not an ISO date`) : new Date(t);
};

const text = (v: unknown, what: string, max = 16 * 1024): string =>
  typeof v === 'string' && v.length > 0 && v.length <= max ? v : fail('ERR_PROTOCOL', `${what} is missing`);

export class ControlPlane {
  constructor(
    readonly baseUrl: string,
    private readonly http: HttpsClient,
  ) {}

  private url(path: string): string {
    return `${this.baseUrl.replace(/\/+$/, '')}${path}`;
  }

  /** POST /v1/attestation/challenge, empty body → 201 {nonce, expires_at} */
  async challenge(): Promise<Challenge> {
    const res = await this.http.request('POST', this.url('/v1/attestation/challenge'), { body: '' });
    const b = jsonBody<Record<string, unknown>>(
      expectStatus(res, 'attestation challenge', [200, 201]),
      'challenge',
    );
    const nonce = text(b['nonce'], 'challenge nonce', 128);
    if (!/^[A-Za-z0-9_-]+$/.test(nonce)) fail('ERR_PROTOCOL', 'challenge nonce is not base64url');
    return { nonce, expiresAt: date(b['expires_at'], 'challenge expires_at') };
  }

  /** POST /v1/attestation/evidence (application/eat+jwt) → 200 {status, result, expires_at, reasons} */
  async evidence(jwt: string): Promise<Appraised> {
    const res = await this.http.request('POST', this.url('/v1/attestation/evidence'), {
      headers: { 'content-type': 'application/eat+jwt' },
      body: jwt,
    });
    const b = jsonBody<Record<string, unknown>>(
      expectStatus(res, 'attestation evidence', [200, 201]),
      'evidence',
    );
    const status = b['status'];
    if (!ATTESTATION_STATUSES.includes(status as AttestationStatus)) {
      fail('ERR_PROTOCOL', `attestation status ${JSON.stringify(status)?.slice(0, 32)} is not one of EAR's`);
    }
    const reasons = Array.isArray(b['reasons']) ? b['reasons'] : [];
    return {
      status: status as AttestationStatus,
      result: text(b['result'], 'attestation result'),
      expiresAt: date(b['expires_at'], 'result expires_at'),
      reasons: reasons
        .filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null)
        .map((r) => ({
          code: String(r['code'] ?? '').slice(0, 64),
          detail: String(r['detail'] ?? '').slice(0, 300),
        })),
    };
  }

  /** POST /v1/keys/{id}/release {"result": EAR} → 200 {key_id, kid, jwe} */
  async releaseKey(keyId: string, result: string): Promise<Released> {
    const res = await this.http.request('POST', this.url(`/v1/keys/${encodeURIComponent(keyId)}/release`), {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ result }),
    });
    const b = jsonBody<Record<string, unknown>>(
      expectStatus(res, `release of key ${keyId}`, [200]),
      'key release',
    );
    return {
      keyId: text(b['key_id'], 'key_id', 128),
      kid: text(b['kid'], 'kid', 128),
      jwe: text(b['jwe'], 'jwe'),
    };
  }

  /** GET /v1/telemetry-key → {kid, jwk}; undefined when the fleet has none (404). */
  async telemetryKey(): Promise<TelemetryKey | undefined> {
    const res = await this.http.request('GET', this.url('/v1/telemetry-key'));
    if (res.status === 404) return undefined;
    const b = jsonBody<Record<string, unknown>>(expectStatus(res, 'telemetry key', [200]), 'telemetry key');
    const jwk = b['jwk'];
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
      throw new AgentError('ERR_PROTOCOL', 'telemetry key: jwk is not an object');
    }
    return { kid: text(b['kid'], 'telemetry kid', 128), jwk: jwk as JWK };
  }
}
