// The OCSP responder (RFC 6960, profile of RFC 5019): answers good / revoked / unknown for
// the issuing CA's certificates, signed by a delegated responder certificate. Responses
// without a nonce are cached briefly (and dropped the moment a serial is revoked); a
// request with a nonce is signed fresh and echoes it.
import { spkiKeyBits } from '../../lib/x509/certificate.ts';
import { keySigner } from '../../lib/x509/key-signer.ts';
import {
  buildOcspResponse,
  type CertStatus,
  certIdMatches,
  ocspErrorResponse,
  parseOcspRequest,
  responderKeyHash,
  type SingleResponse,
} from '../../lib/x509/ocsp.ts';
import { parseCertificate } from '../../lib/x509/parse-certificate.ts';
import { EdgesealError } from '../../lib/errors.ts';
import type { Issuer } from '../core/issuer.ts';
import type { Clock } from '../core/ports.ts';
import type { RevokedEntry } from '../core/revocation.ts';
import type { ServiceIdentity } from '../keys/server-identity.ts';

export interface OcspOptions {
  /** how long a response without nonce is reused (and the HTTP max-age) */
  readonly cacheSeconds: number;
  /** nextUpdate − thisUpdate in every SingleResponse */
  readonly validitySeconds: number;
}

export const DEFAULT_OCSP_OPTIONS: OcspOptions = { cacheSeconds: 60, validitySeconds: 3600 };

interface Responder {
  readonly signer: ReturnType<typeof keySigner>;
  readonly certDer: Buffer;
  readonly keyHash: Buffer;
}

export class OcspResponder {
  private responder: Responder;
  private readonly cache = new Map<string, { der: Buffer; until: number; serials: string[] }>();
  private readonly issuerKeyBits: Buffer;

  constructor(
    private readonly issuer: Issuer,
    identity: ServiceIdentity,
    /** whether this CA issued the serial (revoked ones included) */
    private readonly issued: (serial: string) => Promise<boolean>,
    private readonly revoked: (serial: string) => RevokedEntry | undefined,
    private readonly clock: Clock,
    readonly opts: OcspOptions = DEFAULT_OCSP_OPTIONS,
  ) {
    this.issuerKeyBits = spkiKeyBits(issuer.cert.spki);
    this.responder = this.toResponder(identity);
  }

  /** Swap in a renewed responder certificate. */
  use(identity: ServiceIdentity): void {
    this.responder = this.toResponder(identity);
    this.cache.clear();
  }

  clearCache(): void {
    this.cache.clear();
  }

  /** A revoked serial must never be answered from a cached "good". */
  invalidate(serials: readonly string[]): void {
    if (this.cache.size === 0) return;
    const gone = new Set(serials);
    for (const [k, v] of this.cache) if (v.serials.some((s) => gone.has(s))) this.cache.delete(k);
  }

  /** Always returns an OCSPResponse: errors become malformedRequest / internalError. */
  async respond(requestDer: Buffer): Promise<{ der: Buffer; cacheable: boolean }> {
    let req: ReturnType<typeof parseOcspRequest>;
    try {
      req = parseOcspRequest(requestDer);
    } catch (e) {
      if (e instanceof EdgesealError) return { der: ocspErrorResponse(1), cacheable: false };
      throw e;
    }
    const key = req.nonce ? undefined : Buffer.concat(req.certIds.map((c) => c.raw)).toString('base64');
    const now = this.clock.now();
    if (key) {
      const hit = this.cache.get(key);
      if (hit && hit.until > now.getTime()) return { der: hit.der, cacheable: true };
    }
    const thisUpdate = now;
    const nextUpdate = new Date(now.getTime() + this.opts.validitySeconds * 1000);
    const responses: SingleResponse[] = [];
    for (const id of req.certIds) {
      responses.push({ certId: id.raw, status: await this.status(id), thisUpdate, nextUpdate });
    }
    const der = buildOcspResponse({
      responderKeyHash: this.responder.keyHash,
      producedAt: now,
      responses,
      nonce: req.nonce,
      signer: this.responder.signer,
      responderCert: this.responder.certDer,
    });
    if (key) {
      if (this.cache.size > 50_000) this.cache.clear();
      this.cache.set(key, {
        der,
        until: now.getTime() + this.opts.cacheSeconds * 1000,
        serials: req.certIds.map((c) => c.serialHex),
      });
    }
    return { der, cacheable: !!key };
  }

  private async status(id: Parameters<typeof certIdMatches>[0]): Promise<CertStatus> {
    // RFC 6960 §2.2: "unknown" for certificates this responder does not serve.
    if (!certIdMatches(id, this.issuer.cert.subjectDer, this.issuerKeyBits)) return { kind: 'unknown' };
    const r = this.revoked(id.serialHex);
    if (r) return { kind: 'revoked', at: r.revokedAt, reason: r.reason };
    return (await this.issued(id.serialHex)) ? { kind: 'good' } : { kind: 'unknown' };
  }

  private toResponder(identity: ServiceIdentity): Responder {
    const cert = parseCertificate(identity.certDer);
    return {
      signer: keySigner(identity.key, 'P-256'),
      certDer: identity.certDer,
      keyHash: responderKeyHash(spkiKeyBits(cert.spki)),
    };
  }
}
