// The control plane's own identities: a TLS server certificate and a delegated OCSP
// responder certificate. Each gets a fresh key in memory at every start (never written
// anywhere), is certified by the issuing CA, and is recorded and audited like any other
// certificate so the inventory shows it.
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { toPem } from '../../lib/pem.ts';
import { randomSerial } from '../../lib/x509/certificate.ts';
import type { Issuer } from '../core/issuer.ts';
import type { AuthorityStore } from '../core/ports.ts';
import { ocspResponderCertificate, serverCertificate } from '../core/profiles.ts';

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

export type IdentityKind =
  | {
      readonly kind: 'server';
      readonly hosts: { readonly dns: readonly string[]; readonly ips: readonly string[] };
    }
  | { readonly kind: 'ocsp' };

export async function issueServiceIdentity(
  issuer: Issuer,
  what: IdentityKind,
  store: AuthorityStore,
  now: Date,
): Promise<ServiceIdentity> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const serial = randomSerial();
  const notBefore = new Date(now.getTime() - 300_000);
  const days = what.kind === 'server' ? SERVER_CERT_DAYS : OCSP_CERT_DAYS;
  const notAfter = new Date(now.getTime() + days * 86_400_000);
  const validity = { notBefore, notAfter };
  const der =
    what.kind === 'server'
      ? serverCertificate(issuer, {
          serial,
          hosts: { dns: [...what.hosts.dns], ips: [...what.hosts.ips] },
          spki,
          validity,
        })
      : ocspResponderCertificate(issuer, { serial, spki, validity });
  const serialHex = serial.toString('hex');
  const spkiSha256 = createHash('sha256').update(spki).digest('hex');
  const subject =
    what.kind === 'server'
      ? `CN=${what.hosts.dns[0] ?? what.hosts.ips[0]}`
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
      keyType: 'ec-p256',
      keyBits: 256,
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
      actor: 'system',
      action: `certificate.${what.kind}`,
      outcome: 'ok',
      subject: serialHex,
      details: {
        spki_sha256: spkiSha256,
        ...(what.kind === 'server' ? { dns: what.hosts.dns, ips: what.hosts.ips } : {}),
      },
    },
  });
  return {
    key: privateKey,
    keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    certDer: der,
    certChainPem: toPem('CERTIFICATE', der) + toPem('CERTIFICATE', issuer.cert.der),
    serial: serialHex,
    notAfter,
  };
}
