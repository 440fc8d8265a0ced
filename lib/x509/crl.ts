// X.509 v2 CRLs (RFC 5280 §5). Entries are encoded once when a certificate is revoked and
// kept; a rebuild is a concatenation and one signature, which is what keeps a CRL of
// 100,000 entries cheap to reissue.
import { ctx, oid, octets, seq, smallInt, time, tlv, uint } from '../der/encode.ts';
import type { Signer } from './certificate.ts';
import { extension } from './extensions.ts';

const OID_CRL_NUMBER = '2.5.29.20';
const OID_REASON_CODE = '2.5.29.21';

/** One revokedCertificates entry, with a reasonCode extension unless the reason is unspecified (§5.3.1). */
export function crlEntry(serialHex: string, revokedAt: Date, reason: number): Buffer {
  const exts = reason === 0 ? [] : [seq(seq(oid(OID_REASON_CODE), octets(tlv(0x0a, Buffer.from([reason])))))];
  return seq(uint(Buffer.from(serialHex, 'hex')), time(revokedAt), ...exts);
}

export function buildCrl(p: {
  issuerName: Buffer;
  authorityKeyId: Buffer;
  number: number;
  thisUpdate: Date;
  nextUpdate: Date;
  entries: readonly Buffer[];
  signer: Signer;
}): Buffer {
  const tbs = seq(
    smallInt(1), // v2
    p.signer.algorithmIdentifier,
    p.issuerName,
    time(p.thisUpdate),
    time(p.nextUpdate),
    ...(p.entries.length ? [seq(...p.entries)] : []), // omitted when empty (§5.1.2.6)
    ctx(
      0,
      seq(
        extension('2.5.29.35', false, seq(ctx(0, p.authorityKeyId, true))),
        extension(OID_CRL_NUMBER, false, smallInt(p.number)),
      ),
    ),
  );
  return seq(
    tbs,
    p.signer.algorithmIdentifier,
    tlv(0x03, Buffer.concat([Buffer.from([0]), p.signer.sign(tbs)])),
  );
}
