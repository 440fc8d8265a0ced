// OCSP (RFC 6960): strict request parsing and BasicOCSPResponse building.
import { createHash } from 'node:crypto';
import { children, content, DerError, expect, type Node, oidString, raw, readTop } from '../der/decode.ts';
import { bitString, ctx, generalizedTime, oid, octets, seq, tlv } from '../der/encode.ts';
import { EdgesealError } from '../errors.ts';
import type { Signer } from './certificate.ts';
import { serialHexOf } from './parse-certificate.ts';

export const OCSP_OID = {
  basic: '1.3.6.1.5.5.7.48.1.1',
  nonce: '1.3.6.1.5.5.7.48.1.2',
  noCheck: '1.3.6.1.5.5.7.48.1.5',
} as const;

const HASHES: Record<string, 'sha1' | 'sha256' | 'sha384' | 'sha512'> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

export interface CertId {
  readonly hash: 'sha1' | 'sha256' | 'sha384' | 'sha512';
  readonly issuerNameHash: Buffer;
  readonly issuerKeyHash: Buffer;
  readonly serialHex: string;
  /** the CertID exactly as requested, echoed in the response (§4.2.1) */
  readonly raw: Buffer;
}

export interface OcspRequest {
  readonly certIds: readonly CertId[];
  /** extnValue of the nonce extension, echoed verbatim (RFC 8954) */
  readonly nonce?: Buffer;
}

const MAX_CERTS_PER_REQUEST = 20;

function parseCertId(n: Node): CertId {
  const [alg, nameHash, keyHash, serial] = children(expect(n, 0x30, 'CertID'));
  const algOid = oidString(children(expect(alg, 0x30, 'hashAlgorithm'))[0]!);
  const hash = HASHES[algOid];
  if (!hash) throw new DerError(`unsupported CertID hash ${algOid}`);
  return {
    hash,
    issuerNameHash: content(expect(nameHash, 0x04, 'issuerNameHash')),
    issuerKeyHash: content(expect(keyHash, 0x04, 'issuerKeyHash')),
    serialHex: serialHexOf(serial!),
    raw: Buffer.from(raw(n)),
  };
}

/** Throws ERR_BAD_ENCODING: the responder answers malformedRequest. */
export function parseOcspRequest(der: Buffer): OcspRequest {
  try {
    const [tbs] = children(expect(readTop(der), 0x30, 'OCSPRequest'));
    const fields = children(expect(tbs, 0x30, 'TBSRequest'));
    const list = fields.find((f) => f.tag === 0x30);
    if (!list) throw new DerError('requestList is missing');
    const reqs = children(list);
    if (reqs.length === 0 || reqs.length > MAX_CERTS_PER_REQUEST) {
      throw new DerError(`requestList must hold 1–${MAX_CERTS_PER_REQUEST} requests`);
    }
    const certIds = reqs.map((r) => parseCertId(children(expect(r, 0x30, 'Request'))[0]!));
    let nonce: Buffer | undefined;
    const extsWrapper = fields.find((f) => f.tag === 0xa2);
    if (extsWrapper) {
      for (const e of children(children(extsWrapper)[0]!)) {
        const parts = children(e);
        if (oidString(parts[0]!) === OCSP_OID.nonce) nonce = Buffer.from(content(parts[parts.length - 1]!));
      }
    }
    if (nonce && (nonce.length < 3 || nonce.length > 130))
      throw new DerError('nonce length out of range (RFC 8954: 1–128 octets)');
    return nonce ? { certIds, nonce } : { certIds };
  } catch (e) {
    if (e instanceof DerError)
      throw new EdgesealError('ERR_BAD_ENCODING', `malformed OCSP request: ${e.message}`);
    throw e;
  }
}

/** Whether a CertID names this issuer (its name and key hashed the way the request did). */
export function certIdMatches(id: CertId, issuerSubjectDer: Buffer, issuerKeyBits: Buffer): boolean {
  const h = (b: Buffer) => createHash(id.hash).update(b).digest();
  return h(issuerSubjectDer).equals(id.issuerNameHash) && h(issuerKeyBits).equals(id.issuerKeyHash);
}

export type CertStatus =
  | { readonly kind: 'good' }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'revoked'; readonly at: Date; readonly reason: number };

export interface SingleResponse {
  readonly certId: Buffer;
  readonly status: CertStatus;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
}

function encodeStatus(s: CertStatus): Buffer {
  if (s.kind === 'good') return ctx(0, Buffer.alloc(0), true);
  if (s.kind === 'unknown') return ctx(2, Buffer.alloc(0), true);
  // RevokedInfo ::= SEQUENCE { revocationTime, revocationReason [0] EXPLICIT CRLReason OPTIONAL }
  const reason = s.reason === 0 ? [] : [ctx(0, tlv(0x0a, Buffer.from([s.reason])))];
  return ctx(1, Buffer.concat([generalizedTime(s.at), ...reason]));
}

export function buildOcspResponse(p: {
  responderKeyHash: Buffer;
  producedAt: Date;
  responses: readonly SingleResponse[];
  nonce?: Buffer | undefined;
  signer: Signer;
  responderCert: Buffer;
}): Buffer {
  const single = p.responses.map((r) =>
    seq(
      r.certId,
      encodeStatus(r.status),
      generalizedTime(r.thisUpdate),
      ctx(0, generalizedTime(r.nextUpdate)),
    ),
  );
  const exts = p.nonce ? [ctx(1, seq(seq(oid(OCSP_OID.nonce), octets(p.nonce))))] : [];
  const tbs = seq(ctx(2, octets(p.responderKeyHash)), generalizedTime(p.producedAt), seq(...single), ...exts);
  const basic = seq(
    tbs,
    p.signer.algorithmIdentifier,
    bitString(p.signer.sign(tbs)),
    ctx(0, seq(p.responderCert)),
  );
  return seq(tlv(0x0a, Buffer.from([0])), ctx(0, seq(oid(OCSP_OID.basic), octets(basic))));
}

/** OCSPResponse without responseBytes: 1 malformedRequest, 2 internalError, 3 tryLater, 6 unauthorized. */
export const ocspErrorResponse = (status: 1 | 2 | 3 | 5 | 6): Buffer => seq(tlv(0x0a, Buffer.from([status])));

/** RFC 6960 §4.2.1 ResponderID byKey: SHA-1 of the responder's subjectPublicKey bits. */
export const responderKeyHash = (keyBits: Buffer): Buffer => createHash('sha1').update(keyBits).digest();
