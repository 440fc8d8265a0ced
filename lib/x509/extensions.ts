// Certificate extensions (RFC 5280 §4.2), each encoded to its DER Extension once.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { bitString, bool, ctx, oid, octets, seq, smallInt } from '../der/encode.ts';
import { OID } from './oids.ts';

export function extension(extnId: string, critical: boolean, value: Buffer): Buffer {
  // DER: a DEFAULT FALSE field is omitted when false (X.690 §11.5).
  return critical ? seq(oid(extnId), bool(true), octets(value)) : seq(oid(extnId), octets(value));
}

export function basicConstraints(ca: boolean, pathLen?: number): Buffer {
  const body = ca ? [bool(true), ...(pathLen === undefined ? [] : [smallInt(pathLen)])] : [];
  return extension(OID.basicConstraints, true, seq(...body));
}

const KEY_USAGE_BITS = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
} as const;
export type KeyUsage = keyof typeof KEY_USAGE_BITS;

/** Named-bit BIT STRING with trailing zero bits removed (X.690 §11.2.2). */
export function keyUsage(usages: readonly KeyUsage[]): Buffer {
  const bits = usages.map((u) => KEY_USAGE_BITS[u]);
  const last = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(last / 8) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  return extension(OID.keyUsage, true, bitString(bytes, bytes.length * 8 - (last + 1)));
}

export const extKeyUsage = (purposes: readonly string[]): Buffer =>
  extension(OID.extKeyUsage, false, seq(...purposes.map((p) => oid(p))));

/** RFC 7093 §2 method 1: leftmost 160 bits of SHA-256 over the subjectPublicKey bits. */
export function keyIdentifier(subjectPublicKeyBits: Buffer): Buffer {
  return createHash('sha256').update(subjectPublicKeyBits).digest().subarray(0, 20);
}

export const subjectKeyIdentifier = (keyId: Buffer): Buffer =>
  extension(OID.subjectKeyIdentifier, false, octets(keyId));

export const authorityKeyIdentifier = (keyId: Buffer): Buffer =>
  extension(OID.authorityKeyIdentifier, false, seq(ctx(0, keyId, true)));

export interface GeneralNames {
  readonly dns?: readonly string[];
  readonly uris?: readonly string[];
  readonly ips?: readonly string[];
}

function ipBytes(ip: string): Buffer {
  const v = isIP(ip);
  if (v === 4) return Buffer.from(ip.split('.').map(Number));
  if (v === 6) {
    const [head = '', tail = ''] = ip.split('::');
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
    return Buffer.from(groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
  }
  throw new TypeError(`not an IP address: ${ip}`);
}

export function generalNames(names: GeneralNames): Buffer[] {
  return [
    ...(names.dns ?? []).map((d) => ctx(2, Buffer.from(d, 'ascii'), true)),
    ...(names.uris ?? []).map((u) => ctx(6, Buffer.from(u, 'ascii'), true)),
    ...(names.ips ?? []).map((ip) => ctx(7, ipBytes(ip), true)),
  ];
}

/** SAN is critical only when the subject is empty (RFC 5280 §4.2.1.6); ours never is. */
export const subjectAltName = (names: GeneralNames): Buffer =>
  extension(OID.subjectAltName, false, seq(...generalNames(names)));

export const crlDistributionPoints = (url: string): Buffer =>
  extension(
    OID.crlDistributionPoints,
    false,
    seq(seq(ctx(0, ctx(0, ctx(6, Buffer.from(url, 'ascii'), true))))),
  );

export function authorityInfoAccess(access: { ocsp?: string; caIssuers?: string }): Buffer {
  const descs: Buffer[] = [];
  if (access.ocsp) descs.push(seq(oid(OID.ocsp), ctx(6, Buffer.from(access.ocsp, 'ascii'), true)));
  if (access.caIssuers)
    descs.push(seq(oid(OID.caIssuers), ctx(6, Buffer.from(access.caIssuers, 'ascii'), true)));
  return extension(OID.authorityInfoAccess, false, seq(...descs));
}

/** Permitted subtrees only; MUST be critical (RFC 5280 §4.2.1.10). */
export function nameConstraints(permitted: GeneralNames): Buffer {
  const subtrees = generalNames(permitted).map((gn) => seq(gn));
  return extension(OID.nameConstraints, true, seq(ctx(0, Buffer.concat(subtrees))));
}
