// AuthorityStore over drizzle: the authority's reads, and its writes through group commit.
import { and, eq, gt, isNull, sql } from 'drizzle-orm';
import { EdgesealError } from '../../lib/errors.ts';
import { auditEvents, batches, certificates, deviceKeys, devices } from '../../migrations/schema/index.ts';
import type {
  AuditEvent,
  AuthorityStore,
  BatchRecord,
  CertificateRecord,
  IssuanceRecord,
  KeyOwnership,
} from '../core/ports.ts';
import { auditRow } from './audit-rows.ts';
import { type Db, rowsOf } from './db.ts';
import { GroupCommit } from './group-commit.ts';
import { pgError, UNIQUE_VIOLATION } from './pg-errors.ts';

type Write = { kind: 'issuance'; record: IssuanceRecord } | { kind: 'audit'; event: AuditEvent };

class BatchLimitReached extends Error {
  constructor(readonly batchId: string) {
    super(`batch ${batchId} cannot take more enrollments`);
  }
}

export class IssuanceStore implements AuthorityStore {
  private readonly writer: GroupCommit<Write>;

  constructor(
    private readonly db: Db,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.writer = new GroupCommit<Write>(
      (items) => this.write(items),
      (item) => this.writeOneExplained(item),
    );
  }

  async getBatch(id: string): Promise<BatchRecord | undefined> {
    const [row] = await this.db.select().from(batches).where(eq(batches.id, id)).limit(1);
    return row;
  }

  async lookupDeviceAndKey(deviceId: string, spkiSha256: string): Promise<KeyOwnership> {
    const [row] = rowsOf<{ device_exists: boolean; key_owner: string | null }>(
      await this.db.execute(sql`select
        exists(select 1 from ${devices} where ${devices.id} = ${deviceId}) as device_exists,
        (select ${deviceKeys.deviceId} from ${deviceKeys} where ${deviceKeys.spkiSha256} = ${spkiSha256}) as key_owner`),
    );
    return { deviceExists: !!row?.device_exists, keyOwner: row?.key_owner ?? null };
  }

  async getCertificate(serial: string): Promise<CertificateRecord | undefined> {
    const [row] = await this.db.select().from(certificates).where(eq(certificates.serial, serial)).limit(1);
    return row;
  }

  commitIssuance(record: IssuanceRecord): Promise<void> {
    return this.writer.submit({ kind: 'issuance', record });
  }

  appendAudit(event: AuditEvent): Promise<void> {
    return this.writer.submit({ kind: 'audit', event });
  }

  /** One transaction for a whole group: quota, devices, keys, certificates, audit events. */
  private async write(items: readonly Write[]): Promise<void> {
    const recs = items.flatMap((i) => (i.kind === 'issuance' ? [i.record] : []));
    const increments = new Map<string, number>();
    for (const r of recs)
      if (r.newDevice) increments.set(r.newDevice.batchId, (increments.get(r.newDevice.batchId) ?? 0) + 1);
    const now = this.now();
    await this.db.transaction(async (tx) => {
      for (const [batchId, k] of increments) {
        const ok = await tx
          .update(batches)
          .set({ enrolled: sql`${batches.enrolled} + ${k}` })
          .where(
            and(
              eq(batches.id, batchId),
              isNull(batches.revokedAt),
              gt(batches.expiresAt, now),
              sql`${batches.enrolled} + ${k} <= ${batches.quota}`,
            ),
          )
          .returning({ id: batches.id });
        if (ok.length === 0) throw new BatchLimitReached(batchId);
      }
      const newDevices = recs.flatMap((r) => (r.newDevice ? [r.newDevice] : []));
      if (newDevices.length) await tx.insert(devices).values(newDevices);
      const newKeys = recs.flatMap((r) => (r.newKey ? [r.newKey] : []));
      if (newKeys.length) await tx.insert(deviceKeys).values(newKeys);
      if (recs.length) await tx.insert(certificates).values(recs.map((r) => r.certificate));
      // audit rows in submission order, so `seq` follows the order requests were decided
      await tx
        .insert(auditEvents)
        .values(items.map((i) => auditRow(i.kind === 'issuance' ? i.record.audit : i.event)));
    });
  }

  /** A single write whose failure is turned into the error its requester should see. */
  private async writeOneExplained(item: Write): Promise<void> {
    try {
      await this.write([item]);
    } catch (e) {
      if (e instanceof BatchLimitReached) throw await this.explainBatch(e.batchId);
      const pg = pgError(e);
      if (pg?.code === UNIQUE_VIOLATION) {
        if (pg.constraint?.startsWith('devices')) {
          throw new EdgesealError('ERR_DEVICE_EXISTS', 'this device id was enrolled by a concurrent request');
        }
        if (pg.constraint?.startsWith('device_keys')) {
          throw new EdgesealError(
            'ERR_KEY_REUSED',
            'this public key was registered to another device concurrently',
          );
        }
      }
      throw new EdgesealError(
        'ERR_STORE_UNAVAILABLE',
        'the certificate could not be recorded; it was not issued',
        { cause: e },
      );
    }
  }

  private async explainBatch(batchId: string): Promise<EdgesealError> {
    const b = await this.getBatch(batchId);
    if (!b) return new EdgesealError('ERR_UNAUTHENTICATED', 'unknown batch');
    if (b.revokedAt) return new EdgesealError('ERR_BATCH_REVOKED', `batch ${b.id} has been revoked`);
    if (b.expiresAt <= this.now()) return new EdgesealError('ERR_BATCH_EXPIRED', `batch ${b.id} has expired`);
    return new EdgesealError(
      'ERR_BATCH_QUOTA_EXHAUSTED',
      `batch ${b.id} has used its quota of ${b.quota} devices`,
    );
  }
}
