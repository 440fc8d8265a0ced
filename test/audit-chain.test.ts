// `edgeseal audit verify` against a running control plane finds each kind of tampering
// done with raw SQL, and names the event.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rowsOf } from '../ca-service/store/db.ts';
import { createBatch, startStack, type TestStack } from './helpers/stack.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'edgeseal.mjs');
let s: TestStack;

async function verifyCli(): Promise<{
  code: number;
  out: string;
  report: { ok: boolean; problems: { kind: string; seq: number; detail: string }[] };
}> {
  const env = { ...process.env, EDGESEAL_DATA_DIR: s.dir };
  try {
    const r = await promisify(execFile)('node', [BIN, 'audit', 'verify', '--json', '--url', s.cp.httpsUrl], {
      env,
      encoding: 'utf8',
    });
    return { code: 0, out: r.stdout, report: JSON.parse(r.stdout) };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, out: err.stdout + err.stderr, report: JSON.parse(err.stdout || '{}') };
  }
}

const exec = (q: string) => s.database.db.execute(sql.raw(q));

beforeAll(async () => {
  s = await startStack();
  for (let i = 0; i < 4; i++) await createBatch(s); // some events to work with
  await s.cp.checkpointer.checkpointNow();
  await createBatch(s); // and some after the checkpoint
  await exec('create table audit_backup as select * from audit_events');
});
afterAll(() => s?.stop());

// each test starts from the untampered log
beforeEach(async () => {
  await exec('delete from audit_events');
  await exec('insert into audit_events select * from audit_backup');
  await exec(
    'update audit_head set (seq, hash) = (select seq, hash from audit_backup order by seq desc limit 1)',
  );
});

// bigint comes back as a string from postgres.js raw queries
const seqOf = async (action: string, nth = 0) =>
  Number(
    rowsOf<{ seq: number | string }>(
      await s.database.db.execute(sql`select seq from audit_events where action = ${action} order by seq`),
    )[nth]!.seq,
  );

describe('edgeseal audit verify', () => {
  it('passes on an untouched log, with the signed checkpoint verified', async () => {
    const r = await verifyCli();
    expect(r.code, r.out).toBe(0);
    expect(r.report).toMatchObject({ ok: true, checkpointsVerified: 2 }); // one at start-up, one above
  });

  it('names a changed event', async () => {
    const seq = await seqOf('batch.create', 1);
    await exec(`update audit_events set actor = 'admin:tok_innocent' where seq = ${seq}`);
    const r = await verifyCli();
    expect(r.code).toBe(1);
    expect(r.report.problems[0]).toMatchObject({ kind: 'changed', seq });
  });

  it('names a deleted event', async () => {
    const seq = await seqOf('batch.create', 2);
    await exec(`delete from audit_events where seq = ${seq}`);
    const r = await verifyCli();
    expect(r.code).toBe(1);
    expect(r.report.problems[0]).toMatchObject({ kind: 'deleted', seq });
  });

  it('names an inserted event, even one given a correct-looking hash and room made for it', async () => {
    const seq = await seqOf('batch.create', 2);
    // make room: shift every later event up by one, then insert a forged copy of the previous one
    await exec(`update audit_events set seq = -seq where seq >= ${seq}`);
    await exec(`update audit_events set seq = -seq + 1 where seq < 0`);
    await exec(
      `insert into audit_events select ${seq}, at, 'admin:tok_forged', action, outcome, subject, reason, details, hash, hash from audit_events where seq = ${seq - 1}`,
    );
    const r = await verifyCli();
    expect(r.code).toBe(1);
    expect(r.report.problems.map((p) => p.kind)).toContain('inserted');
    expect(r.report.problems.find((p) => p.kind === 'inserted' || p.kind === 'changed')!.seq).toBe(seq);
  });

  it('names reordered events', async () => {
    const seq = await seqOf('batch.create', 1);
    await exec(`update audit_events set seq = -1 where seq = ${seq}`);
    await exec(`update audit_events set seq = ${seq} where seq = ${seq + 1}`);
    await exec(`update audit_events set seq = ${seq + 1} where seq = -1`);
    const r = await verifyCli();
    expect(r.code).toBe(1);
    expect(r.report.problems[0]).toMatchObject({ kind: 'reordered', seq });
  });

  it('catches a whole rewrite through the signed checkpoint', async () => {
    // recompute every hash after changing an early event, as an attacker with the code would
    const { eventHash, GENESIS } = await import('../lib/audit-chain.ts');
    const rows = rowsOf<Record<string, unknown>>(await exec('select * from audit_events order by seq'));
    let prev = GENESIS;
    for (const r of rows) {
      const at = new Date(r.at as string).toISOString();
      const actor = Number(r.seq) === 2 ? 'system:rewritten' : (r.actor as string);
      const base = {
        at,
        actor,
        action: r.action as string,
        outcome: r.outcome as string,
        subject: r.subject as string | null,
        reason: r.reason as string | null,
        details: r.details as string | null,
        prevHash: prev,
      };
      const h = eventHash(base);
      await s.database.db.execute(
        sql`update audit_events set actor = ${actor}, prev_hash = ${prev}, hash = ${h} where seq = ${r.seq as number}`,
      );
      prev = h;
    }
    await s.database.db.execute(sql`update audit_head set hash = ${prev}`);
    const r = await verifyCli();
    expect(r.code).toBe(1);
    expect(r.report.problems.length).toBeGreaterThan(0);
    expect(
      r.report.problems.every((p) => p.kind === 'checkpoint' && /chain was rewritten/.test(p.detail)),
    ).toBe(true);
  });

  it('human output of a clean log says OK', async () => {
    const env = { ...process.env, EDGESEAL_DATA_DIR: s.dir };
    const ok = await promisify(execFile)('node', [BIN, 'audit', 'verify', '--url', s.cp.httpsUrl], {
      env,
      encoding: 'utf8',
    });
    expect(ok.stdout).toMatch(/audit chain OK: \d+ events, head \d+, 2 signed checkpoint\(s\) verified/);
  });
});
