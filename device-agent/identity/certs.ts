// Certificates as the agent handles them: read from EST answers and PEM files, checked
// against the device key and the chain it must hang from.
import { createHash, createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { decodeBase64Strict, fromPemAll, toPem } from '../../lib/pem.ts';
import { readCertsOnly } from '../../lib/x509/pkcs7.ts';
import { attributeValues } from '../../lib/x509/name.ts';
import { OID } from '../../lib/x509/oids.ts';
import { parseCertificate } from '../../lib/x509/parse-certificate.ts';
import { fail } from '../errors.ts';

export interface Cert {
  readonly der: Buffer;
  readonly pem: string;
  readonly x509: X509Certificate;
  /** lowercase hex without a leading 00, as the CA writes serials */
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly subjectCn: string | undefined;
  readonly subjectOu: string | undefined;
}

export function cert(der: Buffer): Cert {
  let info: ReturnType<typeof parseCertificate>;
  let x509: X509Certificate;
  try {
    info = parseCertificate(der);
    x509 = new X509Certificate(der);
  } catch (e) {
    return fail('ERR_PROTOCOL', `not a certificate: ${(e as Error).message}`, e);
  }
  return {
    der,
    pem: toPem('CERTIFICATE', der),
    x509,
    serial: info.serialHex,
    notBefore: info.notBefore,
    notAfter: info.notAfter,
    subjectCn: attributeValues(info.subject, OID.commonName)[0],
    subjectOu: attributeValues(info.subject, OID.organizationalUnitName)[0],
  };
}

/** The certificates of a PEM file (in order). */
export function certsFromPem(text: string, what: string): Cert[] {
  let blocks: ReturnType<typeof fromPemAll>;
  try {
    blocks = fromPemAll(text).filter((b) => b.label === 'CERTIFICATE');
  } catch (e) {
    return fail('ERR_BAD_VALUE', `${what} is not PEM: ${(e as Error).message}`);
  }
  if (blocks.length === 0) fail('ERR_BAD_VALUE', `${what} holds no PEM certificate`);
  return blocks.map((b) => cert(b.der));
}

/** RFC 7030 §4.1.3 / §4.2.3: a base64 certs-only PKCS#7 body → its certificates. */
export function certsFromEstBody(body: Buffer, what: string): Cert[] {
  let ders: Buffer[];
  try {
    ders = readCertsOnly(decodeBase64Strict(body.toString('latin1'), what));
  } catch (e) {
    return fail('ERR_PROTOCOL', `${what} is not a base64 certs-only PKCS#7: ${(e as Error).message}`, e);
  }
  if (ders.length === 0) fail('ERR_PROTOCOL', `${what} carries no certificate`);
  return ders.map(cert);
}

export const sha256Hex = (der: Uint8Array): string => createHash('sha256').update(der).digest('hex');

/** "AB:CD:…" (openssl's form) or plain hex → 64 lowercase hex digits, or undefined. */
export function normalizeFingerprint(text: string): string | undefined {
  const hex = text.replace(/:/g, '').toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}

export const isSelfSigned = (c: Cert): boolean =>
  c.x509.checkIssued(c.x509) && c.x509.verify(c.x509.publicKey);

/** `child` names `parent` as issuer and carries its signature (RFC 5280 §6.1.3). */
export const issuedBy = (child: Cert, parent: Cert): boolean =>
  child.x509.checkIssued(parent.x509) && child.x509.verify(parent.x509.publicKey);

/**
 * The certificate the CA issued to this device: for our key, for our id, from our issuing CA.
 * Anything else means the server is not answering the request we made.
 */
export function checkDeviceCert(
  leaf: Cert,
  expect: { key: KeyObject; deviceId: string; issuingCa: Cert },
): void {
  const ours = createPublicKey(expect.key).export({ format: 'der', type: 'spki' });
  const theirs = leaf.x509.publicKey.export({ format: 'der', type: 'spki' });
  if (!ours.equals(theirs)) fail('ERR_PROTOCOL', 'the issued certificate is not for this device key');
  if (leaf.subjectCn !== expect.deviceId) {
    fail(
      'ERR_PROTOCOL',
      `the issued certificate names ${leaf.subjectCn ?? '(no CN)'}, not ${expect.deviceId}`,
    );
  }
  if (!issuedBy(leaf, expect.issuingCa))
    fail('ERR_PROTOCOL', 'the issued certificate is not signed by the issuing CA');
}
