// Revocation: of one certificate, every certificate of a device, or every certificate of a
// production batch (which also ends the batch credential). Idempotent and audited.
import { EdgesealError } from '../../lib/errors.ts';
import type { AuditEvent, Clock } from './ports.ts';

/** RFC 5280 §5.3.1 CRLReason values we accept. certificateHold (6) is not: revocation is final. */
export const REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  privilegeWithdrawn: 9,
} as const;

export function parseReason(text: string | number | undefined): number {
  if (text === undefined) return 0;
  const norm = String(text).replace(/[-_ ]/g, '').toLowerCase();
  for (const [name, code] of Object.entries(REASONS)) {
    if (name.toLowerCase() === norm || String(code) === norm) return code;
  }
  throw new EdgesealError(
    'ERR_INVALID_REQUEST',
    `revocation reason "${text}" is not one of ${Object.keys(REASONS).join(', ')} (or their RFC 5280 numbers)`,
  );
}

export const reasonName = (code: number): string =>
  Object.entries(REASONS).find(([, c]) => c === code)?.[0] ?? `reason-${code}`;

/**
 * Why a certificate was revoked along with the target: `superseded`, an older certificate of
 * the same device (none outlives its successor); `same_key`, it carries the compromised key.
 */
export type RevocationCause = 'superseded' | 'same_key';

export type RevocationTarget = { serial: string } | { deviceId: string } | { batchId: string };

export interface RevokedEntry {
  readonly serial: string;
  /** the device the certificate belongs to (null for the control plane's own certificates) */
  readonly deviceId: string | null;
  readonly issuerId: string;
  readonly revokedAt: Date;
  readonly reason: number;
}

export interface RevocationPort {
  /**
   * In one transaction: marks every unrevoked certificate matching `target` revoked (with
   * the device's older certificates, and for keyCompromise every certificate of the key), writes
   * one audit event per certificate, and (for a batch) ends the batch credential.
   * Returns the newly revoked and how many matched but were already revoked.
   */
  revoke(
    target: RevocationTarget,
    at: Date,
    reason: number,
    audit: (serial: string, cause?: RevocationCause) => AuditEvent,
  ): Promise<{ revoked: RevokedEntry[]; alreadyRevoked: number; targetExists: boolean }>;
}

export type RevocationListener = (entries: readonly RevokedEntry[]) => void;

/** A page of revocations at or after `since`, after `afterSerial` at that same time. */
export type RevokedPage = (since: Date, afterSerial?: string) => Promise<RevokedEntry[]>;

/**
 * Every revocation at or after `since`, a page at a time, oldest first. Pages continue from
 * the last entry's time and serial: a batch revocation gives many entries one time.
 */
export async function* revokedPages(page: RevokedPage, since: Date): AsyncGenerator<RevokedEntry[]> {
  let cursor: RevokedEntry | undefined;
  for (;;) {
    const entries = await page(cursor?.revokedAt ?? since, cursor?.serial);
    if (!entries.length) return;
    yield entries;
    cursor = entries[entries.length - 1];
  }
}

export class RevocationService {
  private readonly listeners: RevocationListener[] = [];

  constructor(
    private readonly store: RevocationPort,
    private readonly clock: Clock,
  ) {}

  onRevoked(l: RevocationListener): () => void {
    this.listeners.push(l);
    return () => {
      const i = this.listeners.indexOf(l);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /**
   * Revocations learned from elsewhere (another instance): tell this process's listeners.
   * `reloaded` means "too many to list; re-read the database" — listeners get no entries.
   */
  announce(entries: readonly RevokedEntry[], reloaded: boolean): void {
    if (entries.length || reloaded) for (const l of this.listeners) l(entries);
  }

  async revoke(target: RevocationTarget, reason: number, actor: string) {
    const at = this.clock.now();
    const scope = 'serial' in target ? 'serial' : 'deviceId' in target ? 'device' : 'batch';
    const value =
      'serial' in target ? target.serial : 'deviceId' in target ? target.deviceId : target.batchId;
    const r = await this.store.revoke(target, at, reason, (serial, cause) => ({
      at,
      actor,
      action: 'certificate.revoke',
      outcome: 'ok',
      subject: serial,
      details: { reason: reasonName(reason), scope, [scope]: value, ...(cause ? { cause } : {}) },
    }));
    if (!r.targetExists) throw new EdgesealError('ERR_NOT_FOUND', `no ${scope} ${value}`);
    if (r.revoked.length) for (const l of this.listeners) l(r.revoked);
    return { revoked: r.revoked, alreadyRevoked: r.alreadyRevoked };
  }
}
