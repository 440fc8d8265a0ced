// Challenges and results in the database. The hot path (store a challenge; consume its nonce
// and record the result) goes through group commit (lib/batcher.ts): concurrent appraisals
// share one statement per step and one transaction per group.
import { and, desc, eq, gt, inArray, lt, sql } from 'drizzle-orm';
import { Batcher, type Settled } from '../../lib/batcher.ts';
import {
  attestationNonces,
  attestationResults,
  contentKeys,
  deviceAttestation,
  devices,
  firmwareDenied,
  firmwareReferences,
  attestationPolicies,
} from '../../migrations/schema/index.ts';
import type {
  AttestationPort,
  NonceRecord,
  NonceVerdict,
  ReferenceSnapshot,
  ResultRecord,
} from '../core/attestation-service.ts';
import type { DeviceAttestationState } from '../core/firmware.ts';
import type { AuditEvent } from '../core/ports.ts';
import { appendAuditEvents, type Tx } from './audit-log.ts';
import type { Db } from './db.ts';

export type ResultRow = typeof attestationResults.$inferInsert;
export type StoredResult = typeof attestationResults.$inferSelect;

/** One appraisal to commit: its nonce to use up, then its result and audit event. */
interface Appraised {
  readonly nonceHash: string;
  readonly deviceId: string;
  readonly at: Date;
  readonly result: ResultRecord;
  readonly audit: AuditEvent;
}

export class AttestationStore implements AttestationPort {
  private readonly issuer = new Batcher<NonceRecord, void>((items) => this.issueGroup(items));
  private readonly appraisals = new Batcher<Appraised, NonceVerdict>((items) => this.appraisalGroup(items));
  private lastSweep = 0;

  constructor(private readonly db: Db) {}

  /** Stores a challenge; concurrent challenges share one multi-row INSERT. */
  issueNonce(n: NonceRecord): Promise<void> {
    return this.issuer.submit(n);
  }

  private async issueGroup(items: readonly NonceRecord[]): Promise<Settled<void>[]> {
    // measured (bench/attest.ts, PGlite): ~0.9 ms of CPU per single-row INSERT, ~0.1 ms per row
    // in a group of 32 — one INSERT per challenge was the most expensive step of a round
    await this.db.insert(attestationNonces).values([...items]);
    // used and expired challenges are kept a while for the "replayed" answer, then dropped
    const t = items[0]!.createdAt.getTime();
    if (t - this.lastSweep > 60_000) {
      this.lastSweep = t;
      await this.db.delete(attestationNonces).where(lt(attestationNonces.expiresAt, new Date(t - 3_600_000)));
    }
    return items.map(() => ({ ok: true, value: undefined }));
  }

  /**
   * Uses up the nonce and, only if that worked, stores the signed result, makes it the
   * device's latest and appends its audit event — one transaction, shared by the appraisals
   * that arrive together (one group and one commit per burst, not two).
   */
  consumeAndRecord(
    nonce: { nonceHash: string; deviceId: string; at: Date },
    result: ResultRecord,
    audit: AuditEvent,
  ): Promise<NonceVerdict> {
    return this.appraisals.submit({ ...nonce, result, audit });
  }

  private async appraisalGroup(items: readonly Appraised[]): Promise<Settled<NonceVerdict>[]> {
    return this.db.transaction(async (tx) => {
      const verdicts = await consume(tx, items);
      const won = items.filter((_, i) => verdicts[i] === 'ok');
      if (won.length) await record(tx, won);
      return verdicts.map((value): Settled<NonceVerdict> => ({ ok: true, value }));
    });
  }

  /** The reference values of one model (a handful of rows; cached briefly by the caller). */
  async snapshot(hardwareModel: string): Promise<ReferenceSnapshot> {
    const [refs, denied, [policy]] = await Promise.all([
      this.db.select().from(firmwareReferences).where(eq(firmwareReferences.hardwareModel, hardwareModel)),
      this.db.select({ sha256: firmwareDenied.sha256 }).from(firmwareDenied),
      this.db.select().from(attestationPolicies).where(eq(attestationPolicies.hardwareModel, hardwareModel)),
    ]);
    const view = (r: (typeof refs)[number]) => ({
      sha256: r.sha256,
      version: r.version,
      svn: r.svn,
      retired: r.retiredAt !== null,
    });
    return {
      firmware: refs.filter((r) => r.component === 'firmware').map(view),
      agents: refs.filter((r) => r.component === 'agent').map(view),
      denied: new Set(denied.map((d) => d.sha256)),
      minSvn: policy?.minSvn ?? undefined,
    };
  }

  async latest(
    deviceId: string,
  ): Promise<{ state: typeof deviceAttestation.$inferSelect; result: StoredResult } | undefined> {
    const [state] = await this.db
      .select()
      .from(deviceAttestation)
      .where(eq(deviceAttestation.deviceId, deviceId));
    if (!state) return undefined;
    const [result] = await this.db
      .select()
      .from(attestationResults)
      .where(eq(attestationResults.id, state.resultId));
    return result ? { state, result } : undefined;
  }

  /** The latest result of every device (or one), newest first. */
  async statuses(deviceId?: string, limit = 1000): Promise<StoredResult[]> {
    const rows = await this.db
      .select({ r: attestationResults })
      .from(deviceAttestation)
      .innerJoin(attestationResults, eq(attestationResults.id, deviceAttestation.resultId))
      .where(deviceId ? eq(deviceAttestation.deviceId, deviceId) : undefined)
      .orderBy(desc(deviceAttestation.issuedAt))
      .limit(limit);
    return rows.map((x) => x.r);
  }

  /** Every device's unexpired state, for a gateway's initial view. */
  async liveStates(now: Date): Promise<DeviceAttestationState[]> {
    return this.db
      .select({
        deviceId: deviceAttestation.deviceId,
        hardwareModel: deviceAttestation.hardwareModel,
        status: deviceAttestation.status,
        expiresAt: deviceAttestation.expiresAt,
      })
      .from(deviceAttestation)
      .where(gt(deviceAttestation.expiresAt, now));
  }

  async deviceModel(deviceId: string): Promise<string | undefined> {
    const [d] = await this.db
      .select({ m: devices.hardwareModel })
      .from(devices)
      .where(eq(devices.id, deviceId));
    return d?.m;
  }

  /** Tells the other instances on this database (LISTEN in ca-service/attestation/start.ts). */
  async notify(channel: string, payload: string): Promise<void> {
    await this.db.execute(sql`select pg_notify(${channel}, ${payload})`);
  }

  async contentKey(id: string): Promise<typeof contentKeys.$inferSelect | undefined> {
    const [k] = await this.db.select().from(contentKeys).where(eq(contentKeys.id, id));
    return k;
  }

  async createContentKey(row: typeof contentKeys.$inferInsert, audit: AuditEvent): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.insert(contentKeys).values(row);
      await appendAuditEvents(tx, [audit]);
    });
  }
}

/** Single use across instances: the UPDATE that marks a nonce consumed is the check. */
async function consume(tx: Tx, items: readonly Appraised[]): Promise<NonceVerdict[]> {
  const at = items[0]!.at;
  const used = await tx
    .update(attestationNonces)
    .set({ consumedAt: at })
    .where(
      and(
        // only the device the challenge was issued to can use it up
        sql`(${attestationNonces.nonceHash}, ${attestationNonces.deviceId}) in (${sql.join(
          items.map((i) => sql`(${i.nonceHash}, ${i.deviceId})`),
          sql`, `,
        )})`,
        sql`${attestationNonces.consumedAt} is null`,
        gt(attestationNonces.expiresAt, at),
      ),
    )
    .returning({ h: attestationNonces.nonceHash, d: attestationNonces.deviceId });
  const won = new Map(used.map((u) => [u.h, u.d]));
  const losers = items.filter((i) => !won.has(i.nonceHash)).map((i) => i.nonceHash);
  const known = losers.length
    ? new Map(
        (await tx.select().from(attestationNonces).where(inArray(attestationNonces.nonceHash, losers))).map(
          (r) => [r.nonceHash, r],
        ),
      )
    : new Map();
  const granted = new Set<string>();
  return items.map((i): NonceVerdict => {
    const owner = won.get(i.nonceHash);
    if (owner !== undefined) {
      if (owner !== i.deviceId) return 'unknown';
      // the same nonce twice in one group: the first wins, the second is a replay
      if (granted.has(i.nonceHash)) return 'replayed';
      granted.add(i.nonceHash);
      return 'ok';
    }
    const row = known.get(i.nonceHash);
    if (!row || row.deviceId !== i.deviceId) return 'unknown';
    return row.consumedAt ? 'replayed' : 'expired';
  });
}

/** Stores signed results, makes each the device's latest, appends their audit events. */
async function record(tx: Tx, items: readonly Appraised[]): Promise<void> {
  await tx.insert(attestationResults).values(items.map((i) => i.result));
  // the latest per device: a group may hold two results of one device, keep the last
  const latest = new Map(items.map((i) => [i.result.deviceId, i.result]));
  const rows = [...latest.values()].map((r) => ({
    deviceId: r.deviceId,
    resultId: r.id,
    hardwareModel: r.hardwareModel,
    status: r.status,
    firmwareSha256: r.firmwareSha256 ?? null,
    firmwareSvn: r.firmwareSvn ?? null,
    issuedAt: r.issuedAt,
    expiresAt: r.expiresAt,
  }));
  await tx
    .insert(deviceAttestation)
    .values(rows)
    .onConflictDoUpdate({
      target: deviceAttestation.deviceId,
      set: {
        resultId: sql`excluded.result_id`,
        hardwareModel: sql`excluded.hardware_model`,
        status: sql`excluded.status`,
        firmwareSha256: sql`excluded.firmware_sha256`,
        firmwareSvn: sql`excluded.firmware_svn`,
        issuedAt: sql`excluded.issued_at`,
        expiresAt: sql`excluded.expires_at`,
      },
    });
  await appendAuditEvents(
    tx,
    items.map((i) => i.audit),
  );
}
