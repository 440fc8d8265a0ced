import { Hono } from 'hono';
import type { BatchService } from '../../core/batches.ts';
import { batchView, parseDuration } from '../../core/batches.ts';
import type { Clock } from '../../core/ports.ts';
import type { TokenService } from '../../core/tokens.ts';
import { requirePermission } from '../auth.ts';
import type { AppEnv } from '../env.ts';
import { jsonBody } from '../validate.ts';
import { BatchCreateBody } from './schemas.ts';

export function batchRoutes(batches: BatchService, tokens: TokenService, clock: Clock): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post('/', requirePermission(tokens, 'batch.create'), async (c) => {
    const body = await jsonBody(c, BatchCreateBody);
    const { batch, secret } = await batches.create(
      {
        hardwareModel: body.hardware_model,
        quota: body.quota,
        expiresInSeconds: parseDuration(body.expires_in),
        idPrefix: body.id_prefix,
      },
      c.get('principal').actor,
    );
    return c.json({ ...batchView(batch, clock.now()), secret }, 201);
  });
  app.get('/', requirePermission(tokens, 'batch.read'), async (c) =>
    c.json({ items: (await batches.list()).map((b) => batchView(b, clock.now())) }),
  );
  app.get('/:id', requirePermission(tokens, 'batch.read'), async (c) =>
    c.json(batchView(await batches.get(c.req.param('id')), clock.now())),
  );
  app.post('/:id/revoke', requirePermission(tokens, 'batch.revoke'), async (c) =>
    c.json(batchView(await batches.revoke(c.req.param('id'), c.get('principal').actor), clock.now())),
  );
  return app;
}
