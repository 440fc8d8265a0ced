import { Hono } from 'hono';
import { EdgesealError } from '../../../lib/errors.ts';
import { toPem } from '../../../lib/pem.ts';
import type { TokenService } from '../../core/tokens.ts';
import type { LogKey } from '../../keys/hierarchy.ts';
import type { AuditLogStore } from '../../store/audit-log.ts';
import { requirePermission } from '../auth.ts';
import type { AppEnv } from '../env.ts';

const MAX_PAGE = 5000;

export function auditRoutes(store: AuditLogStore, logKey: LogKey, tokens: TokenService): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', requirePermission(tokens, 'audit.read'));
  app.get('/events', async (c) => {
    const after = Number(c.req.query('after') ?? '0');
    const limit = Number(c.req.query('limit') ?? '1000');
    if (!Number.isSafeInteger(after) || after < 0)
      throw new EdgesealError('ERR_INVALID_REQUEST', 'after must be a sequence number ≥ 0');
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
      throw new EdgesealError('ERR_INVALID_REQUEST', `limit must be 1–${MAX_PAGE}`);
    }
    const items = await store.page(after, limit);
    return c.json({ items, next_after: items.length === limit ? items.at(-1)!.seq : null });
  });
  app.get('/head', async (c) => c.json({ head: await store.head() }));
  app.get('/checkpoints', async (c) =>
    c.json({
      key_id: logKey.id,
      public_key: toPem('PUBLIC KEY', logKey.publicKeyDer),
      items: (await store.checkpoints()).map((k) => ({
        seq: k.seq,
        hash: k.hash,
        at: k.at.toISOString(),
        signature: k.signature.toString('base64'),
        key_id: k.keyId,
      })),
    }),
  );
  return app;
}
