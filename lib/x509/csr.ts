// PKCS#10 (RFC 2986) certification requests: parse strictly (every fixed-shape SEQUENCE
// holds exactly its elements: nothing OpenSSL would refuse gets signed), canonicalize the key
// (spki.ts), verify the proof of possession. Uses node:crypto directly (not WebCrypto) — see
// MEASURED.md.
import { createHash, type KeyObject, verify } from 'node:crypto';
import {
  bitStringBytes,
  checkAny,
  children,
  DerError,
  expect,
  fields,
  integerBytes,
  type Node,
  oidString,
  raw,
  readTop,
} from '../der/decode.ts';
import { EdgesealError } from '../errors.ts';
import { KEY_SIGNATURE_FAMILY, type KeyType, SIGNATURE_ALGORITHMS } from './algorithms.ts';
import { decodeName, type NameAttribute } from './name.ts';
import { canonicalSpki } from './spki.ts';

export interface ParsedCsr {
  readonly der: Buffer;
  readonly subject: readonly NameAttribute[];
  /** DER of the subject Name exactly as the requester encoded it */
  readonly subjectDer: Buffer;
  /**
   * DER of SubjectPublicKeyInfo in canonical form (EC points uncompressed, RSA re-encoded):
   * what the certificate carries, so one key has one identity (spki.ts)
   */
  readonly spki: Buffer;
  /** SHA-256 of the canonical SPKI DER, hex: the key's identity for the one-key-one-device check */
  readonly spkiSha256: string;
  readonly keyType: KeyType;
  /** bits of security-relevant size: curve size or RSA modulus length */
  readonly keyBits: number;
  readonly publicKey: KeyObject;
  readonly signatureAlgorithm: string;
  /** whether the signature AlgorithmIdentifier carried a NULL parameter */
  readonly signatureParamsNull: boolean;
  readonly tbs: Buffer;
  readonly signature: Buffer;
}

/**
 * RFC 2986 §4.1 Attributes: SET OF SEQUENCE { type OID, values SET SIZE(1..MAX) OF ANY }.
 * The values are not used (no requested extension reaches a certificate), but they are
 * checked, so that nothing OpenSSL would refuse is signed by us.
 */
function checkAttributes(attrs: Node): void {
  for (const a of children(attrs)) {
    const [type, values] = fields(a, 0x30, 'Attribute', 2);
    oidString(expect(type, 0x06, 'Attribute type'));
    const vs = children(expect(values, 0x31, 'Attribute values'));
    if (vs.length === 0) throw new DerError('Attribute without values');
    for (const v of vs) checkAny(v);
  }
}

/** Parses a DER PKCS#10 request. Throws ERR_BAD_ENCODING / ERR_CSR_MALFORMED / ERR_KEY_*. */
export function parseCsr(der: Buffer): ParsedCsr {
  try {
    // CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm, signature }
    const [cri, sigAlg, sig] = fields(readTop(der), 0x30, 'CertificationRequest', 3);
    // CertificationRequestInfo ::= SEQUENCE { version, subject, subjectPKInfo, attributes [0] }.
    // RFC 2986 makes attributes mandatory; OpenSSL accepts requests without, and so do we.
    const [version, subject, spki, attrs] = fields(cri, 0x30, 'CertificationRequestInfo', 3, 4);
    const v = integerBytes(version, 'version');
    if (v.length !== 1 || v[0] !== 0) throw new DerError('CSR version must be 0 (v1)');
    const subjectAttrs = decodeName(expect(subject, 0x30, 'subject'));
    if (attrs) checkAttributes(expect(attrs, 0xa0, 'attributes'));
    const key = canonicalSpki(expect(spki, 0x30, 'subjectPKInfo'));
    // AlgorithmIdentifier ::= SEQUENCE { algorithm, parameters OPTIONAL }: no third element
    const [sigOid, sigParams] = fields(sigAlg, 0x30, 'signatureAlgorithm', 1, 2);
    const signatureAlgorithm = oidString(expect(sigOid, 0x06, 'signature algorithm'));
    if (sigParams && (sigParams.tag !== 0x05 || sigParams.end !== sigParams.contentStart))
      throw new DerError('signature algorithm parameters must be absent or NULL');
    const signature = bitStringBytes(expect(sig, 0x03, 'signature'));
    if (signature.length === 0) throw new DerError('empty signature');
    return {
      der,
      subject: subjectAttrs,
      subjectDer: raw(subject!),
      spki: key.der,
      spkiSha256: createHash('sha256').update(key.der).digest('hex'),
      keyType: key.keyType,
      keyBits: key.keyBits,
      publicKey: key.publicKey,
      signatureAlgorithm,
      signatureParamsNull: !!sigParams,
      tbs: raw(cri!),
      signature,
    };
  } catch (e) {
    if (e instanceof DerError)
      throw new EdgesealError('ERR_CSR_MALFORMED', `CSR is not valid DER: ${e.message}`);
    throw e;
  }
}

/** Verifies the CSR's self-signature (proof of possession, RFC 2986 §3). */
export function verifyCsrSignature(csr: ParsedCsr): void {
  const alg = SIGNATURE_ALGORITHMS[csr.signatureAlgorithm];
  if (!alg) {
    throw new EdgesealError(
      'ERR_CSR_SIGNATURE',
      `signature algorithm ${csr.signatureAlgorithm} is not accepted`,
    );
  }
  if (alg.family !== KEY_SIGNATURE_FAMILY[csr.keyType]) {
    throw new EdgesealError('ERR_CSR_SIGNATURE', `signature algorithm does not match the ${csr.keyType} key`);
  }
  if (csr.signatureParamsNull && !alg.nullParams) {
    throw new EdgesealError(
      'ERR_CSR_SIGNATURE',
      `signature algorithm ${csr.signatureAlgorithm} must have no parameters (RFC 5758 §3.2, RFC 8410 §3)`,
    );
  }
  let ok = false;
  try {
    ok = verify(
      alg.hash,
      csr.tbs,
      alg.family === 'ecdsa' ? { key: csr.publicKey, dsaEncoding: 'der' } : csr.publicKey,
      csr.signature,
    );
  } catch {
    ok = false; // malformed signature encodings are a failed verification, reported below
  }
  if (!ok)
    throw new EdgesealError('ERR_CSR_SIGNATURE', 'CSR signature does not verify with its own public key');
}
