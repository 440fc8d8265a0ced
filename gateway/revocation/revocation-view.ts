// What the gateway knows about revoked certificates, and how sure it is. A source (the
// in-process control plane, or the control plane's SSE feed) fills it; the broker asks it
// at every CONNECT and is told of each new revocation so it can cut the live session.
// While the source is unreachable for longer than the grace period, the policy decides:
// fail-closed refuses new connections, fail-open admits on the last known list.
import type { Logger } from 'pino';

export interface RevokedSerial {
  readonly serial: string;
  readonly deviceId: string | null;
  readonly reason: string;
}

export type Admission = 'ok' | 'revoked' | 'unknown';

export class RevocationView {
  private readonly revoked = new Set<string>();
  private readonly listeners: ((e: readonly RevokedSerial[]) => void)[] = [];
  private up = false;
  private downSince: number;
  private warnedOpen = false;

  constructor(
    readonly policy: 'fail-closed' | 'fail-open',
    private readonly graceMs: number,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.downSince = now();
  }

  get size(): number {
    return this.revoked.size;
  }

  /** fresh: the source is connected (or was within the grace period) */
  get fresh(): boolean {
    return this.up || this.now() - this.downSince <= this.graceMs;
  }

  get connected(): boolean {
    return this.up;
  }

  onRevoked(l: (e: readonly RevokedSerial[]) => void): void {
    this.listeners.push(l);
  }

  add(entries: readonly RevokedSerial[]): void {
    const fresh = entries.filter((e) => !this.revoked.has(e.serial));
    for (const e of fresh) this.revoked.add(e.serial);
    if (fresh.length) for (const l of this.listeners) l(fresh);
  }

  sourceUp(): void {
    if (!this.up) this.log.info({ revoked: this.revoked.size }, 'revocation feed connected');
    this.up = true;
    this.warnedOpen = false;
  }

  sourceDown(why: string): void {
    if (this.up) {
      this.downSince = this.now();
      this.log.warn(
        { policy: this.policy, grace_ms: this.graceMs, why },
        `revocation feed lost; after ${this.graceMs / 1000}s the ${this.policy} policy applies`,
      );
    }
    this.up = false;
  }

  admit(serial: string): Admission {
    if (this.revoked.has(serial)) return 'revoked';
    if (this.fresh) return 'ok';
    if (this.policy === 'fail-closed') return 'unknown';
    if (!this.warnedOpen) {
      this.warnedOpen = true;
      this.log.warn(
        { policy: this.policy, revoked: this.revoked.size },
        'revocation feed unreachable: admitting devices on the last known revocation list (fail-open)',
      );
    }
    return 'ok';
  }
}
