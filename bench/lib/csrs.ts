// Distinct device CSRs (P-256 key each), made up front so generation is not measured.
import { generateKeyPairSync, sign } from 'node:crypto';
import { bitString, ctx, oid, printable, seq, setOf, smallInt } from '../../lib/der/encode.ts';
import { OID } from '../../lib/x509/oids.ts';

export function makeCsrs(n: number, prefix = 'bench'): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const subject = seq(setOf(seq(oid(OID.commonName), printable(`${prefix}-${i}`))));
    const cri = seq(
      smallInt(0),
      subject,
      publicKey.export({ format: 'der', type: 'spki' }),
      ctx(0, Buffer.alloc(0)),
    );
    out.push(seq(cri, seq(oid(OID.ecdsaWithSha256)), bitString(sign('sha256', cri, privateKey))));
  }
  return out;
}
