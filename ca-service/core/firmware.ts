// Reference values: the firmware (and agent) builds a device may run, per hardware model,
// with their security version numbers; deny-listed digests; and per-model policy (minimum
// SVN, whether the gateway requires a fresh affirming result). Unlike Veraison, values can
// be listed, denied and retired, and a change takes effect at once: the store re-appraises
// the stored measurements of devices it affects in the same transaction.
import { EdgesealError } from '../../lib/errors.ts';
import { HARDWARE_MODEL_RE } from './batches.ts';
import { newId } from './credentials.ts';
import type { AuditEvent, Clock } from './ports.ts';

export type Component = 'firmware' | 'agent';
export type RequiredMode = 'auto' | 'required' | 'off';

export interface FirmwareRef {
  readonly id: string;
  readonly component: Component;
  readonly hardwareModel: string;
  readonly version: string;
  readonly svn: number;
  readonly sha256: string;
  readonly createdAt: Date;
  readonly createdBy: string;
  readonly retiredAt: Date | null;
  readonly retiredBy: string | null;
}

export interface DeniedDigest {
  readonly sha256: string;
  readonly reason: string | null;
  readonly deniedAt: Date;
  readonly deniedBy: string;
}

export interface ModelPolicy {
  readonly hardwareModel: string;
  readonly minSvn: number | null;
  readonly required: RequiredMode;
  readonly updatedAt: Date;
  readonly updatedBy: string;
}

/** What the gateway gates on, per device and per model (pushed to gateways as it changes). */
export interface DeviceAttestationState {
  readonly deviceId: string;
  readonly hardwareModel: string;
  readonly status: 'affirming' | 'warning' | 'contraindicated';
  readonly expiresAt: Date;
}

export interface ModelRequirement {
  readonly hardwareModel: string;
  /** a fresh affirming result is needed for more than `status`/`ota` */
  readonly required: boolean;
}

/** What a policy change did: devices re-appraised, models whose requirement changed. */
export interface PolicyEffect {
  readonly devices: readonly DeviceAttestationState[];
  readonly models: readonly ModelRequirement[];
}

export interface FirmwarePort {
  /** throws ERR_FIRMWARE_EXISTS when the model already lists the digest */
  add(ref: FirmwareRef, audit: AuditEvent): Promise<PolicyEffect>;
  deny(d: DeniedDigest, audit: AuditEvent): Promise<PolicyEffect & { alreadyDenied: boolean }>;
  setPolicy(
    model: string,
    change: { minSvn?: number; required?: RequiredMode },
    at: Date,
    actor: string,
    audit: AuditEvent,
  ): Promise<PolicyEffect & { policy: ModelPolicy }>;
  retire(
    id: string,
    at: Date,
    actor: string,
    audit: AuditEvent,
  ): Promise<(PolicyEffect & { ref: FirmwareRef }) | undefined>;
  list(model?: string): Promise<{ refs: FirmwareRef[]; denied: DeniedDigest[]; policies: ModelPolicy[] }>;
}

export interface NewFirmware {
  readonly hardwareModel: string;
  readonly version: string;
  readonly svn: number;
  readonly sha256: string;
  readonly component?: Component | undefined;
}

const SHA256_RE = /^[0-9a-f]{64}$/;
const VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}$/;
const MAX_SVN = 2 ** 31 - 1;

export function checkSha256(text: string): string {
  const hex = text.trim().toLowerCase();
  if (!SHA256_RE.test(hex)) {
    throw new EdgesealError(
      'ERR_INVALID_REQUEST',
      `sha256 ${JSON.stringify(text.slice(0, 80))} must be 64 hexadecimal characters`,
    );
  }
  return hex;
}

function checkModel(model: string): string {
  if (!HARDWARE_MODEL_RE.test(model)) {
    throw new EdgesealError(
      'ERR_INVALID_REQUEST',
      `hardware model ${JSON.stringify(model.slice(0, 80))} must be 1–64 of A–Z a–z 0–9 . _ -`,
    );
  }
  return model;
}

function checkSvn(svn: number): number {
  if (!Number.isInteger(svn) || svn < 0 || svn > MAX_SVN) {
    throw new EdgesealError('ERR_INVALID_REQUEST', `svn ${svn} must be an integer from 0 to ${MAX_SVN}`);
  }
  return svn;
}

export type PolicyListener = (effect: PolicyEffect) => void;

export class FirmwareService {
  private readonly listeners: PolicyListener[] = [];

  constructor(
    private readonly store: FirmwarePort,
    private readonly clock: Clock,
  ) {}

  /**
   * Told of every change of reference values or policy (appraisals must re-read them), with
   * the devices it re-appraised and the models whose requirement changed (maybe none).
   */
  onEffect(l: PolicyListener): void {
    this.listeners.push(l);
  }

  private effect<E extends PolicyEffect>(e: E): E {
    for (const l of this.listeners) l(e);
    return e;
  }

  async add(input: NewFirmware, actor: string): Promise<FirmwareRef> {
    const at = this.clock.now();
    if (!VERSION_RE.test(input.version)) {
      throw new EdgesealError(
        'ERR_INVALID_REQUEST',
        `version ${JSON.stringify(input.version.slice(0, 80))} must be 1–64 of A–Z a–z 0–9 . + _ -`,
      );
    }
    const ref: FirmwareRef = {
      id: newId('fw'),
      component: input.component ?? 'firmware',
      hardwareModel: checkModel(input.hardwareModel),
      version: input.version,
      svn: checkSvn(input.svn),
      sha256: checkSha256(input.sha256),
      createdAt: at,
      createdBy: actor,
      retiredAt: null,
      retiredBy: null,
    };
    this.effect(
      await this.store.add(ref, {
        at,
        actor,
        action: 'firmware.add',
        outcome: 'ok',
        subject: ref.id,
        details: {
          component: ref.component,
          hardware_model: ref.hardwareModel,
          version: ref.version,
          svn: ref.svn,
          sha256: ref.sha256,
        },
      }),
    );
    return ref;
  }

  async deny(sha256: string, reason: string | undefined, actor: string) {
    const at = this.clock.now();
    const hex = checkSha256(sha256);
    if (reason !== undefined && reason.length > 200) {
      throw new EdgesealError('ERR_INVALID_REQUEST', 'reason must be at most 200 characters');
    }
    return this.effect(
      await this.store.deny(
        { sha256: hex, reason: reason ?? null, deniedAt: at, deniedBy: actor },
        {
          at,
          actor,
          action: 'firmware.deny',
          outcome: 'ok',
          subject: hex,
          details: reason ? { reason } : {},
        },
      ),
    );
  }

  async setPolicy(model: string, change: { minSvn?: number; required?: RequiredMode }, actor: string) {
    const at = this.clock.now();
    checkModel(model);
    if (change.minSvn !== undefined) checkSvn(change.minSvn);
    if (change.minSvn === undefined && change.required === undefined) {
      throw new EdgesealError('ERR_INVALID_REQUEST', 'nothing to change: give min_svn and/or attestation');
    }
    return this.effect(
      await this.store.setPolicy(model, change, at, actor, {
        at,
        actor,
        action: 'firmware.policy',
        outcome: 'ok',
        subject: model,
        details: {
          ...(change.minSvn !== undefined ? { min_svn: change.minSvn } : {}),
          ...(change.required !== undefined ? { attestation: change.required } : {}),
        },
      }),
    );
  }

  async retire(id: string, actor: string): Promise<FirmwareRef> {
    const at = this.clock.now();
    const r = await this.store.retire(id, at, actor, {
      at,
      actor,
      action: 'firmware.retire',
      outcome: 'ok',
      subject: id,
    });
    if (!r) throw new EdgesealError('ERR_NOT_FOUND', `no firmware reference ${id}`);
    this.effect(r);
    return r.ref;
  }

  list(model?: string) {
    if (model !== undefined) checkModel(model);
    return this.store.list(model);
  }
}
