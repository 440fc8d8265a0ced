// CA keys and certificates in the database (so every control-plane instance shares them).
import { and, eq, sql } from 'drizzle-orm';
import { auditEvents, caKeys } from '../../migrations/schema/index.ts';
import type { AuditEvent } from '../core/ports.ts';
import { auditRow } from './audit-rows.ts';
import type { Db } from './db.ts';

export type CaKeyRow = typeof caKeys.$inferSelect;

export class CaKeyStore {
  constructor(private readonly db: Db) {}

  async active(role: 'root' | 'issuing'): Promise<CaKeyRow | undefined> {
    const [row] = await this.db
      .select()
      .from(caKeys)
      .where(and(eq(caKeys.role, role), eq(caKeys.active, true)))
      .limit(1);
    return row;
  }

  /**
   * Runs `create` at most once across processes: under an advisory lock, and only when no
   * active root exists. Returns whether it ran.
   */
  async createOnce(
    create: () => { rows: (typeof caKeys.$inferInsert)[]; audit: AuditEvent },
  ): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(7468202)`);
      const [existing] = await tx
        .select({ id: caKeys.id })
        .from(caKeys)
        .where(eq(caKeys.role, 'root'))
        .limit(1);
      if (existing) return false;
      const { rows, audit } = create();
      await tx.insert(caKeys).values(rows);
      await tx.insert(auditEvents).values(auditRow(audit));
      return true;
    });
  }
}
