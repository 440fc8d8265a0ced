import { Hono } from 'hono';
import type { z } from 'zod';
import { EdgesealError } from '../../../lib/errors.ts';
import {
  parseReason,
  reasonName,
  type RevocationService,
  type RevocationTarget,
} from '../../core/revocation.ts';
import type { TokenService } from '../../core/tokens.ts';
import { requirePermission } from '../auth.ts';
import type { AppEnv } from '../env.ts';
import { jsonBody } from '../validate.ts';
import { RevokeBody } from './schemas.ts';

const MAX_LISTED = 1000;

export function revocationRoutes(revocations: RevocationService, tokens: TokenService): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post('/', requirePermission(tokens, 'certificate.revoke'), async (c) => {
    const body: z.infer<typeof RevokeBody> = await jsonBody(c, RevokeBody);
    const given = (['serial', 'device_id', 'batch_id'] as const).filter((k) => body[k] !== undefined);
    if (given.length !== 1) {
      throw new EdgesealError('ERR_INVALID_REQUEST', 'give exactly one of serial, device_id, batch_id');
    }
    const target: RevocationTarget = body.serial
      ? { serial: body.serial.toLowerCase().replace(/:/g, '') }
      : body.device_id
        ? { deviceId: body.device_id }
        : { batchId: body.batch_id! };
    const reason = parseReason(body.reason);
    const r = await revocations.revoke(target, reason, c.get('principal').actor);
    c.get('logFields').revoked = r.revoked.length;
    return c.json({
      revoked: r.revoked.length,
      already_revoked: r.alreadyRevoked,
      reason: reasonName(reason),
      serials: r.revoked.slice(0, MAX_LISTED).map((e) => e.serial),
    });
  });
  return app;
}
