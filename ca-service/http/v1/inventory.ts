// Inventory search with cursor pagination and CSV/JSON export, and hygiene findings.
import { Hono } from 'hono';
import { z } from 'zod';
import { EdgesealError } from '../../../lib/errors.ts';
import type { Clock } from '../../core/ports.ts';
import type { TokenService } from '../../core/tokens.ts';
import type { InventoryStore } from '../../store/inventory-store.ts';
import { requirePermission } from '../auth.ts';
import type { AppEnv } from '../env.ts';
import { certificateView } from './certificates.ts';

export const InventoryQuery = z
  .object({
    serial: z
      .string()
      .regex(/^[0-9a-fA-F:]{1,60}$/)
      .optional(),
    device_id: z.string().max(64).optional(),
    batch_id: z.string().max(64).optional(),
    hardware_model: z.string().max(64).optional(),
    kind: z.enum(['device', 'server', 'ocsp']).optional(),
    status: z.enum(['valid', 'revoked', 'expired']).optional(),
    expiring_within_days: z.coerce.number().int().min(0).max(3650).optional(),
    cursor: z.coerce.number().int().min(0).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    format: z.enum(['json', 'csv']).default('json'),
  })
  .strict();

const CSV_COLUMNS = [
  'serial',
  'kind',
  'device_id',
  'batch_id',
  'hardware_model',
  'status',
  'key_type',
  'not_before',
  'not_after',
  'issued_at',
] as const;
const csvCell = (v: unknown) => {
  const s = v === null || v === undefined ? '' : String(v);
  // RFC 4180 quoting; a leading =,+,-,@ is prefixed so spreadsheets do not run it as a formula
  const safe = /^[=+\-@]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
};

export function inventoryRoutes(store: InventoryStore, tokens: TokenService, clock: Clock): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/certificates', requirePermission(tokens, 'certificate.read'), async (c) => {
    const parsed = InventoryQuery.safeParse(c.req.query());
    if (!parsed.success) {
      throw new EdgesealError(
        'ERR_INVALID_REQUEST',
        parsed.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; '),
      );
    }
    const q = parsed.data;
    const now = clock.now();
    const filter = {
      serial: q.serial?.toLowerCase().replace(/:/g, ''),
      deviceId: q.device_id,
      batchId: q.batch_id,
      hardwareModel: q.hardware_model,
      kind: q.kind,
      status: q.status,
      expiringWithinDays: q.expiring_within_days,
    };
    if (q.format === 'csv') {
      // export everything that matches, page by page
      const lines = [CSV_COLUMNS.join(',')];
      let cursor: number | undefined;
      for (;;) {
        const page = await store.search(filter, now, cursor, 1000);
        for (const r of page) {
          const v = certificateView(r, now) as Record<string, unknown>;
          lines.push(CSV_COLUMNS.map((k) => csvCell(v[k])).join(','));
        }
        if (page.length < 1000) break;
        cursor = page.at(-1)!.logIndex;
      }
      return c.body(`${lines.join('\r\n')}\r\n`, 200, {
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': 'attachment; filename="certificates.csv"',
      });
    }
    const page = await store.search(filter, now, q.cursor, q.limit);
    return c.json({
      items: page.map((r) => {
        const { certificate: _pem, ...rest } = certificateView(r, now);
        return rest;
      }),
      next_cursor: page.length === q.limit ? page.at(-1)!.logIndex : null,
    });
  });

  app.get('/findings', requirePermission(tokens, 'certificate.read'), async (c) => {
    const days = Number(c.req.query('expiring_days') ?? '30');
    if (!Number.isInteger(days) || days < 1 || days > 3650)
      throw new EdgesealError('ERR_INVALID_REQUEST', 'expiring_days must be 1–3650');
    const f = await store.findings(clock.now(), days);
    const findings = [
      ...f.sharedKeys.map((k) => ({
        type: 'shared-key',
        severity: 'high',
        subject: k.spki_sha256,
        detail: `one public key is used by devices ${Array.isArray(k.devices) ? k.devices.join(', ') : k.devices}`,
      })),
      ...f.ofRevokedBatches.map((r) => ({
        type: 'valid-cert-of-revoked-batch',
        severity: 'high',
        subject: r.serial,
        detail: `device ${r.deviceId} still holds a valid certificate from revoked batch ${r.batchId}`,
      })),
      ...f.weak.map((r) => ({
        type: 'weak-key',
        severity: 'medium',
        subject: r.serial,
        detail: `device ${r.deviceId} uses RSA-${r.keyBits} (below 128-bit security; prefer P-256 or Ed25519)`,
      })),
      ...f.expiring.map((r) => ({
        type: 'expiring-soon',
        severity: 'low',
        subject: r.serial,
        detail: `${r.deviceId ?? 'certificate'} expires ${r.notAfter.toISOString()}`,
      })),
    ];
    return c.json({ generated_at: clock.now().toISOString(), expiring_days: days, findings });
  });
  return app;
}
