// Certificate profiles: what each kind of certificate the CA signs contains. Each is an
// ordered list of pre-encoded extensions plus the per-certificate parts.
import { buildTbs, type Signer, signCertificate, spkiKeyBits } from '../../lib/x509/certificate.ts';
import { nul } from '../../lib/der/encode.ts';
import {
  authorityKeyIdentifier,
  basicConstraints,
  extension,
  extKeyUsage,
  keyIdentifier,
  keyUsage,
  nameConstraints,
  subjectAltName,
  subjectKeyIdentifier,
} from '../../lib/x509/extensions.ts';
import { encodeName } from '../../lib/x509/name.ts';
import { OID } from '../../lib/x509/oids.ts';
import type { Issuer } from './issuer.ts';

export interface Validity {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

const ski = (spki: Buffer) => subjectKeyIdentifier(keyIdentifier(spkiKeyBits(spki)));

/** Device identity URI: a SPIFFE ID, spiffe://<trust domain>/device/<id>. */
export const deviceUri = (trustDomain: string, deviceId: string): string =>
  `spiffe://${trustDomain}/device/${deviceId}`;

export function rootCertificate(p: {
  serial: Buffer;
  subject: string;
  spki: Buffer;
  validity: Validity;
  signer: Signer;
}): Buffer {
  const name = encodeName([
    { type: OID.commonName, value: p.subject },
    { type: OID.organizationName, value: 'edgeseal' },
  ]);
  const keyId = keyIdentifier(spkiKeyBits(p.spki));
  const tbs = buildTbs(
    {
      serial: p.serial,
      issuer: name,
      subject: name,
      ...p.validity,
      spki: p.spki,
      // pathLen 1: root → issuing → leaf, nothing deeper (RFC 5280 §4.2.1.9)
      extensions: [
        basicConstraints(true, 1),
        keyUsage(['keyCertSign', 'cRLSign']),
        subjectKeyIdentifier(keyId),
        authorityKeyIdentifier(keyId),
      ],
    },
    p.signer.algorithmIdentifier,
  );
  return signCertificate(tbs, p.signer);
}

export function issuingCaCertificate(
  root: Issuer,
  p: { serial: Buffer; subject: string; spki: Buffer; validity: Validity; trustDomain: string },
): Buffer {
  const tbs = buildTbs(
    {
      serial: p.serial,
      issuer: root.cert.subjectDer,
      subject: encodeName([
        { type: OID.commonName, value: p.subject },
        { type: OID.organizationName, value: 'edgeseal' },
      ]),
      ...p.validity,
      spki: p.spki,
      extensions: [
        basicConstraints(true, 0),
        keyUsage(['digitalSignature', 'keyCertSign', 'cRLSign']),
        ski(p.spki),
        ...root.issuedExtensions,
        // The issuing CA can only name devices inside this fleet's trust domain. DNS and IP
        // names (server certificates) stay unconstrained so host names can change.
        nameConstraints({ uris: [p.trustDomain] }),
      ],
    },
    root.signer.algorithmIdentifier,
  );
  return signCertificate(tbs, root.signer);
}

const DEVICE_EXTENSIONS = [
  basicConstraints(false),
  keyUsage(['digitalSignature']),
  extKeyUsage([OID.clientAuth]),
];

export interface DeviceCertificateInput {
  readonly serial: Buffer;
  readonly deviceId: string;
  readonly hardwareModel: string;
  readonly trustDomain: string;
  readonly spki: Buffer;
  readonly validity: Validity;
}

export function deviceCertificate(issuer: Issuer, p: DeviceCertificateInput): Buffer {
  const tbs = buildTbs(
    {
      serial: p.serial,
      issuer: issuer.cert.subjectDer,
      subject: encodeName([
        { type: OID.commonName, value: p.deviceId },
        { type: OID.organizationalUnitName, value: p.hardwareModel },
      ]),
      ...p.validity,
      spki: p.spki,
      extensions: [
        ...DEVICE_EXTENSIONS,
        ski(p.spki),
        subjectAltName({ uris: [deviceUri(p.trustDomain, p.deviceId)] }),
        ...issuer.issuedExtensions,
      ],
    },
    issuer.signer.algorithmIdentifier,
  );
  return signCertificate(tbs, issuer.signer);
}

const OCSP_EXTENSIONS = [
  basicConstraints(false),
  keyUsage(['digitalSignature']),
  extKeyUsage([OID.ocspSigning]),
  // RFC 6960 §4.2.2.2.1 id-pkix-ocsp-nocheck: clients need not check this certificate's status
  extension('1.3.6.1.5.5.7.48.1.5', false, nul()),
];

/** A delegated OCSP responder certificate (RFC 6960 §4.2.2.2). Short-lived: it carries nocheck. */
export function ocspResponderCertificate(
  issuer: Issuer,
  p: { serial: Buffer; spki: Buffer; validity: Validity },
): Buffer {
  const tbs = buildTbs(
    {
      serial: p.serial,
      issuer: issuer.cert.subjectDer,
      subject: encodeName([{ type: OID.commonName, value: `edgeseal OCSP responder for ${issuer.id}` }]),
      ...p.validity,
      spki: p.spki,
      extensions: [...OCSP_EXTENSIONS, ski(p.spki), authorityKeyIdentifier(issuer.keyId)],
    },
    issuer.signer.algorithmIdentifier,
  );
  return signCertificate(tbs, issuer.signer);
}

const SERVER_EXTENSIONS = [
  basicConstraints(false),
  keyUsage(['digitalSignature']),
  extKeyUsage([OID.serverAuth]),
];

export function serverCertificate(
  issuer: Issuer,
  p: { serial: Buffer; hosts: { dns: string[]; ips: string[] }; spki: Buffer; validity: Validity },
): Buffer {
  const cn = p.hosts.dns[0] ?? p.hosts.ips[0] ?? 'edgeseal';
  const tbs = buildTbs(
    {
      serial: p.serial,
      issuer: issuer.cert.subjectDer,
      subject: encodeName([{ type: OID.commonName, value: cn }]),
      ...p.validity,
      spki: p.spki,
      extensions: [...SERVER_EXTENSIONS, ski(p.spki), subjectAltName(p.hosts), ...issuer.issuedExtensions],
    },
    issuer.signer.algorithmIdentifier,
  );
  return signCertificate(tbs, issuer.signer);
}

/** Backend service identity URI: spiffe://<trust domain>/service/<name>. */
export const serviceUri = (trustDomain: string, name: string): string =>
  `spiffe://${trustDomain}/service/${name}`;

/**
 * A backend service's MQTT client certificate (the gateway lets it read device telemetry
 * and status and write ota/cmd): CN = name, SAN URI spiffe://<td>/service/<name>, clientAuth.
 */
export function serviceClientCertificate(
  issuer: Issuer,
  p: { serial: Buffer; name: string; trustDomain: string; spki: Buffer; validity: Validity },
): Buffer {
  const tbs = buildTbs(
    {
      serial: p.serial,
      issuer: issuer.cert.subjectDer,
      subject: encodeName([{ type: OID.commonName, value: p.name }]),
      ...p.validity,
      spki: p.spki,
      extensions: [
        ...DEVICE_EXTENSIONS,
        ski(p.spki),
        subjectAltName({ uris: [serviceUri(p.trustDomain, p.name)] }),
        ...issuer.issuedExtensions,
      ],
    },
    issuer.signer.algorithmIdentifier,
  );
  return signCertificate(tbs, issuer.signer);
}
