// Production batches: create, revoke, list. Each change lands with its audit event.
import { desc, eq } from 'drizzle-orm';
import { batches } from '../../migrations/schema/index.ts';
import type { AuditEvent, BatchRecord } from '../core/ports.ts';
import { appendAuditEvents } from './audit-log.ts';
import type { Db } from './db.ts';

export class BatchStore {
  constructor(private readonly db: Db) {}

  async create(batch: BatchRecord, audit: AuditEvent): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.insert(batches).values(batch);
      await appendAuditEvents(tx, [audit]);
    });
  }

  /** Returns the batch after the change; undefined when it does not exist. Idempotent. */
  async revoke(id: string, at: Date, audit: AuditEvent): Promise<BatchRecord | undefined> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.select().from(batches).where(eq(batches.id, id)).for('update');
      if (!row) return undefined;
      if (row.revokedAt) return row;
      const [updated] = await tx.update(batches).set({ revokedAt: at }).where(eq(batches.id, id)).returning();
      await appendAuditEvents(tx, [audit]);
      return updated;
    });
  }

  async get(id: string): Promise<BatchRecord | undefined> {
    const [row] = await this.db.select().from(batches).where(eq(batches.id, id)).limit(1);
    return row;
  }

  list(limit = 100): Promise<BatchRecord[]> {
    return this.db.select().from(batches).orderBy(desc(batches.createdAt)).limit(limit);
  }
}
