// Signs the audit chain head at intervals (when it moved) with the log key, so that a
// rewrite of the chain from any earlier point is detectable (lib/audit-chain.ts).
import { sign } from 'node:crypto';
import type { Logger } from 'pino';
import { checkpointMessage } from '../../lib/audit-chain.ts';
import type { Clock } from '../core/ports.ts';
import type { LogKey } from '../keys/hierarchy.ts';
import type { AuditLogStore } from '../store/audit-log.ts';

export class Checkpointer {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: AuditLogStore,
    private readonly key: LogKey,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly intervalMs = 60_000,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.checkpointNow().catch((err) => this.log.error({ err }, 'audit checkpoint failed; will retry'));
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Signs the current head if it moved since the last checkpoint; returns its seq. */
  async checkpointNow(): Promise<number | undefined> {
    const head = await this.store.head();
    if (!head) return undefined;
    const last = await this.store.lastCheckpoint();
    if (last && last.seq >= head.seq) return last.seq;
    const at = this.clock.now();
    const signature = sign(
      'sha256',
      checkpointMessage({ seq: head.seq, hash: head.hash, at: at.toISOString() }),
      this.key.key,
    );
    await this.store.addCheckpoint({ seq: head.seq, hash: head.hash, at, signature, keyId: this.key.id });
    this.log.info({ audit_seq: head.seq, audit_hash: head.hash }, 'audit checkpoint signed');
    return head.seq;
  }
}
