// CA keys and certificates in the database (so every control-plane instance shares them).
import { and, eq, sql } from 'drizzle-orm';
import { caKeys } from '../../migrations/schema/index.ts';
import type { AuditEvent } from '../core/ports.ts';
import { appendAuditEvents } from './audit-log.ts';
import type { Db } from './db.ts';

export type CaKeyRow = typeof caKeys.$inferSelect;

export class CaKeyStore {
  constructor(private readonly db: Db) {}

  /** Inserts a signing key (log, verifier) unless one of its role exists (under the hierarchy's lock). */
  async createSigningKeyOnce(row: typeof caKeys.$inferInsert, audit: AuditEvent): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(7468202)`);
      const [existing] = await tx
        .select({ id: caKeys.id })
        .from(caKeys)
        .where(eq(caKeys.role, row.role))
        .limit(1);
      if (existing) return;
      await tx.insert(caKeys).values(row);
      await appendAuditEvents(tx, [audit]);
    });
  }

  async active(role: CaKeyRow['role']): Promise<CaKeyRow | undefined> {
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
      await appendAuditEvents(tx, [audit]);
      return true;
    });
  }
}
