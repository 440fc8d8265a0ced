// The one way audit events are written: appended to the hash chain inside the caller's
// transaction, under a row lock on the chain head (so appends are serial, across instances).
import { asc, desc, eq, gt } from 'drizzle-orm';
import { type ChainedEvent, type Checkpoint, eventHash, GENESIS } from '../../lib/audit-chain.ts';
import { auditCheckpoints, auditEvents, auditHead } from '../../migrations/schema/index.ts';
import type { AuditEvent } from '../core/ports.ts';
import type { Db } from './db.ts';

export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

const CHUNK = 1000;

export async function appendAuditEvents(tx: Tx, events: readonly AuditEvent[]): Promise<void> {
  if (events.length === 0) return;
  const [head] = await tx.select().from(auditHead).where(eq(auditHead.id, 1)).for('update');
  let seq = head?.seq ?? 0;
  let prevHash = head?.hash ?? GENESIS;
  const rows = events.map((e) => {
    const base = {
      at: e.at.toISOString(),
      actor: e.actor,
      action: e.action,
      outcome: e.outcome,
      subject: e.subject ?? null,
      reason: e.reason ?? null,
      details: e.details ? JSON.stringify(e.details) : null,
      prevHash,
    };
    const hash = eventHash(base);
    prevHash = hash;
    seq += 1;
    return { ...base, at: e.at, seq, hash };
  });
  for (let i = 0; i < rows.length; i += CHUNK) await tx.insert(auditEvents).values(rows.slice(i, i + CHUNK));
  await tx
    .insert(auditHead)
    .values({ id: 1, seq, hash: prevHash })
    .onConflictDoUpdate({ target: auditHead.id, set: { seq, hash: prevHash } });
}

export const chainedView = (r: typeof auditEvents.$inferSelect): ChainedEvent => ({
  seq: r.seq,
  at: r.at.toISOString(),
  actor: r.actor,
  action: r.action,
  outcome: r.outcome,
  subject: r.subject,
  reason: r.reason,
  details: r.details,
  prevHash: r.prevHash,
  hash: r.hash,
});

export class AuditLogStore {
  constructor(private readonly db: Db) {}

  async page(afterSeq: number, limit: number): Promise<ChainedEvent[]> {
    const rows = await this.db
      .select()
      .from(auditEvents)
      .where(gt(auditEvents.seq, afterSeq))
      .orderBy(asc(auditEvents.seq))
      .limit(limit);
    return rows.map(chainedView);
  }

  async event(seq: number): Promise<ChainedEvent | undefined> {
    const [r] = await this.db.select().from(auditEvents).where(eq(auditEvents.seq, seq)).limit(1);
    return r ? chainedView(r) : undefined;
  }

  /** The newest events, newest first. */
  async latest(limit: number): Promise<ChainedEvent[]> {
    const rows = await this.db.select().from(auditEvents).orderBy(desc(auditEvents.seq)).limit(limit);
    return rows.map(chainedView);
  }

  async head(): Promise<{ seq: number; hash: string } | null> {
    const [h] = await this.db.select().from(auditHead).where(eq(auditHead.id, 1));
    return h ? { seq: h.seq, hash: h.hash } : null;
  }

  async lastCheckpoint(): Promise<{ seq: number } | undefined> {
    const [c] = await this.db
      .select({ seq: auditCheckpoints.seq })
      .from(auditCheckpoints)
      .orderBy(desc(auditCheckpoints.seq))
      .limit(1);
    return c;
  }

  async addCheckpoint(c: {
    seq: number;
    hash: string;
    at: Date;
    signature: Buffer;
    keyId: string;
  }): Promise<void> {
    await this.db.insert(auditCheckpoints).values(c).onConflictDoNothing();
  }

  async checkpoints() {
    return this.db.select().from(auditCheckpoints).orderBy(asc(auditCheckpoints.seq));
  }

  /** Signed checkpoints after `seq`, oldest first; `newest` takes only the last one. */
  async checkpointsAfter(seq: number, newest = false): Promise<Checkpoint[]> {
    const rows = await this.db
      .select()
      .from(auditCheckpoints)
      .where(gt(auditCheckpoints.seq, seq))
      .orderBy(newest ? desc(auditCheckpoints.seq) : asc(auditCheckpoints.seq))
      .limit(newest ? 1 : 100_000);
    return rows.map((k) => ({
      seq: k.seq,
      hash: k.hash,
      at: k.at.toISOString(),
      signature: k.signature.toString('base64'),
    }));
  }
}
