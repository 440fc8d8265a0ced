import { Hono } from 'hono';
import { EdgesealError } from '../../../lib/errors.ts';
import type { TokenService } from '../../core/tokens.ts';
import type { TransparencyLog } from '../../transparency/tlog.ts';
import { requirePermission } from '../auth.ts';
import type { AppEnv } from '../env.ts';

const int = (v: string | undefined, name: string): number | undefined => {
  if (v === undefined) return undefined;
  if (!/^\d{1,15}$/.test(v))
    throw new EdgesealError('ERR_INVALID_REQUEST', `${name} must be a non-negative integer, got "${v}"`);
  return Number(v);
};

export function tlogRoutes(tlog: TransparencyLog, tokens: TokenService): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', requirePermission(tokens, 'audit.read'));
  app.get('/sth', async (c) => c.json(await tlog.sth()));
  app.get('/inclusion', async (c) => {
    const serial = (c.req.query('serial') ?? '').toLowerCase().replace(/:/g, '');
    if (!/^[0-9a-f]{1,40}$/.test(serial))
      throw new EdgesealError('ERR_INVALID_REQUEST', 'serial must be hex');
    return c.json(await tlog.inclusion(serial, int(c.req.query('tree_size'), 'tree_size')));
  });
  app.get('/consistency', async (c) =>
    c.json(
      await tlog.consistency(
        int(c.req.query('first'), 'first') ?? 0,
        int(c.req.query('second'), 'second') ?? 0,
      ),
    ),
  );
  return app;
}
