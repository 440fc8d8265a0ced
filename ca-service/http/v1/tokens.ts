import { Hono } from 'hono';
import { parseDuration } from '../../core/batches.ts';
import type { Clock } from '../../core/ports.ts';
import { type Role, type TokenService, tokenExpiry, tokenView } from '../../core/tokens.ts';
import { requirePermission } from '../auth.ts';
import type { AppEnv } from '../env.ts';
import { jsonBody } from '../validate.ts';
import { TokenCreateBody } from './schemas.ts';

export function tokenRoutes(tokens: TokenService, clock: Clock): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post('/', requirePermission(tokens, 'token.create'), async (c) => {
    const body = await jsonBody(c, TokenCreateBody);
    const expiresAt =
      body.expires_in === undefined
        ? null
        : tokenExpiry(clock.now(), parseDuration(body.expires_in), body.expires_in);
    const { token, record } = await tokens.create(
      body.role as Role,
      body.label ?? null,
      c.get('principal').actor,
      expiresAt,
    );
    return c.json({ ...tokenView(record, clock.now()), token }, 201);
  });
  app.get('/', requirePermission(tokens, 'token.read'), async (c) =>
    c.json({ items: (await tokens.list()).map((t) => tokenView(t, clock.now())) }),
  );
  app.post('/:id/revoke', requirePermission(tokens, 'token.revoke'), async (c) =>
    c.json(tokenView(await tokens.revoke(c.req.param('id'), c.get('principal').actor), clock.now())),
  );
  return app;
}
