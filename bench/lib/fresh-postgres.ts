// A fresh database on the Postgres at `base` for one bench side, dropped afterwards; undefined
// (with a line on stderr) when that server cannot be reached, so the side is skipped.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

export async function freshPostgres(
  base: string,
): Promise<{ url: string; drop: () => Promise<void> } | undefined> {
  const name = `edgeseal_bench_${randomBytes(6).toString('hex')}`;
  try {
    const admin = postgres(base, { max: 1, onnotice: () => {}, connect_timeout: 3 });
    await admin.unsafe(`create database ${name}`);
    await admin.end();
  } catch (e) {
    process.stderr.write(`Postgres at ${base} unreachable (${String(e)}); skipping the Postgres side\n`);
    return undefined;
  }
  const u = new URL(base);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const a = postgres(base, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}
