// Opens the database: PGlite under the data directory when no DATABASE_URL is given,
// otherwise Postgres. Applies the generated migrations either way.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import * as schema from '../../migrations/schema/index.ts';
import { OwnerOnlyNodeFS, ownerOnly } from './owner-only-fs.ts';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  readonly db: Db;
  readonly kind: 'pglite' | 'postgres';
  /** where the data lives, for humans (never includes a password) */
  readonly location: string;
  /** LISTEN on a channel (Postgres NOTIFY); resolves to an unsubscribe function */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

const MIGRATIONS = fileURLToPath(new URL('../../migrations/sql', import.meta.url));

export interface OpenOptions {
  readonly databaseUrl?: string | undefined;
  /** PGlite directory; undefined means in-memory (tests) */
  readonly pgliteDir?: string | undefined;
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  if (opts.databaseUrl) {
    // Several control-plane instances may start at once: serialize migrations under a
    // session advisory lock held by one dedicated connection.
    const migrator = postgres(opts.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      await migrator`select pg_advisory_lock(7468201)`;
      await migratePostgres(drizzlePostgres(migrator, { schema }), { migrationsFolder: MIGRATIONS });
    } finally {
      await migrator.end({ timeout: 5 });
    }
    const client = postgres(opts.databaseUrl, { max: 10, onnotice: () => {} });
    const db = drizzlePostgres(client, { schema }) as unknown as Db;
    const u = new URL(opts.databaseUrl);
    u.password = '';
    return {
      db,
      kind: 'postgres',
      location: u.toString(),
      listen: async (channel, onPayload) => {
        const l = await client.listen(channel, onPayload);
        return () => l.unlisten();
      },
      close: () => client.end({ timeout: 5 }),
    };
  }
  if (opts.pgliteDir) mkdirSync(opts.pgliteDir, { recursive: true, mode: 0o700 });
  const client = opts.pgliteDir ? new PGlite({ fs: new OwnerOnlyNodeFS(opts.pgliteDir) }) : new PGlite();
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  await migratePglite(drizzlePglite(client, { schema }), { migrationsFolder: MIGRATIONS });
  if (opts.pgliteDir) ownerOnly(opts.pgliteDir); // what initdb wrote (store/owner-only-fs.ts)
  return {
    db,
    kind: 'pglite',
    location: opts.pgliteDir ?? 'memory',
    listen: (channel, onPayload) => client.listen(channel, onPayload),
    close: () => client.close(),
  };
}

export const pgliteDirOf = (dataDir: string): string => join(dataDir, 'pgdata');

/** Rows of a raw `db.execute` result, whichever driver produced it. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}

export async function ping(db: Db): Promise<void> {
  await db.execute(sql`select 1`);
}
