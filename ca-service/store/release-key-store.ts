import { and, eq, isNull } from 'drizzle-orm';
import { releaseKeys } from '../../migrations/schema/index.ts';
import type { AuditEvent } from '../core/ports.ts';
import type { ReleaseKey, ReleaseKeyPort } from '../core/release-keys.ts';
import { appendAuditEvents } from './audit-log.ts';
import type { Db } from './db.ts';

export class ReleaseKeyStore implements ReleaseKeyPort {
  constructor(private readonly db: Db) {}

  insert(k: ReleaseKey, audit: AuditEvent): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const rows = await tx
        .insert(releaseKeys)
        .values(k)
        .onConflictDoNothing()
        .returning({ kid: releaseKeys.kid });
      if (!rows.length) return false;
      await appendAuditEvents(tx, [audit]);
      return true;
    });
  }

  revoke(kid: string, at: Date, actor: string, audit: AuditEvent): Promise<ReleaseKey | undefined> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.select().from(releaseKeys).where(eq(releaseKeys.kid, kid)).for('update');
      if (!row) return undefined;
      if (row.revokedAt) return row;
      const [updated] = await tx
        .update(releaseKeys)
        .set({ revokedAt: at, revokedBy: actor })
        .where(and(isNull(releaseKeys.revokedAt), eq(releaseKeys.kid, kid)))
        .returning();
      await appendAuditEvents(tx, [audit]);
      return updated;
    });
  }

  list(): Promise<ReleaseKey[]> {
    return this.db.select().from(releaseKeys).orderBy(releaseKeys.createdAt);
  }
}
