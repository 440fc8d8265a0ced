// Production batches: a factory station's bounded right to enroll devices of one model.
import { EdgesealError } from '../../lib/errors.ts';
import { hashSecret, newId, newSecret } from './credentials.ts';
import { DEVICE_ID_RE } from './device-id.ts';
import type { AuditEvent, BatchRecord, Clock } from './ports.ts';

export interface BatchPort {
  create(batch: BatchRecord, audit: AuditEvent): Promise<void>;
  revoke(id: string, at: Date, audit: AuditEvent): Promise<BatchRecord | undefined>;
  get(id: string): Promise<BatchRecord | undefined>;
  list(limit?: number): Promise<BatchRecord[]>;
}

export interface NewBatch {
  readonly hardwareModel: string;
  readonly quota: number;
  /** seconds from now */
  readonly expiresInSeconds: number;
  readonly idPrefix?: string | undefined;
}

export const HARDWARE_MODEL_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_QUOTA = 10_000_000;
const MAX_LIFETIME_S = 366 * 86_400;

/** Parses durations like 90s, 45m, 8h, 7d. */
export function parseDuration(text: string): number {
  const m = /^(\d{1,7})([smhd])$/.exec(text.trim());
  if (!m)
    throw new EdgesealError('ERR_INVALID_REQUEST', `duration "${text}" must look like 90s, 45m, 8h or 7d`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

export class BatchService {
  constructor(
    private readonly store: BatchPort,
    private readonly clock: Clock,
  ) {}

  async create(input: NewBatch, actor: string): Promise<{ batch: BatchRecord; secret: string }> {
    if (!HARDWARE_MODEL_RE.test(input.hardwareModel)) {
      throw new EdgesealError(
        'ERR_INVALID_REQUEST',
        `hardware model "${input.hardwareModel}" must be 1–64 of A–Z a–z 0–9 . _ -`,
      );
    }
    if (!Number.isInteger(input.quota) || input.quota < 1 || input.quota > MAX_QUOTA) {
      throw new EdgesealError(
        'ERR_INVALID_REQUEST',
        `quota ${input.quota} must be an integer from 1 to ${MAX_QUOTA}`,
      );
    }
    if (
      !Number.isInteger(input.expiresInSeconds) ||
      input.expiresInSeconds < 60 ||
      input.expiresInSeconds > MAX_LIFETIME_S
    ) {
      throw new EdgesealError('ERR_INVALID_REQUEST', `expiry must be between 1 minute and 366 days`);
    }
    if (input.idPrefix !== undefined && !DEVICE_ID_RE.test(input.idPrefix)) {
      throw new EdgesealError(
        'ERR_INVALID_REQUEST',
        `id prefix "${input.idPrefix}" is not a valid device id start`,
      );
    }
    const now = this.clock.now();
    const secret = newSecret();
    const batch: BatchRecord = {
      id: newId('b'),
      hardwareModel: input.hardwareModel,
      quota: input.quota,
      enrolled: 0,
      idPrefix: input.idPrefix ?? null,
      secretHash: hashSecret(secret),
      expiresAt: new Date(now.getTime() + input.expiresInSeconds * 1000),
      revokedAt: null,
      createdAt: now,
      createdBy: actor,
    };
    await this.store.create(batch, {
      at: now,
      actor,
      action: 'batch.create',
      outcome: 'ok',
      subject: batch.id,
      details: {
        hardware_model: batch.hardwareModel,
        quota: batch.quota,
        expires_at: batch.expiresAt.toISOString(),
      },
    });
    return { batch, secret };
  }

  async revoke(id: string, actor: string): Promise<BatchRecord> {
    const now = this.clock.now();
    const b = await this.store.revoke(id, now, {
      at: now,
      actor,
      action: 'batch.revoke',
      outcome: 'ok',
      subject: id,
    });
    if (!b) throw new EdgesealError('ERR_NOT_FOUND', `batch ${id} does not exist`);
    return b;
  }

  async get(id: string): Promise<BatchRecord> {
    const b = await this.store.get(id);
    if (!b) throw new EdgesealError('ERR_NOT_FOUND', `batch ${id} does not exist`);
    return b;
  }

  list(): Promise<BatchRecord[]> {
    return this.store.list();
  }
}

/** What clients see of a batch: never the secret hash. */
export function batchView(b: BatchRecord, now: Date) {
  const status = b.revokedAt
    ? 'revoked'
    : b.expiresAt <= now
      ? 'expired'
      : b.enrolled >= b.quota
        ? 'exhausted'
        : 'active';
  return {
    id: b.id,
    hardware_model: b.hardwareModel,
    quota: b.quota,
    enrolled: b.enrolled,
    id_prefix: b.idPrefix,
    status,
    expires_at: b.expiresAt.toISOString(),
    revoked_at: b.revokedAt?.toISOString() ?? null,
    created_at: b.createdAt.toISOString(),
    created_by: b.createdBy,
  };
}
