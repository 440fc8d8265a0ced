// Reference values and per-model policy in the database. A change that makes stored
// measurements worse (deny, a higher minimum SVN, retire) re-appraises the latest result of
// every device it touches in the same transaction, so the new state is committed with the
// change and pushed to gateways at once (ca-service/attestation/attestation-feed.ts).
import { and, count, eq, inArray, isNull, lt, sql } from 'drizzle-orm';
import {
  attestationPolicies,
  attestationResults,
  deviceAttestation,
  firmwareDenied,
  firmwareReferences,
} from '../../migrations/schema/index.ts';
import { newId } from '../core/credentials.ts';
import type {
  DeniedDigest,
  DeviceAttestationState,
  FirmwarePort,
  FirmwareRef,
  ModelPolicy,
  ModelRequirement,
  PolicyEffect,
  RequiredMode,
} from '../core/firmware.ts';
import type { AuditEvent } from '../core/ports.ts';
import { EdgesealError } from '../../lib/errors.ts';
import { appendAuditEvents, type Tx } from './audit-log.ts';
import { type Db, rowsOf } from './db.ts';
import { pgError, UNIQUE_VIOLATION } from './pg-errors.ts';

/** AR4SI executables: 33 = a known but worse-than-wanted build (warning), 96 = contraindicated. */
const EXECUTABLES_WARNING = 33;
const EXECUTABLES_CONTRAINDICATED = 96;

type Downgrade = { status: 'warning' | 'contraindicated'; code: string; detail: string };

export class FirmwareStore implements FirmwarePort {
  constructor(private readonly db: Db) {}

  async add(ref: FirmwareRef, audit: AuditEvent): Promise<PolicyEffect> {
    try {
      return await this.db.transaction(async (tx) => {
        const before = await requirementOf(tx, ref.hardwareModel);
        await tx.insert(firmwareReferences).values(ref);
        await appendAuditEvents(tx, [audit]);
        return { devices: [], models: await changed(tx, ref.hardwareModel, before) };
      });
    } catch (e) {
      if (pgError(e)?.code === UNIQUE_VIOLATION) {
        throw new EdgesealError(
          'ERR_FIRMWARE_EXISTS',
          `hardware model ${ref.hardwareModel} already lists ${ref.component} ${ref.sha256}`,
        );
      }
      throw e;
    }
  }

  deny(d: DeniedDigest, audit: AuditEvent) {
    return this.db.transaction(async (tx) => {
      const inserted = await tx
        .insert(firmwareDenied)
        .values(d)
        .onConflictDoNothing()
        .returning({ sha256: firmwareDenied.sha256 });
      if (!inserted.length) return { devices: [], models: [], alreadyDenied: true };
      await appendAuditEvents(tx, [audit]);
      const devices = await reappraise(
        tx,
        eq(deviceAttestation.firmwareSha256, d.sha256),
        d.deniedAt,
        () => ({
          status: 'contraindicated',
          code: 'FirmwareDenied',
          detail: `firmware ${d.sha256} has been deny-listed${d.reason ? `: ${d.reason}` : ''}`,
        }),
      );
      return { devices, models: [], alreadyDenied: false };
    });
  }

  setPolicy(
    model: string,
    change: { minSvn?: number; required?: RequiredMode },
    at: Date,
    actor: string,
    audit: AuditEvent,
  ) {
    return this.db.transaction(async (tx) => {
      const before = await requirementOf(tx, model);
      const set = {
        ...(change.minSvn !== undefined ? { minSvn: change.minSvn } : {}),
        ...(change.required !== undefined ? { required: change.required } : {}),
        updatedAt: at,
        updatedBy: actor,
      };
      const [policy] = await tx
        .insert(attestationPolicies)
        .values({ hardwareModel: model, minSvn: null, required: 'auto', ...set })
        .onConflictDoUpdate({ target: attestationPolicies.hardwareModel, set })
        .returning();
      await appendAuditEvents(tx, [audit]);
      const min = policy!.minSvn;
      const devices =
        change.minSvn !== undefined && min !== null
          ? await reappraise(
              tx,
              and(eq(deviceAttestation.hardwareModel, model), lt(deviceAttestation.firmwareSvn, min))!,
              at,
              (row) => ({
                status: 'contraindicated',
                code: 'BelowMinimumSvn',
                detail: `firmware SVN ${row.firmwareSvn} is below the minimum ${min} for ${model}`,
              }),
            )
          : [];
      return { devices, models: await changed(tx, model, before), policy: policy as ModelPolicy };
    });
  }

  retire(id: string, at: Date, actor: string, audit: AuditEvent) {
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .select()
        .from(firmwareReferences)
        .where(eq(firmwareReferences.id, id))
        .for('update');
      if (!row) return undefined;
      if (row.retiredAt) return { ref: row as FirmwareRef, devices: [], models: [] };
      const before = await requirementOf(tx, row.hardwareModel);
      const [ref] = await tx
        .update(firmwareReferences)
        .set({ retiredAt: at, retiredBy: actor })
        .where(eq(firmwareReferences.id, id))
        .returning();
      await appendAuditEvents(tx, [audit]);
      const devices =
        row.component === 'firmware'
          ? await reappraise(
              tx,
              and(
                eq(deviceAttestation.hardwareModel, row.hardwareModel),
                eq(deviceAttestation.firmwareSha256, row.sha256),
                eq(deviceAttestation.status, 'affirming'),
              )!,
              at,
              () => ({
                status: 'warning',
                code: 'FirmwareRetired',
                detail: `firmware ${row.version} (${row.sha256}) has been retired`,
              }),
            )
          : [];
      return { ref: ref as FirmwareRef, devices, models: await changed(tx, row.hardwareModel, before) };
    });
  }

  async list(model?: string) {
    const [refs, denied, policies] = await Promise.all([
      this.db
        .select()
        .from(firmwareReferences)
        .where(model ? eq(firmwareReferences.hardwareModel, model) : undefined)
        .orderBy(firmwareReferences.hardwareModel, firmwareReferences.svn),
      this.db.select().from(firmwareDenied).orderBy(firmwareDenied.deniedAt),
      this.db
        .select()
        .from(attestationPolicies)
        .where(model ? eq(attestationPolicies.hardwareModel, model) : undefined),
    ]);
    return { refs: refs as FirmwareRef[], denied, policies: policies as ModelPolicy[] };
  }

  /** Every model with reference values or a policy, and whether it requires attestation. */
  async requirements(): Promise<ModelRequirement[]> {
    const rows = await this.db.execute(sql`
      select m.model as hardware_model,
        coalesce(p.required, 'auto') as mode,
        exists (select 1 from firmware_references r where r.hardware_model = m.model
                and r.component = 'firmware' and r.retired_at is null) as has_refs
      from (select hardware_model as model from firmware_references
            union select hardware_model from attestation_policies) m
      left join attestation_policies p on p.hardware_model = m.model`);
    return rowsOf<{ hardware_model: string; mode: RequiredMode; has_refs: boolean }>(rows).map((r) => ({
      hardwareModel: r.hardware_model,
      required: isRequired(r.mode, r.has_refs),
    }));
  }
}

const isRequired = (mode: RequiredMode, hasRefs: boolean) =>
  mode === 'required' || (mode === 'auto' && hasRefs);

async function requirementOf(tx: Tx, model: string): Promise<boolean> {
  const [p] = await tx
    .select({ required: attestationPolicies.required })
    .from(attestationPolicies)
    .where(eq(attestationPolicies.hardwareModel, model));
  const [n] = await tx
    .select({ n: count() })
    .from(firmwareReferences)
    .where(
      and(
        eq(firmwareReferences.hardwareModel, model),
        eq(firmwareReferences.component, 'firmware'),
        isNull(firmwareReferences.retiredAt),
      ),
    );
  return isRequired((p?.required as RequiredMode | undefined) ?? 'auto', (n?.n ?? 0) > 0);
}

async function changed(tx: Tx, model: string, before: boolean): Promise<ModelRequirement[]> {
  const after = await requirementOf(tx, model);
  return after === before ? [] : [{ hardwareModel: model, required: after }];
}

/**
 * Writes a new result (a re-appraisal of the stored measurements, unsigned: the device never
 * sees it) for each device matched whose status gets worse, and makes it the latest.
 */
async function reappraise(
  tx: Tx,
  where: ReturnType<typeof eq>,
  at: Date,
  verdict: (row: typeof deviceAttestation.$inferSelect) => Downgrade,
): Promise<DeviceAttestationState[]> {
  const rows = await tx
    .select()
    .from(deviceAttestation)
    .where(where)
    .orderBy(deviceAttestation.deviceId)
    .for('update');
  if (!rows.length) return [];
  const previous = new Map(
    (
      await tx
        .select()
        .from(attestationResults)
        .where(
          inArray(
            attestationResults.id,
            rows.map((r) => r.resultId),
          ),
        )
    ).map((r) => [r.id, r]),
  );
  const out: DeviceAttestationState[] = [];
  for (const row of rows) {
    const v = verdict(row);
    if (row.status === 'contraindicated' || (row.status === 'warning' && v.status === 'warning')) continue;
    const prev = previous.get(row.resultId);
    const vector = { ...(prev ? (JSON.parse(prev.trustVector) as Record<string, number>) : {}) };
    vector.executables = v.status === 'contraindicated' ? EXECUTABLES_CONTRAINDICATED : EXECUTABLES_WARNING;
    const reasons = [
      ...(prev ? (JSON.parse(prev.reasons) as unknown[]) : []),
      { code: v.code, detail: v.detail },
    ];
    const id = newId('ar');
    await tx.insert(attestationResults).values({
      id,
      deviceId: row.deviceId,
      certSerial: prev?.certSerial ?? '',
      hardwareModel: row.hardwareModel,
      status: v.status,
      trustVector: JSON.stringify(vector),
      reasons: JSON.stringify(reasons),
      firmwareSha256: row.firmwareSha256,
      firmwareVersion: prev?.firmwareVersion ?? null,
      firmwareSvn: row.firmwareSvn,
      agentSha256: prev?.agentSha256 ?? null,
      wrappingKeyThumbprint: prev?.wrappingKeyThumbprint ?? null,
      issuedAt: at,
      expiresAt: row.expiresAt,
      token: null,
      reappraisal: true,
    });
    await tx
      .update(deviceAttestation)
      .set({ resultId: id, status: v.status, issuedAt: at })
      .where(eq(deviceAttestation.deviceId, row.deviceId));
    out.push({
      deviceId: row.deviceId,
      hardwareModel: row.hardwareModel,
      status: v.status,
      expiresAt: row.expiresAt,
    });
  }
  if (out.length) {
    await appendAuditEvents(
      tx,
      out.map((d) => ({
        at,
        actor: 'system',
        action: 'attestation.reappraise',
        outcome: 'ok' as const,
        subject: d.deviceId,
        details: { status: d.status },
      })),
    );
  }
  return out;
}
