import { Hono } from 'hono';
import { EdgesealError } from '../../../lib/errors.ts';
import { toPem } from '../../../lib/pem.ts';
import type { AuthorityStore, CertificateRecord, Clock } from '../../core/ports.ts';
import type { TokenService } from '../../core/tokens.ts';
import { requirePermission } from '../auth.ts';
import type { AppEnv } from '../env.ts';

export const certificateView = (r: CertificateRecord, now: Date) => ({
  serial: r.serial,
  kind: r.kind,
  device_id: r.deviceId,
  batch_id: r.batchId,
  hardware_model: r.hardwareModel,
  subject: r.subject,
  key_type: r.keyType,
  key_bits: r.keyBits,
  spki_sha256: r.spkiSha256,
  not_before: r.notBefore.toISOString(),
  not_after: r.notAfter.toISOString(),
  issued_at: r.issuedAt.toISOString(),
  status: r.revokedAt ? 'revoked' : r.notAfter <= now ? 'expired' : 'valid',
  certificate: toPem('CERTIFICATE', r.der),
});

export function certificateRoutes(store: AuthorityStore, tokens: TokenService, clock: Clock): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/:serial', requirePermission(tokens, 'certificate.read'), async (c) => {
    const serial = c.req.param('serial').toLowerCase().replace(/:/g, '');
    if (!/^[0-9a-f]{1,40}$/.test(serial))
      throw new EdgesealError('ERR_INVALID_REQUEST', `"${serial}" is not a hex serial`);
    const rec = await store.getCertificate(serial);
    if (!rec) throw new EdgesealError('ERR_NOT_FOUND', `no certificate with serial ${serial}`);
    return c.json(certificateView(rec, clock.now()));
  });
  return app;
}
