// The OCSP responder (RFC 6960, profile of RFC 5019): answers good / revoked / unknown for
// the issuing CA's certificates, signed by a delegated responder certificate. Responses
// without a nonce are cached briefly (and dropped the moment a serial is revoked); a
// request with a nonce is signed fresh and echoes it.
//
// Anyone may ask anything, so a request costs at most one store lookup, shared with every
// other request waiting at that moment: revoked serials come from the CRL's in-memory view,
// issued and unknown ones from issued-serials.ts, and a request names at most
// MAX_CERTS_PER_REQUEST CertIDs. Every request gets an OCSPResponse, never an HTTP error.
import type { Logger } from 'pino';
import { spkiKeyBits } from '../../lib/x509/certificate.ts';
import { keySigner } from '../../lib/x509/key-signer.ts';
import {
  buildOcspResponse,
  type CertId,
  type CertStatus,
  certIdMatches,
  ocspErrorResponse,
  parseOcspRequest,
  responderKeyHash,
} from '../../lib/x509/ocsp.ts';
import { parseCertificate } from '../../lib/x509/parse-certificate.ts';
import { EdgesealError } from '../../lib/errors.ts';
import type { Issuer } from '../core/issuer.ts';
import type { Clock } from '../core/ports.ts';
import type { RevokedEntry } from '../core/revocation.ts';
import type { ServiceIdentity } from '../keys/server-identity.ts';
import { DEFAULT_ISSUED_SERIALS, type IssuedLookup, IssuedSerials } from './issued-serials.ts';

export interface OcspOptions {
  /** how long a response without nonce is reused (and the HTTP max-age) */
  readonly cacheSeconds: number;
  /** nextUpdate − thisUpdate in every SingleResponse */
  readonly validitySeconds: number;
}

export const DEFAULT_OCSP_OPTIONS: OcspOptions = { cacheSeconds: 60, validitySeconds: 3600 };

/** RFC 5280 §4.1.2.2: no conforming CA uses a serial longer than 20 octets, so we never issued one. */
const MAX_SERIAL_HEX = 40;

export interface OcspDeps {
  readonly issuer: Issuer;
  readonly identity: ServiceIdentity;
  /** which of these serials this CA issued (revoked ones included): one store query */
  readonly issued: IssuedLookup;
  /** the in-memory revocation view (the CRL publisher's) */
  readonly revoked: (serial: string) => RevokedEntry | undefined;
  readonly clock: Clock;
  readonly log: Pick<Logger, 'error'>;
  readonly options?: OcspOptions;
}

interface Responder {
  readonly signer: ReturnType<typeof keySigner>;
  readonly certDer: Buffer;
  readonly keyHash: Buffer;
}

export class OcspResponder {
  readonly opts: OcspOptions;
  readonly serials: IssuedSerials;
  private responder: Responder;
  private readonly cache = new Map<string, { der: Buffer; until: number; serials: string[] }>();
  private readonly issuerKeyBits: Buffer;

  constructor(private readonly deps: OcspDeps) {
    this.opts = deps.options ?? DEFAULT_OCSP_OPTIONS;
    this.issuerKeyBits = spkiKeyBits(deps.issuer.cert.spki);
    this.responder = this.toResponder(deps.identity);
    this.serials = new IssuedSerials(deps.issued, () => deps.clock.now().getTime(), {
      ...DEFAULT_ISSUED_SERIALS,
      negativeTtlMs: this.opts.cacheSeconds * 1000,
    });
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

  /**
   * Always returns an OCSPResponse (RFC 6960 §2.3): a request we cannot read is
   * malformedRequest; a failure of ours is internalError, logged here.
   */
  async respond(requestDer: Buffer): Promise<{ der: Buffer; cacheable: boolean }> {
    let req: ReturnType<typeof parseOcspRequest>;
    try {
      req = parseOcspRequest(requestDer);
    } catch (e) {
      if (e instanceof EdgesealError) return { der: ocspErrorResponse(1), cacheable: false };
      this.deps.log.error({ err: e }, 'OCSP request parsing failed unexpectedly');
      return { der: ocspErrorResponse(2), cacheable: false };
    }
    try {
      return await this.answer(req);
    } catch (err) {
      this.deps.log.error({ err }, 'OCSP response failed');
      return { der: ocspErrorResponse(2), cacheable: false };
    }
  }

  private async answer(
    req: ReturnType<typeof parseOcspRequest>,
  ): Promise<{ der: Buffer; cacheable: boolean }> {
    const key = req.nonce ? undefined : Buffer.concat(req.certIds.map((c) => c.raw)).toString('base64');
    const now = this.deps.clock.now();
    if (key) {
      const hit = this.cache.get(key);
      if (hit && hit.until > now.getTime()) return { der: hit.der, cacheable: true };
    }
    const statuses = await this.statuses(req.certIds);
    const nextUpdate = new Date(now.getTime() + this.opts.validitySeconds * 1000);
    const der = buildOcspResponse({
      responderKeyHash: this.responder.keyHash,
      producedAt: now,
      responses: req.certIds.map((id, i) => ({
        certId: id.raw,
        status: statuses[i]!,
        thisUpdate: now,
        nextUpdate,
      })),
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

  /** The status of each CertID; at most one store lookup for all of them. */
  private async statuses(ids: readonly CertId[]): Promise<CertStatus[]> {
    const out: (CertStatus | undefined)[] = ids.map((id) => {
      // RFC 6960 §2.2: "unknown" for certificates this responder does not serve.
      if (!certIdMatches(id, this.deps.issuer.cert.subjectDer, this.issuerKeyBits))
        return { kind: 'unknown' };
      if (id.serialHex.length > MAX_SERIAL_HEX) return { kind: 'unknown' };
      const r = this.deps.revoked(id.serialHex);
      return r ? { kind: 'revoked', at: r.revokedAt, reason: r.reason } : undefined;
    });
    const open = ids.filter((_, i) => !out[i]).map((id) => id.serialHex);
    if (open.length === 0) return out as CertStatus[];
    const issued = await this.serials.issued(open);
    return ids.map((id, i) => {
      if (out[i]) return out[i];
      if (!issued.has(id.serialHex)) return { kind: 'unknown' };
      // revoked while the lookup ran: never answer (and cache) "good" for it
      const r = this.deps.revoked(id.serialHex);
      return r ? { kind: 'revoked', at: r.revokedAt, reason: r.reason } : { kind: 'good' };
    });
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
