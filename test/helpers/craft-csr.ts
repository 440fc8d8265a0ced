// Hand-built CSRs for inputs openssl refuses to make (over-long names and the like).
import { generateKeyPairSync, sign } from 'node:crypto';
import { bitString, ctx, oid, seq, smallInt, utf8, setOf } from '../../lib/der/encode.ts';
import { OID } from '../../lib/x509/oids.ts';

export function craftCsr(cn: string): Buffer {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const subject = seq(setOf(seq(oid(OID.commonName), utf8(cn))));
  const cri = seq(
    smallInt(0),
    subject,
    publicKey.export({ format: 'der', type: 'spki' }),
    ctx(0, Buffer.alloc(0)),
  );
  return seq(cri, seq(oid(OID.ecdsaWithSha256)), bitString(sign('sha256', cri, privateKey)));
}
