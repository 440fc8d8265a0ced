// A PKCS#10 CertificationRequest (RFC 2986) signed with an EC P-256 key: what a service
// (a gateway) sends to get its key certified.
import { createPublicKey, type KeyObject, sign } from 'node:crypto';
import { bitString, ctx, oid, seq, setOf, smallInt, utf8 } from '../der/encode.ts';
import { OID } from './oids.ts';

export function buildCsr(privateKey: KeyObject, commonName: string): Buffer {
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const subject = seq(setOf(seq(oid(OID.commonName), utf8(commonName))));
  const cri = seq(smallInt(0), subject, spki, ctx(0, Buffer.alloc(0)));
  return seq(cri, seq(oid(OID.ecdsaWithSha256)), bitString(sign('sha256', cri, privateKey)));
}
