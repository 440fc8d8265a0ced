// OCSP (RFC 6960): strict request parsing and BasicOCSPResponse building.
import { createHash } from 'node:crypto';
import {
  checkAny,
  children,
  content,
  DerError,
  expect,
  fields,
  integerBytes,
  type Node,
  oidString,
  raw,
  readTop,
} from '../der/decode.ts';
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

/**
 * CertIDs answered per request. RFC 5019 §2.1.1 (the profile this responder serves) has a
 * client send one; openssl sends one per -cert. Each costs a lookup and a SingleResponse,
 * so a request asking for more is refused as a whole (see parseOcspRequest).
 */
export const MAX_CERTS_PER_REQUEST = 10;

/** Request extensions understood here; RFC 6960 §4.4: others are ignored unless critical. */
const KNOWN_EXTENSIONS = new Set<string>([OCSP_OID.nonce]);

/**
 * Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension (RFC 5280 §4.1);
 * Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }.
 * Returns extnID → extnValue contents.
 */
function parseExtensions(wrapper: Node, what: string): Map<string, Buffer> {
  const [list] = fields(wrapper, wrapper.tag, what, 1);
  const exts = children(expect(list, 0x30, `${what} list`));
  if (exts.length === 0) throw new DerError(`${what}: empty Extensions (SIZE 1..MAX)`);
  const out = new Map<string, Buffer>();
  for (const e of exts) {
    const parts = fields(e, 0x30, 'Extension', 2, 3);
    const id = oidString(expect(parts[0], 0x06, 'extnID'));
    let critical = false;
    if (parts.length === 3) {
      const b = content(expect(parts[1], 0x01, 'critical'));
      if (b.length !== 1 || (b[0] !== 0 && b[0] !== 0xff)) throw new DerError('critical is not a BOOLEAN');
      critical = b[0] === 0xff;
    }
    const value = content(expect(parts[parts.length - 1], 0x04, 'extnValue'));
    // RFC 5280 §4.2: an extension appears at most once
    if (out.has(id)) throw new DerError(`extension ${id} appears twice`);
    if (critical && !KNOWN_EXTENSIONS.has(id)) throw new DerError(`unsupported critical extension ${id}`);
    out.set(id, value);
  }
  return out;
}

/** CertID ::= SEQUENCE { hashAlgorithm, issuerNameHash, issuerKeyHash, serialNumber } (RFC 6960 §4.1.1). */
function parseCertId(n: Node | undefined): CertId {
  const [alg, nameHash, keyHash, serial] = fields(n, 0x30, 'CertID', 4);
  const [algOid, params] = fields(alg, 0x30, 'hashAlgorithm', 1, 2);
  const oid = oidString(expect(algOid, 0x06, 'hashAlgorithm.algorithm'));
  if (params && (params.tag !== 0x05 || params.end !== params.contentStart))
    throw new DerError('hashAlgorithm parameters must be absent or NULL');
  const hash = HASHES[oid];
  if (!hash) throw new DerError(`unsupported CertID hash ${oid}`);
  integerBytes(serial, 'serialNumber');
  return {
    hash,
    issuerNameHash: content(expect(nameHash, 0x04, 'issuerNameHash')),
    issuerKeyHash: content(expect(keyHash, 0x04, 'issuerKeyHash')),
    serialHex: serialHexOf(serial!),
    raw: Buffer.from(raw(n!)),
  };
}

/**
 * Throws ERR_BAD_ENCODING: the responder answers malformedRequest (RFC 6960 §2.3). Every
 * structure is read to its declared shape; nothing is assumed present.
 */
export function parseOcspRequest(der: Buffer): OcspRequest {
  try {
    // OCSPRequest ::= SEQUENCE { tbsRequest, optionalSignature [0] EXPLICIT Signature OPTIONAL }
    const [tbs, signature] = fields(readTop(der), 0x30, 'OCSPRequest', 1, 2);
    if (signature) checkAny(expect(signature, 0xa0, 'optionalSignature'));
    // TBSRequest ::= SEQUENCE { version [0] DEFAULT v1, requestorName [1] OPTIONAL,
    //                           requestList SEQUENCE OF Request, requestExtensions [2] OPTIONAL }
    const f = children(expect(tbs, 0x30, 'TBSRequest'));
    let i = 0;
    if (f[i]?.tag === 0xa0) {
      const v = integerBytes(fields(f[i], 0xa0, 'version', 1)[0], 'version');
      if (v.length !== 1 || v[0] !== 0) throw new DerError('OCSP request version must be v1 (0)');
      i++;
    }
    if (f[i]?.tag === 0xa1) checkAny(f[i++]!);
    const reqs = children(expect(f[i++], 0x30, 'requestList'));
    const exts = f[i]?.tag === 0xa2 ? parseExtensions(f[i++]!, 'requestExtensions') : undefined;
    if (i < f.length) throw new DerError('TBSRequest has extra elements');
    if (reqs.length === 0 || reqs.length > MAX_CERTS_PER_REQUEST) {
      throw new DerError(`requestList must hold 1–${MAX_CERTS_PER_REQUEST} requests, not ${reqs.length}`);
    }
    // Request ::= SEQUENCE { reqCert CertID, singleRequestExtensions [0] EXPLICIT Extensions OPTIONAL }
    const certIds = reqs.map((r) => {
      const [certId, single] = fields(r, 0x30, 'Request', 1, 2);
      if (single) parseExtensions(expect(single, 0xa0, 'singleRequestExtensions'), 'singleRequestExtensions');
      return parseCertId(certId);
    });
    // RFC 8954 §2.1: Nonce ::= OCTET STRING, echoed verbatim; its DER must be one OCTET STRING
    const nonce = exts?.get(OCSP_OID.nonce);
    if (nonce) {
      const inner = expect(readTop(nonce), 0x04, 'nonce');
      const len = inner.end - inner.contentStart;
      if (len < 1 || len > 128) throw new DerError('nonce length out of range (1–128 octets)');
    }
    return nonce ? { certIds, nonce: Buffer.from(nonce) } : { certIds };
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
