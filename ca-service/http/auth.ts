// Authentication middlewares. Each checks its options once and runs per request.
import type { MiddlewareHandler } from 'hono';
import { EdgesealError } from '../../lib/errors.ts';
import type { BatchCredential } from '../core/authority.ts';
import type { Role, TokenService } from '../core/tokens.ts';
import type { AppEnv } from './env.ts';

/** Bearer token whose role is one of `roles` (deny by default). */
export function requireRole(tokens: TokenService, ...roles: Role[]): MiddlewareHandler<AppEnv> {
  if (roles.length === 0) throw new TypeError('requireRole needs at least one role');
  return async (c, next) => {
    const h = c.req.header('authorization') ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(h);
    if (!m)
      throw new EdgesealError(
        'ERR_UNAUTHENTICATED',
        'this endpoint needs an API token (Authorization: Bearer …)',
      );
    const p = await tokens.authenticate(m[1]!);
    c.set('principal', p);
    c.get('logFields').actor = p.actor;
    if (!roles.includes(p.role)) {
      throw new EdgesealError('ERR_FORBIDDEN', `role ${p.role} may not do this; needs ${roles.join(' or ')}`);
    }
    await next();
  };
}

/** HTTP Basic (RFC 7617): user = batch id, password = batch secret. */
export function basicCredential(header: string | undefined): BatchCredential | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { batchId: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}
