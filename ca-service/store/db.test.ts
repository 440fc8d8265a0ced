import { describe, expect, it } from 'vitest';
import { openDatabase, rowsOf } from './db.ts';
import { sql } from 'drizzle-orm';

describe('openDatabase', () => {
  it('opens in-memory PGlite with migrations applied', async () => {
    const d = await openDatabase({});
    const rows = rowsOf<{ n: number }>(await d.db.execute(sql`select count(*)::int as n from certificates`));
    expect(rows[0]?.n).toBe(0);
    await d.close();
  });
});
