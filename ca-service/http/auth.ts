// Authentication middlewares. Each checks its options once and runs per request.
import type { MiddlewareHandler } from 'hono';
import type { BatchCredential } from '../core/authority.ts';
import { PERMISSIONS, type Permission } from '../core/permissions.ts';
import type { TokenService } from '../core/tokens.ts';
import type { AppEnv } from './env.ts';
import { peerAddress } from './tls-peer.ts';

/** A bearer token allowed `permission` (deny by default; refusals are audited by the core). */
export function requirePermission(tokens: TokenService, permission: Permission): MiddlewareHandler<AppEnv> {
  if (!(permission in PERMISSIONS)) throw new TypeError(`unknown permission ${permission}`);
  return async (c, next) => {
    const m = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '');
    const p = await tokens.authorize(m?.[1], permission, peerAddress(c));
    c.set('principal', p);
    c.get('logFields').actor = p.actor;
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
