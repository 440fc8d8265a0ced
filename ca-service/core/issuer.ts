// An issuing authority: its certificate, its signer, and the extensions every certificate it
// signs carries, encoded once (RFC 5280 §4.2.1.1 AKI, §4.2.1.13 CDP, §4.2.2.1 AIA).
import type { Signer } from '../../lib/x509/certificate.ts';
import {
  authorityInfoAccess,
  authorityKeyIdentifier,
  crlDistributionPoints,
  keyIdentifier,
} from '../../lib/x509/extensions.ts';
import { type CertificateInfo, parseCertificate, subjectKeyId } from '../../lib/x509/parse-certificate.ts';
import { spkiKeyBits } from '../../lib/x509/certificate.ts';

export interface RevocationUrls {
  /** base of the plain-HTTP endpoint relying parties fetch CRLs, OCSP and CA certs from */
  readonly publicHttpUrl: string;
}

export interface Issuer {
  /** stable id of this CA key, used in URLs and records */
  readonly id: string;
  readonly cert: CertificateInfo;
  readonly signer: Signer;
  readonly keyId: Buffer;
  readonly urls: { readonly crl: string; readonly ocsp: string; readonly caIssuers: string };
  /** AKI, CDP and AIA, pre-encoded */
  readonly issuedExtensions: readonly Buffer[];
}

export function makeIssuer(id: string, certDer: Buffer, signer: Signer, urls: RevocationUrls): Issuer {
  const cert = parseCertificate(certDer);
  const keyId = subjectKeyId(cert) ?? keyIdentifier(spkiKeyBits(cert.spki));
  const base = urls.publicHttpUrl.replace(/\/+$/, '');
  const u = { crl: `${base}/crl/${id}.crl`, ocsp: `${base}/ocsp`, caIssuers: `${base}/ca/${id}.crt` };
  return {
    id,
    cert,
    signer,
    keyId,
    urls: u,
    issuedExtensions: [
      authorityKeyIdentifier(keyId),
      crlDistributionPoints(u.crl),
      authorityInfoAccess({ ocsp: u.ocsp, caIssuers: u.caIssuers }),
    ],
  };
}
