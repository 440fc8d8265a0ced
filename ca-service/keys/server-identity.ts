// Service identities: the control plane's own TLS server and delegated OCSP responder
// certificates (a fresh key in memory at every start, never written anywhere), and, for
// callers with their own key (a gateway, a backend MQTT client), certificates for a public
// key they send. Each is recorded and audited like any other certificate.
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { toPem } from '../../lib/pem.ts';
import { randomSerial } from '../../lib/x509/certificate.ts';
import type { Issuer } from '../core/issuer.ts';
import type { AuthorityStore } from '../core/ports.ts';
import { ocspResponderCertificate, serverCertificate, serviceClientCertificate } from '../core/profiles.ts';

export interface ServiceIdentity {
  readonly key: KeyObject;
  readonly keyPem: string;
  readonly certDer: Buffer;
  /** leaf then issuing CA */
  readonly certChainPem: string;
  readonly serial: string;
  readonly notAfter: Date;
}

export const SERVER_CERT_DAYS = 30;
export const OCSP_CERT_DAYS = 7;
export const SERVICE_CERT_DAYS = 30;

export type IdentityKind =
  | {
      readonly kind: 'server';
      readonly hosts: { readonly dns: readonly string[]; readonly ips: readonly string[] };
    }
  | { readonly kind: 'ocsp' }
  | { readonly kind: 'service'; readonly name: string; readonly trustDomain: string };

const DAYS = { server: SERVER_CERT_DAYS, ocsp: OCSP_CERT_DAYS, service: SERVICE_CERT_DAYS } as const;

export interface Certified {
  readonly der: Buffer;
  readonly serial: string;
  readonly notAfter: Date;
  /** leaf then issuing CA */
  readonly chainPem: string;
}

/** Certify `spki` (DER SubjectPublicKeyInfo) as `what`; record and audit it. */
export async function certifyService(
  issuer: Issuer,
  what: IdentityKind,
  spki: Buffer,
  keyType: { type: string; bits: number },
  store: AuthorityStore,
  now: Date,
  actor = 'system',
): Promise<Certified> {
  const serial = randomSerial();
  const notBefore = new Date(now.getTime() - 300_000);
  const notAfter = new Date(now.getTime() + DAYS[what.kind] * 86_400_000);
  const validity = { notBefore, notAfter };
  const der =
    what.kind === 'server'
      ? serverCertificate(issuer, {
          serial,
          hosts: { dns: [...what.hosts.dns], ips: [...what.hosts.ips] },
          spki,
          validity,
        })
      : what.kind === 'service'
        ? serviceClientCertificate(issuer, {
            serial,
            name: what.name,
            trustDomain: what.trustDomain,
            spki,
            validity,
          })
        : ocspResponderCertificate(issuer, { serial, spki, validity });
  const serialHex = serial.toString('hex');
  const spkiSha256 = createHash('sha256').update(spki).digest('hex');
  const subject =
    what.kind === 'server'
      ? `CN=${what.hosts.dns[0] ?? what.hosts.ips[0]}`
      : what.kind === 'service'
        ? `CN=${what.name}`
        : `CN=edgeseal OCSP responder for ${issuer.id}`;
  await store.commitIssuance({
    certificate: {
      serial: serialHex,
      kind: what.kind,
      deviceId: null,
      batchId: null,
      hardwareModel: null,
      issuerId: issuer.id,
      subject,
      keyType: keyType.type,
      keyBits: keyType.bits,
      spkiSha256,
      notBefore,
      notAfter,
      der,
      issuedAt: now,
      revokedAt: null,
      revocationReason: null,
    },
    audit: {
      at: now,
      actor,
      action: `certificate.${what.kind}`,
      outcome: 'ok',
      subject: serialHex,
      details: {
        spki_sha256: spkiSha256,
        ...(what.kind === 'server' ? { dns: what.hosts.dns, ips: what.hosts.ips } : {}),
        ...(what.kind === 'service' ? { name: what.name } : {}),
      },
    },
  });
  return {
    der,
    serial: serialHex,
    notAfter,
    chainPem: toPem('CERTIFICATE', der) + toPem('CERTIFICATE', issuer.cert.der),
  };
}

/** A fresh P-256 key in memory, certified as `what`. */
export async function issueServiceIdentity(
  issuer: Issuer,
  what: IdentityKind,
  store: AuthorityStore,
  now: Date,
): Promise<ServiceIdentity> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const c = await certifyService(issuer, what, spki, { type: 'ec-p256', bits: 256 }, store, now);
  return {
    key: privateKey,
    keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    certDer: c.der,
    certChainPem: c.chainPem,
    serial: c.serial,
    notAfter: c.notAfter,
  };
}
