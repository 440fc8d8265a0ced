// Telemetry in the database. Ingest goes through group commit (lib/batcher.ts): the messages
// that arrive while a group commits share the next one — one multi-row INSERT … ON CONFLICT
// DO NOTHING into telemetry_messages (the primary key, device and message id, makes delivery
// idempotent: a replayed or redelivered envelope inserts nothing), then, for the rows that
// were new, one read and one upsert of their devices' pictures, in one transaction. The
// caller acknowledges a message only after its group committed.
import { and, asc, eq, gt, inArray, or, type SQL, sql } from 'drizzle-orm';
import { Batcher, type Settled } from '../../lib/batcher.ts';
import {
  certificates,
  deviceAttestation,
  devices,
  deviceTelemetry,
  releases,
  telemetryMessages,
} from '../../migrations/schema/index.ts';
import { type DriftSettings, driftSettingsOf } from '../core/drift.ts';
import type { TelemetryRecord } from '../telemetry/message.ts';
import {
  type DevicePicture,
  fold,
  type LatestInference,
  type LatestInputStats,
} from '../telemetry/picture.ts';
import type { Db } from './db.ts';

export type IngestOutcome = 'stored' | 'replayed';

export interface DeviceFilter {
  readonly hardwareModel?: string | undefined;
  readonly anomalous?: boolean | undefined;
  readonly drifting?: boolean | undefined;
}

export interface DeviceRow {
  readonly id: string;
  readonly hardwareModel: string;
  readonly batchId: string;
  readonly createdAt: Date;
  readonly certificate: {
    readonly serial: string;
    readonly notBefore: Date;
    readonly notAfter: Date;
    readonly revokedAt: Date | null;
  } | null;
  readonly attestation: typeof deviceAttestation.$inferSelect | null;
  readonly telemetry: DevicePicture | null;
}

/** a release's drift settings are read once; an unknown release is asked again after this */
const UNKNOWN_RELEASE_TTL_MS = 60_000;
const MAX_CACHED_RELEASES = 10_000;
/** the largest group: 512 rows × 10 columns stay far below Postgres's 65535 parameters */
const MAX_GROUP = 512;

type TelemetryRow = typeof deviceTelemetry.$inferSelect;

const keyOf = (r: { deviceId: string; messageId: string }) => `${r.deviceId}\u0000${r.messageId}`;
const releaseKey = (r: TelemetryRecord) =>
  r.releaseId !== null
    ? `id:${r.releaseId}`
    : r.modelId !== null && r.modelVersion !== null
      ? `mv:${r.modelId}\u0000${r.modelVersion}`
      : undefined;

function pictureOf(row: TelemetryRow): DevicePicture {
  return {
    deviceId: row.deviceId,
    lastSeenAt: row.lastSeenAt,
    releaseId: row.releaseId,
    modelVersion: row.modelVersion,
    latestInference: row.latestInference ? (JSON.parse(row.latestInference) as LatestInference) : null,
    latestInputStats: row.latestInputStats ? (JSON.parse(row.latestInputStats) as LatestInputStats) : null,
    messages: row.messages,
    anomalies: row.anomalies,
    driftScore: row.driftScore,
    drifting: row.drifting,
  };
}

function rowOf(p: DevicePicture): TelemetryRow {
  return {
    deviceId: p.deviceId,
    lastSeenAt: p.lastSeenAt,
    releaseId: p.releaseId,
    modelVersion: p.modelVersion,
    latestInference: p.latestInference ? JSON.stringify(p.latestInference) : null,
    latestInputStats: p.latestInputStats ? JSON.stringify(p.latestInputStats) : null,
    messages: p.messages,
    anomalies: p.anomalies,
    driftScore: p.driftScore,
    drifting: p.drifting,
  };
}

/** the drift section of a release manifest (a compact JWS verified at publish) */
function manifestDrift(manifest: string): unknown {
  try {
    const payload = JSON.parse(Buffer.from(manifest.split('.')[1] ?? '', 'base64url').toString('utf8'));
    return (payload as { drift?: unknown }).drift;
  } catch {
    return undefined;
  }
}

export class TelemetryStore {
  private readonly ingester = new Batcher<TelemetryRecord, IngestOutcome>(
    (items) => this.ingestGroup(items),
    MAX_GROUP,
  );
  private readonly driftSettings = new Map<string, { value: DriftSettings; known: boolean; at: number }>();

  constructor(
    private readonly db: Db,
    private readonly o: { readonly windowMessages: number; readonly now: () => Date },
  ) {}

  /** Stores a message once; resolves after the commit that holds it. */
  ingest(r: TelemetryRecord): Promise<IngestOutcome> {
    return this.ingester.submit(r);
  }

  private async ingestGroup(items: readonly TelemetryRecord[]): Promise<Settled<IngestOutcome>[]> {
    const outcome: IngestOutcome[] = items.map(() => 'replayed');
    // the same message twice in one group: the first is the candidate, the rest replays
    const seen = new Set<string>();
    const candidates: number[] = [];
    items.forEach((r, i) => {
      const k = keyOf(r);
      if (!seen.has(k)) {
        seen.add(k);
        candidates.push(i);
      }
    });
    const settings = await this.resolveDriftSettings(items);
    await this.db.transaction(async (tx) => {
      const inserted = await tx
        .insert(telemetryMessages)
        .values(
          candidates.map((i) => {
            const r = items[i]!;
            return {
              deviceId: r.deviceId,
              messageId: r.messageId,
              sentAt: r.sentAt,
              receivedAt: r.receivedAt,
              releaseId: r.releaseId,
              modelVersion: r.modelVersion,
              inference: r.inference
                ? JSON.stringify({ ...r.inference, model_id: r.modelId, window: r.window })
                : null,
              inputStats: r.inputStats ? JSON.stringify(r.inputStats) : null,
              anomaly: r.inference?.anomaly === true,
            };
          }),
        )
        .onConflictDoNothing()
        .returning({ deviceId: telemetryMessages.deviceId, messageId: telemetryMessages.messageId });
      const fresh = new Set(inserted.map(keyOf));
      const stored = candidates.filter((i) => fresh.has(keyOf(items[i]!)));
      for (const i of stored) outcome[i] = 'stored';
      if (!stored.length) return;
      const ids = [...new Set(stored.map((i) => items[i]!.deviceId))].sort();
      // rows locked in one order, so two instances' groups cannot deadlock
      const current = await tx
        .select()
        .from(deviceTelemetry)
        .where(inArray(deviceTelemetry.deviceId, ids))
        .orderBy(asc(deviceTelemetry.deviceId))
        .for('update');
      const pictures = new Map<string, DevicePicture>(current.map((row) => [row.deviceId, pictureOf(row)]));
      for (const i of stored) {
        const r = items[i]!;
        pictures.set(
          r.deviceId,
          fold(pictures.get(r.deviceId), r, { ...settings(r), windowMessages: this.o.windowMessages }),
        );
      }
      const t = deviceTelemetry;
      await tx
        .insert(t)
        .values([...pictures.values()].map(rowOf))
        .onConflictDoUpdate({
          target: t.deviceId,
          set: {
            lastSeenAt: sql`excluded.last_seen_at`,
            releaseId: sql`excluded.release_id`,
            modelVersion: sql`excluded.model_version`,
            latestInference: sql`excluded.latest_inference`,
            latestInputStats: sql`excluded.latest_input_stats`,
            messages: sql`excluded.messages`,
            anomalies: sql`excluded.anomalies`,
            driftScore: sql`excluded.drift_score`,
            drifting: sql`excluded.drifting`,
          },
        });
    });
    return outcome.map((value) => ({ ok: true, value }));
  }

  /**
   * Each message's drift threshold and per-class baseline, from its release's manifest (read
   * once per release).
   */
  private async resolveDriftSettings(
    items: readonly TelemetryRecord[],
  ): Promise<(r: TelemetryRecord) => DriftSettings> {
    const now = this.o.now().getTime();
    const missing = new Set<string>();
    for (const r of items) {
      const k = releaseKey(r);
      if (!k || !r.inputStats) continue;
      const c = this.driftSettings.get(k);
      if (!c || (!c.known && now - c.at > UNKNOWN_RELEASE_TTL_MS)) missing.add(k);
    }
    if (missing.size) {
      const ids = [...missing].filter((k) => k.startsWith('id:')).map((k) => k.slice(3));
      const pairs = [...missing]
        .filter((k) => k.startsWith('mv:'))
        .map((k) => k.slice(3).split('\u0000') as [string, string]);
      const where: SQL[] = [];
      if (ids.length) where.push(inArray(releases.id, ids));
      for (const [m, v] of pairs) where.push(and(eq(releases.modelId, m), eq(releases.version, v))!);
      const rows = await this.db
        .select({
          id: releases.id,
          modelId: releases.modelId,
          version: releases.version,
          manifest: releases.manifest,
        })
        .from(releases)
        .where(or(...where));
      if (this.driftSettings.size > MAX_CACHED_RELEASES) this.driftSettings.clear();
      for (const k of missing)
        this.driftSettings.set(k, { value: driftSettingsOf(undefined), known: false, at: now });
      for (const row of rows) {
        const value = driftSettingsOf(manifestDrift(row.manifest));
        for (const k of [`id:${row.id}`, `mv:${row.modelId}\u0000${row.version}`])
          if (missing.has(k)) this.driftSettings.set(k, { value, known: true, at: now });
      }
    }
    return (r) => {
      const k = releaseKey(r);
      return (k && this.driftSettings.get(k)?.value) || driftSettingsOf(undefined);
    };
  }

  /** Enrolled devices with their certificate, attestation and telemetry, by id. */
  async list(f: DeviceFilter, after: string | undefined, limit: number): Promise<DeviceRow[]> {
    const d = devices;
    const t = deviceTelemetry;
    const anomalous = sql`coalesce((${t.latestInference}::jsonb ->> 'anomaly')::boolean, false)`;
    const where = [
      f.hardwareModel !== undefined ? eq(d.hardwareModel, f.hardwareModel) : undefined,
      f.anomalous !== undefined ? sql`${anomalous} = ${f.anomalous}` : undefined,
      f.drifting !== undefined ? sql`coalesce(${t.drifting}, false) = ${f.drifting}` : undefined,
      after !== undefined ? gt(d.id, after) : undefined,
    ].filter((w): w is SQL => !!w);
    const rows = await this.db
      .select({ d, t })
      .from(d)
      .leftJoin(t, eq(t.deviceId, d.id))
      .where(where.length ? and(...where) : undefined)
      .orderBy(asc(d.id))
      .limit(limit);
    return this.complete(rows);
  }

  async get(id: string): Promise<DeviceRow | undefined> {
    const rows = await this.db
      .select({ d: devices, t: deviceTelemetry })
      .from(devices)
      .leftJoin(deviceTelemetry, eq(deviceTelemetry.deviceId, devices.id))
      .where(eq(devices.id, id));
    return (await this.complete(rows))[0];
  }

  private async complete(
    rows: { d: typeof devices.$inferSelect; t: TelemetryRow | null }[],
  ): Promise<DeviceRow[]> {
    if (!rows.length) return [];
    const ids = rows.map((r) => r.d.id);
    const c = certificates;
    const [certs, atts] = await Promise.all([
      this.db
        .selectDistinctOn([c.deviceId], {
          deviceId: c.deviceId,
          serial: c.serial,
          notBefore: c.notBefore,
          notAfter: c.notAfter,
          revokedAt: c.revokedAt,
        })
        .from(c)
        .where(and(eq(c.kind, 'device'), inArray(c.deviceId, ids)))
        .orderBy(c.deviceId, sql`${c.issuedAt} desc`),
      this.db.select().from(deviceAttestation).where(inArray(deviceAttestation.deviceId, ids)),
    ]);
    const cert = new Map(certs.map((x) => [x.deviceId, x]));
    const att = new Map(atts.map((x) => [x.deviceId, x]));
    return rows.map(({ d, t }) => {
      const x = cert.get(d.id);
      return {
        id: d.id,
        hardwareModel: d.hardwareModel,
        batchId: d.batchId,
        createdAt: d.createdAt,
        certificate: x
          ? { serial: x.serial, notBefore: x.notBefore, notAfter: x.notAfter, revokedAt: x.revokedAt }
          : null,
        attestation: att.get(d.id) ?? null,
        telemetry: t ? pictureOf(t) : null,
      };
    });
  }

  /** How many messages are stored for a device (tests, and `devices show`). */
  async storedCount(deviceId: string): Promise<number> {
    const [r] = await this.db
      .select({ n: sql<number>`count(*)::int` })
      .from(telemetryMessages)
      .where(eq(telemetryMessages.deviceId, deviceId));
    return r?.n ?? 0;
  }
}
