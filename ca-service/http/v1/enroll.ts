// JSON twin of EST enrollment, for tools that prefer JSON to PKCS#7.
import { Hono } from 'hono';
import { decodeBase64Strict, fromPemAll, toPem } from '../../../lib/pem.ts';
import { EdgesealError } from '../../../lib/errors.ts';
import type { Authority, Issued } from '../../core/authority.ts';
import { basicCredential } from '../auth.ts';
import type { AppEnv } from '../env.ts';
import { peerAddress, verifiedPeerSerial } from '../tls-peer.ts';
import { jsonBody } from '../validate.ts';
import { EnrollBody, ReenrollBody } from './schemas.ts';

export function csrDer(text: string): Buffer {
  if (!text.includes('-----BEGIN')) return decodeBase64Strict(text, 'csr');
  const blocks = fromPemAll(text).filter(
    (b) => b.label === 'CERTIFICATE REQUEST' || b.label === 'NEW CERTIFICATE REQUEST',
  );
  if (blocks.length !== 1)
    throw new EdgesealError('ERR_BAD_ENCODING', 'csr must hold exactly one PEM CERTIFICATE REQUEST');
  return blocks[0]!.der;
}

export const issuedView = (i: Issued) => ({
  serial: i.serial,
  device_id: i.deviceId,
  not_after: i.notAfter.toISOString(),
  certificate: toPem('CERTIFICATE', i.der),
  chain: i.chain.map((d) => toPem('CERTIFICATE', d)),
});

export function enrollRoutes(authority: Authority): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post('/enroll', async (c) => {
    let model: string | undefined;
    const issued = await authority.enroll({
      readCsr: async () => {
        const body = await jsonBody(c, EnrollBody);
        model = body.hardware_model;
        return csrDer(body.csr);
      },
      credential: basicCredential(c.req.header('authorization')),
      hardwareModel: () => model,
      source: peerAddress(c),
    });
    Object.assign(c.get('logFields'), { device_id: issued.deviceId, cert_serial: issued.serial });
    return c.json(issuedView(issued), 201);
  });
  app.post('/reenroll', async (c) => {
    const issued = await authority.reenroll({
      readCsr: async () => csrDer((await jsonBody(c, ReenrollBody)).csr),
      clientSerial: () => verifiedPeerSerial(c),
      source: peerAddress(c),
    });
    Object.assign(c.get('logFields'), { device_id: issued.deviceId, cert_serial: issued.serial });
    return c.json(issuedView(issued), 201);
  });
  return app;
}
