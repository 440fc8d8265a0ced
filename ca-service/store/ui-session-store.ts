// Dashboard sessions over drizzle: the cookie's random value is never stored, only its SHA-256.
import { and, eq, isNull } from 'drizzle-orm';
import { uiSessions } from '../../migrations/schema/index.ts';
import type { UiSessionPort, UiSessionRecord } from '../ui/sessions.ts';
import type { Db } from './db.ts';

export class UiSessionStore implements UiSessionPort {
  constructor(private readonly db: Db) {}

  async create(s: UiSessionRecord): Promise<void> {
    await this.db.insert(uiSessions).values(s);
  }

  async get(idHash: string): Promise<UiSessionRecord | undefined> {
    const [row] = await this.db.select().from(uiSessions).where(eq(uiSessions.idHash, idHash)).limit(1);
    return row;
  }

  async end(idHash: string, at: Date): Promise<void> {
    await this.db
      .update(uiSessions)
      .set({ endedAt: at })
      .where(and(eq(uiSessions.idHash, idHash), isNull(uiSessions.endedAt)));
  }
}
