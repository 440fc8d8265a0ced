// EST, RFC 7030, at /.well-known/est/. Bodies are base64 DER; RFC 8951 clarifies that
// Content-Transfer-Encoding is ignored on input and base64 is always used.
import { Hono } from 'hono';
import { EdgesealError } from '../../lib/errors.ts';
import { decodeBase64Strict } from '../../lib/pem.ts';
import { certsOnly } from '../../lib/x509/pkcs7.ts';
import type { Authority } from '../core/authority.ts';
import { basicCredential } from './auth.ts';
import type { AppEnv } from './env.ts';
import { csrAttributes } from './csr-attrs.ts';
import { peerAddress, verifiedPeerSerial } from './tls-peer.ts';

/** base64 in 64-character lines: what `base64 -d` and `openssl base64 -d` both read. */
export const mimeBase64 = (der: Buffer): string =>
  `${(der.toString('base64').match(/.{1,64}/g) ?? []).join('\n')}\n`;

const PKCS7_CERTS_ONLY = 'application/pkcs7-mime; smime-type=certs-only';

async function readCsr(c: {
  req: { header(n: string): string | undefined; text(): Promise<string> };
}): Promise<Buffer> {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  // RFC 7030 §4.2.1: the request is an application/pkcs10 body.
  if (type !== 'application/pkcs10') {
    throw new EdgesealError(
      'ERR_UNSUPPORTED_MEDIA_TYPE',
      `Content-Type must be application/pkcs10, got "${type || 'none'}"`,
    );
  }
  return decodeBase64Strict(await c.req.text(), 'PKCS#10 body');
}

export function estRoutes(authority: Authority, chain: readonly Buffer[]): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const cacerts = mimeBase64(certsOnly([...chain]));
  const csrattrs = mimeBase64(csrAttributes());

  // RFC 7030 §4.1: the current CA certificates, no authentication.
  app.get('/cacerts', (c) =>
    c.body(cacerts, 200, { 'Content-Type': 'application/pkcs7-mime', 'Content-Transfer-Encoding': 'base64' }),
  );

  // RFC 7030 §4.2.1: HTTP Basic with the production batch credential (§3.2.3).
  app.post('/simpleenroll', async (c) => {
    const issued = await authority.enroll({
      readCsr: () => readCsr(c),
      credential: basicCredential(c.req.header('authorization')),
      source: peerAddress(c),
    });
    Object.assign(c.get('logFields'), { device_id: issued.deviceId, cert_serial: issued.serial });
    return c.body(mimeBase64(certsOnly([issued.der])), 200, {
      'Content-Type': PKCS7_CERTS_ONLY,
      'Content-Transfer-Encoding': 'base64',
    });
  });

  // RFC 7030 §4.2.2: authenticated by the device's current certificate over TLS (§3.3.2).
  app.post('/simplereenroll', async (c) => {
    const issued = await authority.reenroll({
      readCsr: () => readCsr(c),
      clientSerial: () => verifiedPeerSerial(c),
      source: peerAddress(c),
    });
    Object.assign(c.get('logFields'), { device_id: issued.deviceId, cert_serial: issued.serial });
    return c.body(mimeBase64(certsOnly([issued.der])), 200, {
      'Content-Type': PKCS7_CERTS_ONLY,
      'Content-Transfer-Encoding': 'base64',
    });
  });

  // RFC 7030 §4.5: what a CSR should contain.
  app.get('/csrattrs', (c) =>
    c.body(csrattrs, 200, { 'Content-Type': 'application/csrattrs', 'Content-Transfer-Encoding': 'base64' }),
  );

  return app;
}
