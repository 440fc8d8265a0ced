import { desc, eq } from 'drizzle-orm';
import { apiTokens } from '../../migrations/schema/index.ts';
import type { AuditEvent } from '../core/ports.ts';
import type { TokenPort, TokenRecord } from '../core/tokens.ts';
import { appendAuditEvents } from './audit-log.ts';
import type { Db } from './db.ts';

export class TokenStore implements TokenPort {
  constructor(private readonly db: Db) {}

  async insert(t: TokenRecord, audit: AuditEvent): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.insert(apiTokens).values(t);
      await appendAuditEvents(tx, [audit]);
    });
  }

  list(): Promise<TokenRecord[]> {
    return this.db.select().from(apiTokens).orderBy(desc(apiTokens.createdAt)).limit(1000);
  }

  async revoke(id: string, at: Date, audit: AuditEvent): Promise<TokenRecord | undefined> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.select().from(apiTokens).where(eq(apiTokens.id, id)).for('update');
      if (!row || row.revokedAt) return row;
      const [updated] = await tx
        .update(apiTokens)
        .set({ revokedAt: at })
        .where(eq(apiTokens.id, id))
        .returning();
      await appendAuditEvents(tx, [audit]);
      return updated;
    });
  }

  async get(id: string): Promise<TokenRecord | undefined> {
    const [row] = await this.db.select().from(apiTokens).where(eq(apiTokens.id, id)).limit(1);
    return row;
  }
}
