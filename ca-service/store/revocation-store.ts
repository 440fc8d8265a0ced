import { and, asc, eq, gt, gte, inArray, isNotNull, isNull, or, sql } from 'drizzle-orm';
import { batches, certificates, crlState, devices } from '../../migrations/schema/index.ts';
import type { AuditEvent } from '../core/ports.ts';
import {
  REASONS,
  type RevocationCause,
  type RevocationPort,
  type RevocationTarget,
  type RevokedEntry,
} from '../core/revocation.ts';
import { appendAuditEvents } from './audit-log.ts';
import type { Db } from './db.ts';
import { lockDevices } from './issuance-store.ts';
import { encodeFeed, REVOCATION_CHANNEL } from '../revocation/feed.ts';

export class RevocationStore implements RevocationPort {
  /** `origin` tags this instance's NOTIFY messages so it can ignore its own */
  constructor(
    private readonly db: Db,
    private readonly origin: string,
  ) {}

  /**
   * Revokes the target, every older certificate of the same device (a certificate cannot
   * outlive its successor) and, for keyCompromise, every certificate with the same key.
   * Takes the batch row and then the device rows (id order) before it reads what to revoke,
   * the locks issuance takes (issuance-store.ts), so a renewal or enrollment racing with
   * this either commits first and is revoked here, or waits and is then refused.
   */
  async revoke(
    target: RevocationTarget,
    at: Date,
    reason: number,
    audit: (serial: string, cause?: RevocationCause) => AuditEvent,
  ) {
    return this.db.transaction(async (tx) => {
      // a serial, device or batch that never existed is a 404, not "0 revoked"
      const [table, column, value] =
        'serial' in target
          ? [certificates, certificates.serial, target.serial]
          : 'deviceId' in target
            ? [devices, devices.id, target.deviceId]
            : [batches, batches.id, target.batchId];
      const exists =
        (await tx.select({ one: sql`1` }).from(table).where(eq(column, value)).limit(1)).length > 0;
      if (!exists) return { revoked: [], alreadyRevoked: 0, targetExists: false };
      if ('batchId' in target) {
        // the credential ends first: an enrollment waiting on this row then finds it revoked
        await tx
          .update(batches)
          .set({ revokedAt: at })
          .where(and(eq(batches.id, target.batchId), isNull(batches.revokedAt)));
      }
      const deviceIds =
        'deviceId' in target
          ? [target.deviceId]
          : 'batchId' in target
            ? (
                await tx.select({ id: devices.id }).from(devices).where(eq(devices.batchId, target.batchId))
              ).map((r) => r.id)
            : (
                await tx
                  .select({ id: certificates.deviceId })
                  .from(certificates)
                  .where(and(eq(certificates.serial, target.serial), eq(certificates.kind, 'device')))
              ).flatMap((r) => (r.id ? [r.id] : []));
      await lockDevices(tx, deviceIds);
      // Read after the locks: under READ COMMITTED each statement sees every commit before it.
      const olderSameDevice =
        'serial' in target
          ? or(
              eq(certificates.serial, target.serial),
              and(
                eq(certificates.kind, 'device'),
                sql`exists (select 1 from certificates t where t.serial = ${target.serial} and t.kind = 'device'
                      and t.device_id = ${certificates.deviceId} and ${certificates.logIndex} < t.log_index)`,
              ),
            )
          : 'deviceId' in target
            ? eq(certificates.deviceId, target.deviceId)
            : eq(certificates.batchId, target.batchId);
      // RFC 5280 §5.3.1 keyCompromise: the key is bad wherever it appears
      const match =
        reason === REASONS.keyCompromise
          ? or(
              olderSameDevice,
              inArray(
                certificates.spkiSha256,
                tx.select({ s: certificates.spkiSha256 }).from(certificates).where(olderSameDevice),
              ),
            )
          : olderSameDevice;
      // counted before the update: these were revoked earlier and stay as they were
      const [already] = await tx
        .select({ n: sql<number>`count(*)::int` })
        .from(certificates)
        .where(and(match, isNotNull(certificates.revokedAt)));
      const targetSpkis = new Set(
        (await tx.select({ s: certificates.spkiSha256 }).from(certificates).where(olderSameDevice)).map(
          (r) => r.s,
        ),
      );
      const rows = await tx
        .update(certificates)
        .set({ revokedAt: at, revocationReason: reason })
        .where(and(match, isNull(certificates.revokedAt)))
        .returning({
          serial: certificates.serial,
          issuerId: certificates.issuerId,
          deviceId: certificates.deviceId,
          spki: certificates.spkiSha256,
        });
      const causeOf = (r: (typeof rows)[number]): RevocationCause | undefined => {
        if (!('serial' in target) || r.serial === target.serial) {
          return 'serial' in target || targetSpkis.has(r.spki) ? undefined : 'same_key';
        }
        return r.deviceId && deviceIds.includes(r.deviceId) ? 'superseded' : 'same_key';
      };
      await appendAuditEvents(
        tx,
        rows.map((r) => audit(r.serial, causeOf(r))),
      );
      const revoked: RevokedEntry[] = rows.map((r) => ({
        serial: r.serial,
        deviceId: r.deviceId,
        issuerId: r.issuerId,
        revokedAt: at,
        reason,
      }));
      // delivered to listeners on commit only (Postgres NOTIFY semantics)
      if (revoked.length) {
        await tx.execute(sql`select pg_notify(${REVOCATION_CHANNEL}, ${encodeFeed(this.origin, revoked)})`);
      }
      return { revoked, alreadyRevoked: already?.n ?? 0, targetExists: true };
    });
  }

  /** All revoked certificates of an issuer, for (re)building its CRL. */
  async revokedOf(issuerId: string): Promise<RevokedEntry[]> {
    const rows = await this.db
      .select({
        serial: certificates.serial,
        deviceId: certificates.deviceId,
        revokedAt: certificates.revokedAt,
        reason: certificates.revocationReason,
      })
      .from(certificates)
      .where(and(eq(certificates.issuerId, issuerId), isNotNull(certificates.revokedAt)))
      .orderBy(certificates.revokedAt);
    return rows.map((r) => ({
      serial: r.serial,
      deviceId: r.deviceId,
      issuerId,
      revokedAt: r.revokedAt!,
      reason: r.reason ?? 0,
    }));
  }

  /**
   * Revocations at or after `since`, oldest first (SSE replay), a page at a time: pass the
   * last entry's time and serial to continue (a batch revocation shares one time).
   */
  async revokedSince(since: Date, afterSerial?: string, limit = 10_000): Promise<RevokedEntry[]> {
    const rows = await this.db
      .select({
        serial: certificates.serial,
        deviceId: certificates.deviceId,
        issuerId: certificates.issuerId,
        revokedAt: certificates.revokedAt,
        reason: certificates.revocationReason,
      })
      .from(certificates)
      .where(
        afterSerial === undefined
          ? gte(certificates.revokedAt, since)
          : or(
              gt(certificates.revokedAt, since),
              and(eq(certificates.revokedAt, since), gt(certificates.serial, afterSerial)),
            ),
      )
      .orderBy(asc(certificates.revokedAt), asc(certificates.serial))
      .limit(limit);
    return rows.map((r) => ({ ...r, revokedAt: r.revokedAt!, reason: r.reason ?? 0 }));
  }

  /** Allocates the next CRL number and stores the CRL made with it, atomically. */
  async publishCrl(
    issuerId: string,
    make: (number: number) => { der: Buffer; thisUpdate: Date; nextUpdate: Date },
  ): Promise<{ number: number; der: Buffer }> {
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(7468203)`);
      const [cur] = await tx
        .select({ number: crlState.number })
        .from(crlState)
        .where(eq(crlState.issuerId, issuerId));
      const number = (cur?.number ?? 0) + 1;
      const crl = make(number);
      const row = { number, thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate };
      await tx
        .insert(crlState)
        .values({ issuerId, ...row })
        .onConflictDoUpdate({ target: crlState.issuerId, set: row });
      return { number, der: crl.der };
    });
  }
}
