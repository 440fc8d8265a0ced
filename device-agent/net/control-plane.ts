// The control plane's device API, over mTLS with the device certificate: attestation
// (challenge, evidence), key release, the fleet's telemetry key, and model releases (the
// latest release, its package in byte ranges, the release keys). Answers are checked for
// the shape the API promises; anything else is a protocol error, not a guess. Nothing an
// answer says is trusted for security: a release's manifest is verified by its signature.
import type { JWK } from 'jose';
import { AgentError, fail } from '../errors.ts';
import type { HttpsClient, StreamedResponse } from './https.ts';
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

/** GET /v1/releases/latest: what the API says (unsigned); the manifest JWS is what counts. */
export interface LatestRelease {
  readonly id: string;
  readonly modelId: string;
  readonly version: string;
  readonly releaseCounter: number;
  readonly contentKeyId: string;
  /** the compact JWS, verified by the agent with the release keys */
  readonly manifest: string;
  /** absolute, on the control plane's own origin */
  readonly packageUrl: string;
  readonly packageSize: number;
}

export interface ReleaseKeyEntry {
  readonly kid: string;
  readonly jwk: JWK;
  readonly status: 'active' | 'revoked';
}

/** Release ids are package ids (16 bytes, base64url); they name files in the state directory. */
export const RELEASE_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

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

  /** GET /v1/releases/latest → the newest release for this device's hardware model; undefined on 404. */
  async latestRelease(): Promise<LatestRelease | undefined> {
    const res = await this.http.request('GET', this.url('/v1/releases/latest'));
    if (res.status === 404) return undefined;
    const b = jsonBody<Record<string, unknown>>(expectStatus(res, 'latest release', [200]), 'latest release');
    const id = text(b['id'], 'release id', 64);
    if (!RELEASE_ID_RE.test(id)) fail('ERR_PROTOCOL', 'release id is not base64url');
    const counter = b['release_counter'];
    const size = b['package_size'];
    if (!Number.isSafeInteger(counter) || (counter as number) < 0)
      fail('ERR_PROTOCOL', 'release_counter is not a non-negative integer');
    if (!Number.isSafeInteger(size) || (size as number) <= 0)
      fail('ERR_PROTOCOL', 'package_size is not a positive integer');
    // the package comes from this control plane, over this mTLS client, or not at all
    const pkg = new URL(text(b['package_url'], 'package_url', 1024), this.baseUrl);
    if (pkg.origin !== new URL(this.baseUrl).origin)
      fail('ERR_PROTOCOL', `package_url ${pkg.origin} is not on the control plane`);
    return {
      id,
      modelId: text(b['model_id'], 'model_id', 128),
      version: text(b['version'], 'version', 64),
      releaseCounter: counter as number,
      contentKeyId: text(b['content_key_id'], 'content_key_id', 256),
      manifest: text(b['manifest'], 'manifest', 256 * 1024),
      packageUrl: pkg.href,
      packageSize: size as number,
    };
  }

  /** GET /v1/release-keys → every release key with its status (revoked ones included). */
  async releaseKeys(): Promise<ReleaseKeyEntry[]> {
    const res = await this.http.request('GET', this.url('/v1/release-keys'));
    const b = jsonBody<Record<string, unknown>>(expectStatus(res, 'release keys', [200]), 'release keys');
    const items = b['items'];
    if (!Array.isArray(items)) fail('ERR_PROTOCOL', 'release keys: items is not a list');
    return (items as unknown[]).map((k) => {
      const o = (typeof k === 'object' && k !== null ? k : {}) as Record<string, unknown>;
      const jwk = o['jwk'];
      if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk))
        fail('ERR_PROTOCOL', 'release key: jwk is not an object');
      const status = o['status'];
      if (status !== 'active' && status !== 'revoked')
        fail('ERR_PROTOCOL', 'release key: status is neither active nor revoked');
      return {
        kid: text(o['kid'], 'release key kid', 128),
        jwk: jwk as JWK,
        status: status as 'active' | 'revoked',
      };
    });
  }

  /**
   * GET {package_url} from byte `from` on (RFC 9110 §14.2 `Range: bytes=from-`): 200 for the
   * whole package, 206 for the rest, 416 when `from` is past the end. The caller reads the body.
   */
  async packageFrom(packageUrl: string, from: number): Promise<StreamedResponse> {
    if (new URL(packageUrl).origin !== new URL(this.baseUrl).origin)
      fail('ERR_PROTOCOL', 'package_url is not on the control plane');
    const res = await this.http.stream('GET', packageUrl, {
      headers: from > 0 ? { range: `bytes=${from}-` } : {},
      timeoutMs: 30_000,
    });
    if (res.status === 200 || res.status === 206 || res.status === 416) return res;
    // a refusal's body is small problem+json: read it for the detail
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of res.body) {
      size += (c as Buffer).length;
      if (size > 64 * 1024) break;
      chunks.push(c as Buffer);
    }
    res.body.destroy();
    expectStatus(
      { status: res.status, headers: res.headers, body: Buffer.concat(chunks) },
      'package download',
      [200, 206],
    );
    return res;
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
