// The x5c chain of a piece of evidence: whose key signed it. jose does not validate x5c itself
// (it only carries it), so this file decides: the leaf is issued by the issuing CA the caller
// trusts, is not a CA, is within its validity, and names exactly one device of this fleet.
import { createHash, type KeyObject, X509Certificate } from 'node:crypto';
import { content, readTop } from '../lib/der/decode.ts';
import { OID } from '../lib/x509/oids.ts';
import { attributeValues } from '../lib/x509/name.ts';
import { parseCertificate, sanUris } from '../lib/x509/parse-certificate.ts';
import { fromBase64 } from './encoding.ts';
import { fail } from './errors.ts';

/** Leaf then issuing CA: a device certificate is issued directly by the issuing CA. */
const MAX_CHAIN = 2;

/** Same alphabet the CA enforces on device ids (ca-service/core/device-id.ts). */
const DEVICE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface VerifiedLeaf {
  readonly deviceId: string;
  readonly serialHex: string;
  /** subject OU: the hardware model the CA wrote at enrollment */
  readonly hardwareModel: string | undefined;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly publicKey: KeyObject;
  /** sha256 (hex) of the DER of the issuing CA the leaf chained to */
  readonly issuerSha256: string;
}

/**
 * A caller-owned cache of leaves whose chain was already verified, keyed by the sha256 of the
 * leaf DER. Bound it yourself (an LRU fits this shape); nothing is cached globally.
 */
export interface LeafCache {
  get(key: string): VerifiedLeaf | undefined;
  set(key: string, value: VerifiedLeaf): unknown;
}

export interface ChainContext {
  /** the issuing CA(s) device certificates may chain to; several while one is being rotated */
  readonly issuingCa: X509Certificate | readonly X509Certificate[];
  readonly trustDomain: string;
  readonly now: Date;
  readonly verifiedLeafCache?: LeafCache;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function decodeX5c(x5c: unknown): Buffer[] {
  // RFC 7515 §4.1.6: a JSON array of base64 (not base64url) DER certificates, the one holding
  // the signing key first.
  if (x5c === undefined) fail('ChainInvalid', 'x5c header is missing: the key comes only from its leaf');
  if (!Array.isArray(x5c) || x5c.length === 0) fail('ChainInvalid', 'x5c must be a non-empty array');
  const list = x5c as unknown[];
  if (list.length > MAX_CHAIN)
    fail('ChainInvalid', `x5c has ${list.length} certificates; at most ${MAX_CHAIN}`);
  if (list.length < MAX_CHAIN) fail('ChainInvalid', 'x5c must carry the leaf and then the issuing CA');
  return list.map((c, i) => {
    const der = typeof c === 'string' ? fromBase64(c) : undefined;
    return der ?? fail('ChainInvalid', `x5c[${i}] is not base64 DER`);
  });
}

function pickIssuer(issuingDer: Buffer, ctx: ChainContext): X509Certificate {
  const trusted = Array.isArray(ctx.issuingCa) ? ctx.issuingCa : [ctx.issuingCa as X509Certificate];
  // Compare the whole DER: a foreign CA may copy our issuing CA's name and key identifier.
  const ca = trusted.find((c) => c.raw.equals(issuingDer));
  if (!ca) return fail('ChainInvalid', 'x5c does not end in the issuing CA this verifier trusts');
  const t = ctx.now.getTime();
  if (t < Date.parse(ca.validFrom) || t > Date.parse(ca.validTo)) {
    fail('ChainInvalid', 'the issuing CA is outside its validity');
  }
  return ca;
}

function isCaLeaf(ext: ReadonlyMap<string, { value: Buffer }>, x509: X509Certificate): boolean {
  if (x509.ca) return true; // RFC 5280 §4.2.1.9 basicConstraints cA
  const ku = ext.get(OID.keyUsage);
  if (!ku) return false;
  // RFC 5280 §4.2.1.3: keyCertSign is bit 5 of the KeyUsage BIT STRING
  const bits = content(readTop(ku.value));
  return bits.length > 1 && ((bits[1] ?? 0) & 0x04) !== 0;
}

function hasDigitalSignature(ext: ReadonlyMap<string, { value: Buffer }>): boolean {
  const ku = ext.get(OID.keyUsage);
  if (!ku) return true; // RFC 5280 §4.2.1.3: no extension, no restriction
  const bits = content(readTop(ku.value));
  return bits.length > 1 && ((bits[1] ?? 0) & 0x80) !== 0;
}

function deviceIdOf(uris: readonly string[], trustDomain: string): string {
  if (uris.length !== 1) fail('ChainInvalid', `leaf must carry exactly one SAN URI, has ${uris.length}`);
  const prefix = `spiffe://${trustDomain}/device/`;
  const uri = uris[0]!;
  const id = uri.startsWith(prefix) ? uri.slice(prefix.length) : undefined;
  if (id === undefined || !DEVICE_ID_RE.test(id))
    fail('ChainInvalid', 'leaf SAN URI is not a device of this fleet');
  return id!;
}

function verifyFresh(leafDer: Buffer, issuingDer: Buffer, ctx: ChainContext): VerifiedLeaf {
  const issuer = pickIssuer(issuingDer, ctx);
  let x509: X509Certificate;
  let info: ReturnType<typeof parseCertificate>;
  try {
    x509 = new X509Certificate(leafDer);
    info = parseCertificate(leafDer);
  } catch (e) {
    return fail('ChainInvalid', 'x5c leaf is not a valid certificate', e);
  }
  // RFC 5280 §6.1.3: issuer name chains and the signature verifies under the issuing CA key
  if (!x509.checkIssued(issuer) || !x509.verify(issuer.publicKey)) {
    fail('ChainInvalid', 'x5c leaf is not signed by the issuing CA');
  }
  if (isCaLeaf(info.extensions, x509)) fail('LeafIsCa', 'x5c leaf is a CA certificate');
  if (!hasDigitalSignature(info.extensions))
    fail('ChainInvalid', 'x5c leaf key usage lacks digitalSignature');
  const deviceId = deviceIdOf(sanUris(info), ctx.trustDomain);
  const ous = attributeValues(info.subject, OID.organizationalUnitName);
  return {
    deviceId,
    serialHex: info.serialHex,
    hardwareModel: ous.length === 1 ? ous[0] : undefined,
    notBefore: info.notBefore,
    notAfter: info.notAfter,
    publicKey: x509.publicKey,
    issuerSha256: sha256(issuer.raw),
  };
}

/** Verifies the x5c header value and returns the leaf it vouches for. */
export function verifyChain(x5c: unknown, ctx: ChainContext): VerifiedLeaf {
  const [leafDer, issuingDer] = decodeX5c(x5c) as [Buffer, Buffer];
  const key = sha256(leafDer);
  const cached = ctx.verifiedLeafCache?.get(key);
  let leaf: VerifiedLeaf;
  if (cached && cached.issuerSha256 === sha256(issuingDer)) {
    pickIssuer(issuingDer, ctx); // still refuse a cached leaf whose issuing CA is no longer trusted
    leaf = cached;
  } else {
    leaf = verifyFresh(leafDer, issuingDer, ctx);
    ctx.verifiedLeafCache?.set(key, leaf);
  }
  // RFC 5280 §4.1.2.5: valid from notBefore through notAfter inclusive; time-dependent, so
  // checked on every call, cached or not.
  const t = ctx.now.getTime();
  if (t < leaf.notBefore.getTime() || t > leaf.notAfter.getTime()) {
    fail(
      'CertificateExpired',
      `device certificate ${leaf.serialHex} is not valid at ${ctx.now.toISOString()}`,
    );
  }
  return leaf;
}
