// One JSON log line per request with fixed keys; no bodies, tokens or secrets.
import { randomUUID } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import type { AppEnv } from './env.ts';

export function requestLog(log: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const start = performance.now();
    const inbound = c.req.header('x-request-id');
    const requestId = inbound && /^[A-Za-z0-9._-]{1,64}$/.test(inbound) ? inbound : randomUUID();
    const fields: Record<string, unknown> = {};
    c.set('requestId', requestId);
    c.set('log', log);
    c.set('logFields', fields);
    await next();
    c.header('X-Request-Id', requestId);
    log.info({
      request_id: requestId,
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      duration_ms: Math.round((performance.now() - start) * 100) / 100,
      ...fields,
    });
  };
}
