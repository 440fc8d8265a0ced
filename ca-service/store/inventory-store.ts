// Finding certificates: filters, cursor pagination (by log index, newest first), and the
// hygiene findings security teams ask for (in the manner of AWS IoT Device Defender audits).
import { and, desc, eq, gt, isNotNull, isNull, lt, lte, type SQL, sql } from 'drizzle-orm';
import { batches, certificates } from '../../migrations/schema/index.ts';
import type { CertificateRecord } from '../core/ports.ts';
import { type Db, rowsOf } from './db.ts';

export interface InventoryFilter {
  readonly serial?: string | undefined;
  readonly deviceId?: string | undefined;
  readonly batchId?: string | undefined;
  readonly hardwareModel?: string | undefined;
  readonly kind?: 'device' | 'server' | 'ocsp' | undefined;
  readonly status?: 'valid' | 'revoked' | 'expired' | undefined;
  readonly expiringWithinDays?: number | undefined;
}

export type InventoryRow = CertificateRecord & { logIndex: number };

export class InventoryStore {
  constructor(private readonly db: Db) {}

  async search(
    f: InventoryFilter,
    now: Date,
    cursor: number | undefined,
    limit: number,
  ): Promise<InventoryRow[]> {
    const c = certificates;
    const where: (SQL | undefined)[] = [
      f.serial ? eq(c.serial, f.serial) : undefined,
      f.deviceId ? eq(c.deviceId, f.deviceId) : undefined,
      f.batchId ? eq(c.batchId, f.batchId) : undefined,
      f.hardwareModel ? eq(c.hardwareModel, f.hardwareModel) : undefined,
      f.kind ? eq(c.kind, f.kind) : undefined,
      f.status === 'revoked' ? isNotNull(c.revokedAt) : undefined,
      f.status === 'valid' ? and(isNull(c.revokedAt), gt(c.notAfter, now)) : undefined,
      f.status === 'expired' ? and(isNull(c.revokedAt), lte(c.notAfter, now)) : undefined,
      f.expiringWithinDays !== undefined
        ? and(
            isNull(c.revokedAt),
            gt(c.notAfter, now),
            lte(c.notAfter, new Date(now.getTime() + f.expiringWithinDays * 86_400_000)),
          )
        : undefined,
      cursor !== undefined ? lt(c.logIndex, cursor) : undefined,
    ];
    return this.db
      .select()
      .from(c)
      .where(and(...where.filter((w): w is SQL => !!w)))
      .orderBy(desc(c.logIndex))
      .limit(limit);
  }

  async findings(now: Date, expiringDays = 30) {
    const soon = new Date(now.getTime() + expiringDays * 86_400_000);
    const c = certificates;
    const [expiring, weak, ofRevokedBatches, sharedKeys] = await Promise.all([
      this.db
        .select({ serial: c.serial, deviceId: c.deviceId, notAfter: c.notAfter })
        .from(c)
        // the control plane's own certificates renew themselves; only devices need a human
        .where(and(eq(c.kind, 'device'), isNull(c.revokedAt), gt(c.notAfter, now), lte(c.notAfter, soon)))
        .orderBy(c.notAfter)
        .limit(1000),
      this.db
        .select({ serial: c.serial, deviceId: c.deviceId, keyType: c.keyType, keyBits: c.keyBits })
        .from(c)
        .where(and(isNull(c.revokedAt), gt(c.notAfter, now), eq(c.keyType, 'rsa'), lt(c.keyBits, 3072)))
        .limit(1000),
      this.db
        .select({ serial: c.serial, deviceId: c.deviceId, batchId: c.batchId })
        .from(c)
        .innerJoin(batches, eq(batches.id, c.batchId))
        .where(and(isNull(c.revokedAt), gt(c.notAfter, now), isNotNull(batches.revokedAt)))
        .limit(1000),
      this.db.execute(sql`select ${c.spkiSha256} as spki_sha256, array_agg(distinct ${c.deviceId}) as devices
        from ${c} where ${c.deviceId} is not null group by ${c.spkiSha256}
        having count(distinct ${c.deviceId}) > 1 limit 1000`),
    ]);
    return {
      expiring,
      weak,
      ofRevokedBatches,
      sharedKeys: rowsOf<{ spki_sha256: string; devices: string[] | string }>(sharedKeys),
    };
  }
}
