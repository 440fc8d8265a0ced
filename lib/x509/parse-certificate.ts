// Just enough certificate parsing for the CA's own needs: the raw parts it copies into what
// it signs, and the fields it indexes. Strict; a malformed certificate throws.
import { createHash } from 'node:crypto';
import { children, content, DerError, expect, type Node, oidString, raw, readTop } from '../der/decode.ts';
import { decodeName, type NameAttribute } from './name.ts';
import { OID } from './oids.ts';

export interface CertificateInfo {
  readonly der: Buffer;
  readonly serialHex: string;
  readonly issuerDer: Buffer;
  readonly subjectDer: Buffer;
  readonly subject: readonly NameAttribute[];
  readonly spki: Buffer;
  readonly spkiSha256: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** extension OID → DER of extnValue contents */
  readonly extensions: ReadonlyMap<string, { critical: boolean; value: Buffer }>;
}

function readTime(n: Node): Date {
  const s = content(n).toString('ascii');
  const m =
    n.tag === 0x17
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
      : n.tag === 0x18
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
        : null;
  if (!m) throw new DerError(`bad time ${s}`);
  let year = Number(m[1]);
  if (n.tag === 0x17) year += year < 50 ? 2000 : 1900; // RFC 5280 §4.1.2.5.1
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

export function serialHexOf(n: Node): string {
  const b = content(expect(n, 0x02, 'serialNumber'));
  const trimmed = b.length > 1 && b[0] === 0 ? b.subarray(1) : b;
  return trimmed.toString('hex');
}

export function parseCertificate(der: Buffer): CertificateInfo {
  const [tbs] = children(expect(readTop(der), 0x30, 'Certificate'));
  const f = children(expect(tbs, 0x30, 'TBSCertificate'));
  const off = f[0]?.tag === 0xa0 ? 1 : 0;
  const [serial, , issuer, validity, subject, spki] = f.slice(off);
  const [nb, na] = children(expect(validity, 0x30, 'validity'));
  const extensions = new Map<string, { critical: boolean; value: Buffer }>();
  const extsWrapper = f.find((n) => n.tag === 0xa3);
  if (extsWrapper) {
    for (const e of children(children(extsWrapper)[0]!)) {
      const parts = children(e);
      const critical = parts.length === 3 && content(parts[1]!)[0] === 0xff;
      extensions.set(oidString(parts[0]!), { critical, value: content(parts[parts.length - 1]!) });
    }
  }
  const spkiDer = raw(expect(spki, 0x30, 'subjectPublicKeyInfo'));
  return {
    der,
    serialHex: serialHexOf(serial!),
    issuerDer: raw(expect(issuer, 0x30, 'issuer')),
    subjectDer: raw(expect(subject, 0x30, 'subject')),
    subject: decodeName(subject!),
    spki: spkiDer,
    spkiSha256: createHash('sha256').update(spkiDer).digest('hex'),
    notBefore: readTime(nb!),
    notAfter: readTime(na!),
    extensions,
  };
}

export function subjectKeyId(cert: CertificateInfo): Buffer | undefined {
  const ski = cert.extensions.get(OID.subjectKeyIdentifier);
  return ski ? content(readTop(ski.value)) : undefined;
}

/** The SAN URIs of a certificate. */
export function sanUris(cert: CertificateInfo): string[] {
  const san = cert.extensions.get(OID.subjectAltName);
  if (!san) return [];
  return children(readTop(san.value))
    .filter((gn) => gn.tag === 0x86)
    .map((gn) => content(gn).toString('ascii'));
}
