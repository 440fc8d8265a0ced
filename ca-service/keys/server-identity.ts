// The control plane's own TLS identity: a fresh key in memory at every start (never written
// anywhere), certified by the issuing CA for the configured host names, recorded and
// audited like any other certificate so the inventory shows it.
import { generateKeyPairSync } from 'node:crypto';
import { toPem } from '../../lib/pem.ts';
import { randomSerial } from '../../lib/x509/certificate.ts';
import type { Issuer } from '../core/issuer.ts';
import type { AuthorityStore } from '../core/ports.ts';
import { serverCertificate } from '../core/profiles.ts';
import { createHash } from 'node:crypto';

export interface ServerIdentity {
  readonly keyPem: string;
  /** leaf then issuing CA */
  readonly certChainPem: string;
  readonly serial: string;
  readonly notAfter: Date;
}

export const SERVER_CERT_DAYS = 30;

export async function issueServerIdentity(
  issuer: Issuer,
  hosts: { dns: readonly string[]; ips: readonly string[] },
  store: AuthorityStore,
  now: Date,
  purpose: string,
): Promise<ServerIdentity> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const serial = randomSerial();
  const notBefore = new Date(now.getTime() - 300_000);
  const notAfter = new Date(now.getTime() + SERVER_CERT_DAYS * 86_400_000);
  const der = serverCertificate(issuer, {
    serial,
    hosts: { dns: [...hosts.dns], ips: [...hosts.ips] },
    spki,
    validity: { notBefore, notAfter },
  });
  const serialHex = serial.toString('hex');
  const spkiSha256 = createHash('sha256').update(spki).digest('hex');
  await store.commitIssuance({
    certificate: {
      serial: serialHex,
      kind: 'server',
      deviceId: null,
      batchId: null,
      hardwareModel: null,
      issuerId: issuer.id,
      subject: `CN=${hosts.dns[0] ?? hosts.ips[0]}`,
      keyType: 'ec-p256',
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
      action: 'certificate.server',
      outcome: 'ok',
      subject: serialHex,
      details: { purpose, dns: hosts.dns, ips: hosts.ips, spki_sha256: spkiSha256 },
    },
  });
  return {
    keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    certChainPem: toPem('CERTIFICATE', der) + toPem('CERTIFICATE', issuer.cert.der),
    serial: serialHex,
    notAfter,
  };
}
