// Certs-only CMS SignedData (RFC 5652 §5; "degenerate" PKCS#7 as EST returns it,
// RFC 7030 §4.1.3 and §4.2.3): no content, no signers, just the certificates.
import { ctx, oid, seq, setOf, smallInt } from '../der/encode.ts';
import { children, expect, raw, readTop } from '../der/decode.ts';
import { OID } from './oids.ts';

export function certsOnly(certs: readonly Buffer[]): Buffer {
  const signedData = seq(
    smallInt(1), // CMSVersion 1: no attribute certificates, id-data content
    setOf(), // digestAlgorithms: empty
    seq(oid(OID.data)), // encapContentInfo without eContent
    ctx(0, Buffer.concat(certs)), // certificates [0] IMPLICIT CertificateSet
    setOf(), // signerInfos: empty
  );
  return seq(oid(OID.signedData), ctx(0, signedData));
}

/** Reads the certificates out of a certs-only SignedData (for clients and tests). */
export function readCertsOnly(der: Buffer): Buffer[] {
  const [type, wrapped] = children(expect(readTop(der), 0x30, 'ContentInfo'));
  expect(type, 0x06, 'contentType');
  const sd = children(expect(wrapped, 0xa0, 'content'))[0]!;
  const certs = children(sd).find((n) => n.tag === 0xa0);
  return certs ? children(certs).map((c) => Buffer.from(raw(c))) : [];
}
