// Gateways announce themselves and how they route: a lease, renewed while they run
// (core/gateway-leases.ts decides who may serve the fleet at once).
import { Hono } from 'hono';
import type { GatewayLease, GatewayLeases } from '../../core/gateway-leases.ts';
import type { TokenService } from '../../core/tokens.ts';
import { requirePermission } from '../auth.ts';
import type { AppEnv } from '../env.ts';
import { jsonBody } from '../validate.ts';
import { GatewayLeaseBody } from './schemas.ts';

const view = (l: GatewayLease) => ({
  id: l.id,
  routing: l.routing,
  upstream: l.upstream,
  started_at: l.startedAt.toISOString(),
  renewed_at: l.renewedAt.toISOString(),
  expires_at: l.expiresAt.toISOString(),
});

export function gatewayRoutes(leases: GatewayLeases, tokens: TokenService): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/', requirePermission(tokens, 'gateway.read'), async (c) =>
    c.json({ items: (await leases.live()).map(view) }),
  );
  app.put('/:id/lease', requirePermission(tokens, 'gateway.lease'), async (c) => {
    const body = await jsonBody(c, GatewayLeaseBody);
    const lease = await leases.acquire(
      { id: c.req.param('id'), routing: body.routing, upstream: body.upstream ?? null },
      c.get('principal').actor,
    );
    return c.json(view(lease));
  });
  app.delete('/:id/lease', requirePermission(tokens, 'gateway.lease'), async (c) => {
    await leases.release(c.req.param('id'), c.get('principal').actor);
    return c.body(null, 204);
  });
  return app;
}
