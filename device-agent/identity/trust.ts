// Which root a device being provisioned trusts for its EST server, and so for every server
// of the fleet. Either a root PEM handed over (--ca-file; or the CA's own root when the
// factory station runs beside it), or step-ca's bootstrap: one unverified GET of cacerts, the
// root taken from it only if its SHA-256 fingerprint is the one given out of band
// (--ca-fingerprint); every request after that is verified against that root.
import { readFile } from 'node:fs/promises';
import { fail } from '../errors.ts';
import { HttpsClient } from '../net/https.ts';
import { type Cert, certsFromPem, isSelfSigned, sha256Hex } from './certs.ts';
import { EstClient } from './est-client.ts';

export type TrustSource =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'fingerprint'; readonly sha256: string }
  /** the CA's own root on this machine ($EDGESEAL_DATA_DIR/ca/root.pem) */
  | { readonly kind: 'local-ca'; readonly path: string };

async function rootFromFile(path: string, flag: string): Promise<Cert> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    return fail('ERR_BAD_VALUE', `cannot read ${flag} ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  const roots = certsFromPem(text, `${flag} ${path}`).filter(isSelfSigned);
  if (roots.length !== 1)
    fail('ERR_BAD_VALUE', `${flag} ${path} must hold exactly one self-signed root certificate`);
  return roots[0]!;
}

async function rootByFingerprint(estUrl: string, sha256: string): Promise<Cert> {
  // Unverified on purpose, and only this once: what it returns is checked against the
  // fingerprint before anything is trusted or sent (no credential travels on this request).
  const insecure = new HttpsClient({ rejectUnauthorized: false });
  try {
    const certs = await new EstClient(estUrl, insecure).cacerts();
    const roots = certs.filter(isSelfSigned);
    const match = roots.find((c) => sha256Hex(c.der) === sha256);
    if (!match) {
      const offered = roots.map((c) => sha256Hex(c.der)).join(', ') || 'none';
      fail(
        'ERR_TRUST',
        `the root offered by ${estUrl}/cacerts has SHA-256 fingerprint ${offered}, not ${sha256}; not trusting it`,
      );
    }
    return match!;
  } finally {
    insecure.close();
  }
}

export function resolveTrustRoot(source: TrustSource, estUrl: string): Promise<Cert> {
  switch (source.kind) {
    case 'file':
      return rootFromFile(source.path, '--ca-file');
    case 'local-ca':
      return rootFromFile(source.path, 'the local CA root');
    case 'fingerprint':
      return rootByFingerprint(estUrl, source.sha256);
  }
}
