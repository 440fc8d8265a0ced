// RFC 7030 §4.5.2 CsrAttrs: SEQUENCE OF AttrOrOID. We ask for ECDSA with SHA-256 over a
// P-256 key (the profile's default; P-384, Ed25519 and RSA ≥ 2048 are accepted too).
import { oid, seq, setOf } from '../../lib/der/encode.ts';
import { OID } from '../../lib/x509/oids.ts';

export function csrAttributes(): Buffer {
  return seq(oid(OID.ecdsaWithSha256), seq(oid(OID.ecPublicKey), setOf(oid(OID.prime256v1))));
}
