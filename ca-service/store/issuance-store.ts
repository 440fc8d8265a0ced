// AuthorityStore over drizzle: the authority's reads, and its writes through group commit.
import { and, eq, gt, inArray, isNull, sql } from 'drizzle-orm';
import { Batcher, type Settled } from '../../lib/batcher.ts';
import { EdgesealError } from '../../lib/errors.ts';
import { batches, certificates, deviceKeys, devices } from '../../migrations/schema/index.ts';
import type {
  AuditEvent,
  AuthorityStore,
  BatchRecord,
  CertificateRecord,
  IssuanceRecord,
  KeyOwnership,
} from '../core/ports.ts';
import { appendAuditEvents, type Tx } from './audit-log.ts';
import { withLogIndexes } from './tlog-store.ts';
import { type Db, rowsOf } from './db.ts';
import { pgError, UNIQUE_VIOLATION } from './pg-errors.ts';

type Write = { kind: 'issuance'; record: IssuanceRecord } | { kind: 'audit'; event: AuditEvent };

class BatchLimitReached extends Error {
  constructor(readonly batchId: string) {
    super(`batch ${batchId} cannot take more enrollments`);
  }
}

/** The certificate a re-enrollment renews was revoked or superseded before the commit. */
class RenewalRefused extends Error {
  constructor(readonly why: 'revoked' | 'superseded') {
    super(`the certificate being renewed is ${why}`);
  }
}

/**
 * How long a batch row is reused for authentication. Safe because the commit re-checks
 * revocation, expiry and quota inside the issuing transaction.
 */
const BATCH_CACHE_MS = 1000;

export class IssuanceStore implements AuthorityStore {
  private readonly writer = new Batcher<Write, void>((items) => this.writeGroup(items));
  private readonly lookups = new Batcher<{ deviceId: string; spkiSha256: string }, KeyOwnership>((items) =>
    this.lookupGroup(items),
  );
  private readonly batchCache = new Map<string, { at: number; row: BatchRecord | undefined }>();

  constructor(
    private readonly db: Db,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async getBatch(id: string): Promise<BatchRecord | undefined> {
    const t = Date.now();
    const hit = this.batchCache.get(id);
    if (hit && t - hit.at < BATCH_CACHE_MS) return hit.row;
    const [row] = await this.db.select().from(batches).where(eq(batches.id, id)).limit(1);
    if (this.batchCache.size > 10_000) this.batchCache.clear();
    this.batchCache.set(id, { at: t, row });
    return row;
  }

  lookupDeviceAndKey(deviceId: string, spkiSha256: string): Promise<KeyOwnership> {
    return this.lookups.submit({ deviceId, spkiSha256 });
  }

  /** One query per table for a whole group of pre-checks. */
  private async lookupGroup(
    items: readonly { deviceId: string; spkiSha256: string }[],
  ): Promise<Settled<KeyOwnership>[]> {
    const ids = [...new Set(items.map((i) => i.deviceId))];
    const spkis = [...new Set(items.map((i) => i.spkiSha256))];
    const [known, owners] = await Promise.all([
      // ids are unique regardless of case (devices_id_lower_idx): `CAM-1` exists if `cam-1` does
      this.db
        .select({ id: devices.id })
        .from(devices)
        .where(
          inArray(
            sql`lower(${devices.id})`,
            ids.map((i) => i.toLowerCase()),
          ),
        ),
      this.db.select().from(deviceKeys).where(inArray(deviceKeys.spkiSha256, spkis)),
    ]);
    const knownIds = new Set(known.map((r) => r.id.toLowerCase()));
    const ownerOf = new Map(owners.map((r) => [r.spkiSha256, r.deviceId]));
    return items.map((i) => ({
      ok: true,
      value: {
        deviceExists: knownIds.has(i.deviceId.toLowerCase()),
        keyOwner: ownerOf.get(i.spkiSha256) ?? null,
      },
    }));
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

  /**
   * Group commit: one transaction for the whole group. If it fails (a conflict, a batch at
   * its limit), each item is retried alone so only the offending ones fail.
   */
  private async writeGroup(items: readonly Write[]): Promise<Settled<void>[]> {
    try {
      await this.write(items);
      return items.map(() => ({ ok: true, value: undefined }));
    } catch (e) {
      if (items.length === 1) return [{ ok: false, error: await this.explain(e) }];
      const out: Settled<void>[] = [];
      for (const item of items) {
        try {
          await this.write([item]);
          out.push({ ok: true, value: undefined });
        } catch (err) {
          out.push({ ok: false, error: await this.explain(err) });
        }
      }
      return out;
    }
  }

  /** quota, devices, keys, certificates, audit events: all or nothing. */
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
      await checkRenewals(tx, recs);
      const newDevices = recs.flatMap((r) => (r.newDevice ? [r.newDevice] : []));
      if (newDevices.length) await tx.insert(devices).values(newDevices);
      const newKeys = recs.flatMap((r) => (r.newKey ? [r.newKey] : []));
      if (newKeys.length) await tx.insert(deviceKeys).values(newKeys);
      if (recs.length)
        await tx.insert(certificates).values(
          await withLogIndexes(
            tx,
            recs.map((r) => r.certificate),
          ),
        );
      // audit rows in submission order, so `seq` follows the order requests were decided
      await appendAuditEvents(
        tx,
        items.map((i) => (i.kind === 'issuance' ? i.record.audit : i.event)),
      );
    });
  }

  /** The error a single failed write's requester should see. */
  private async explain(e: unknown): Promise<EdgesealError> {
    if (e instanceof BatchLimitReached) return this.explainBatch(e.batchId);
    if (e instanceof RenewalRefused) {
      return e.why === 'revoked'
        ? new EdgesealError('ERR_CERT_REVOKED', 'the client certificate is revoked')
        : new EdgesealError(
            'ERR_CERT_SUPERSEDED',
            "the client certificate has been superseded by a newer one; only a device's newest certificate may re-enroll",
          );
    }
    const pg = pgError(e);
    if (pg?.code === UNIQUE_VIOLATION) {
      if (pg.constraint?.startsWith('devices')) {
        return new EdgesealError('ERR_DEVICE_EXISTS', 'this device id was enrolled by a concurrent request');
      }
      if (pg.constraint?.startsWith('device_keys')) {
        return new EdgesealError(
          'ERR_KEY_REUSED',
          'this public key was registered to another device concurrently',
        );
      }
    }
    return new EdgesealError(
      'ERR_STORE_UNAVAILABLE',
      'the certificate could not be recorded; it was not issued',
      {
        cause: e,
      },
    );
  }

  private async explainBatch(batchId: string): Promise<EdgesealError> {
    this.batchCache.delete(batchId);
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

/**
 * Re-enrollments renew only a device's newest, unrevoked certificate. Checked inside the
 * committing transaction with the device rows locked (revocation takes the same locks,
 * ca-service/store/revocation-store.ts), so revocation and issuance serialise per device:
 * whichever commits second sees the other. Several renewals of one device in one group are
 * taken in order: the second no longer renews the newest and is refused.
 */
async function checkRenewals(tx: Tx, recs: readonly IssuanceRecord[]): Promise<void> {
  const renewals = recs.flatMap((r) => (r.renews ? [r.renews] : []));
  if (!renewals.length) return;
  const ids = [...new Set(renewals.map((r) => r.deviceId))].sort();
  await lockDevices(tx, ids);
  const rows = rowsOf<{ device_id: string; serial: string; revoked: boolean }>(
    await tx.execute(sql`select distinct on (device_id) device_id, serial, revoked_at is not null as revoked
      from certificates where kind = 'device' and device_id in ${ids}
      order by device_id, log_index desc`),
  );
  const newest = new Map(rows.map((r) => [r.device_id, r]));
  for (const r of recs) {
    if (!r.renews) continue;
    const cur = newest.get(r.renews.deviceId);
    if (!cur || cur.serial !== r.renews.serial) {
      // a revoked older certificate is reported as revoked: that is what the device needs to hear
      const [old] = rowsOf<{ revoked: boolean }>(
        await tx.execute(
          sql`select revoked_at is not null as revoked from certificates where serial = ${r.renews.serial}`,
        ),
      );
      throw new RenewalRefused(old?.revoked ? 'revoked' : 'superseded');
    }
    if (cur.revoked) throw new RenewalRefused('revoked');
    newest.set(r.renews.deviceId, {
      device_id: r.renews.deviceId,
      serial: r.certificate.serial,
      revoked: false,
    });
  }
}

/** Row locks on devices, always in id order (the order revocation takes them too). */
export async function lockDevices(tx: Tx, ids: readonly string[]): Promise<void> {
  if (!ids.length) return;
  await tx.execute(sql`select id from devices where id in ${[...ids].sort()} order by id for update`);
}
