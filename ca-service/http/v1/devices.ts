// Fleet state: GET /v1/devices (filters, cursor pagination by device id) and
// GET /v1/devices/{id}: each device's certificate, attestation, model, latest inference,
// anomalies, input statistics and drift verdict. Read-only.
import { Hono } from 'hono';
import { z } from 'zod';
import { EdgesealError } from '../../../lib/errors.ts';
import type { Clock } from '../../core/ports.ts';
import type { TokenService } from '../../core/tokens.ts';
import type { TelemetryStore } from '../../store/telemetry-store.ts';
import { deviceView } from '../../telemetry/device-view.ts';
import { requirePermission } from '../auth.ts';
import type { AppEnv } from '../env.ts';

const flag = z.enum(['true', 'false'], { error: 'must be true or false' });

export const DevicesQuery = z
  .object({
    hardware_model: z.string().min(1).max(64).optional(),
    anomalous: flag.optional(),
    drifting: flag.optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    /** next_cursor of the previous page */
    cursor: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,200}$/, 'must be a next_cursor value')
      .optional(),
  })
  .strict();

const asBool = (v: 'true' | 'false' | undefined) => (v === undefined ? undefined : v === 'true');

export function deviceRoutes(store: TelemetryStore, tokens: TokenService, clock: Clock): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/', requirePermission(tokens, 'device.read'), async (c) => {
    const parsed = DevicesQuery.safeParse(c.req.query());
    if (!parsed.success) {
      throw new EdgesealError(
        'ERR_INVALID_REQUEST',
        parsed.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; '),
      );
    }
    const q = parsed.data;
    const after = q.cursor === undefined ? undefined : Buffer.from(q.cursor, 'base64url').toString('utf8');
    const rows = await store.list(
      { hardwareModel: q.hardware_model, anomalous: asBool(q.anomalous), drifting: asBool(q.drifting) },
      after,
      q.limit,
    );
    const now = clock.now();
    return c.json({
      items: rows.map((r) => deviceView(r, now)),
      next_cursor: rows.length === q.limit ? Buffer.from(rows.at(-1)!.id).toString('base64url') : null,
    });
  });
  app.get('/:id', requirePermission(tokens, 'device.read'), async (c) => {
    const id = c.req.param('id');
    const row = id.length <= 128 ? await store.get(id) : undefined;
    if (!row) throw new EdgesealError('ERR_NOT_FOUND', 'no such device');
    return c.json(deviceView(row, clock.now(), true));
  });
  return app;
}
