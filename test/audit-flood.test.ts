// The attack on the audit log: one client without credentials floods the control plane with
// refused EST enrollments, oversized requests with 15 KB paths and bad bearer tokens. Every
// refusal is still accounted for, but in a bounded number of small events, and the chain
// still verifies.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../ca-service/store/db.ts';
import { startStack, type TestStack } from './helpers/stack.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'edgeseal.mjs');
const WINDOW_S = 1;
let s: TestStack;
let agent: Agent;
let ca: string;

beforeAll(async () => {
  s = await startStack({ EDGESEAL_AUDIT_REFUSAL_WINDOW_SECONDS: String(WINDOW_S) });
  ca = readFileSync(s.cp.boot.paths.rootPem, 'utf8');
  agent = new Agent({ ca, keepAlive: true, maxSockets: 8 });
});
afterAll(async () => {
  agent?.destroy();
  await s?.stop();
});

function post(path: string, headers: Record<string, string>, body: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    // without a body: an announced length over the limit, refused before it is sent
    const req = request(
      `${s.cp.httpsUrl}${path}`,
      { method: 'POST', headers, ...(body === undefined ? { agent: false, ca } : { agent }) },
      (res) => {
        res.resume();
        res.on('end', () => {
          resolve(res.statusCode ?? 0);
          if (body === undefined) req.destroy();
        });
      },
    );
    req.on('error', reject);
    if (body === undefined) req.flushHeaders();
    else req.end(body);
  });
}

const ATTACKS = [
  // EST enrollment without a credential, and with a made-up batch
  () => post('/.well-known/est/simpleenroll', { 'content-type': 'application/pkcs10' }, 'AAAA'),
  () =>
    post(
      '/.well-known/est/simpleenroll',
      {
        'content-type': 'application/pkcs10',
        authorization: `Basic ${Buffer.from(`b_guess${Math.random()}:x`).toString('base64')}`,
      },
      'AAAA',
    ),
  // 413 with a 15 KB path chosen by the attacker
  () =>
    post(
      `/v1/${'p'.repeat(15_000)}`,
      { 'content-type': 'application/json', 'content-length': '70000' },
      undefined,
    ),
  // bad bearer tokens
  () =>
    post(
      '/v1/batches',
      {
        authorization: `Bearer tok_${Math.random().toString(36).slice(2)}.wrong`,
        'content-type': 'application/json',
      },
      '{}',
    ),
];

async function auditAfter(seq: number) {
  return rowsOf<{
    seq: number;
    actor: string;
    action: string;
    reason: string;
    subject: string | null;
    details: string | null;
    bytes: number;
  }>(
    await s.database.db.execute(
      sql`select seq::int as seq, actor, action, reason, subject, details,
            length(actor) + length(action) + length(outcome) + coalesce(length(subject), 0)
            + coalesce(length(reason), 0) + coalesce(length(details), 0) + length(hash) + length(prev_hash) as bytes
          from audit_events where seq > ${seq} order by seq`,
    ),
  );
}

describe('an unauthenticated flood against the audit log', () => {
  it('adds a bounded number of small events that still count every refusal, and the chain verifies', async () => {
    const head = (await s.cp.checkpointer.checkpointNow()) ?? 0;
    const sent = new Map<string, number>();
    const statuses = new Set<number>();
    const until = Date.now() + 3000;
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = w; Date.now() < until; i++) {
          statuses.add(await ATTACKS[i % ATTACKS.length]!());
          sent.set(String(i % ATTACKS.length), (sent.get(String(i % ATTACKS.length)) ?? 0) + 1);
        }
      }),
    );
    await s.cp.refusals.flush();
    const total = [...sent.values()].reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(200);
    expect([...statuses].sort()).toEqual([401, 413]);

    const events = await auditAfter(head);
    // three keys (enroll/401, http.request/413, batch.create/401) from one source: each at
    // most one event written at once plus one counted event per window of the 3 s flood
    expect(events.length).toBeLessThanOrEqual(3 * (1 + 3 / WINDOW_S + 2));
    const bytes = events.reduce((a, e) => a + e.bytes, 0);
    expect(bytes).toBeLessThan(events.length * 700);
    for (const e of events) {
      expect(e.subject?.length ?? 0).toBeLessThan(160);
      expect(JSON.parse(e.details ?? '{}').source).toMatch(/^127\.0\.0\.1$|^::1$/);
    }
    // every refusal is accounted for: the events written at once plus the counts
    const counted = (action: string) =>
      events
        .filter((e) => e.action === action)
        .reduce((a, e) => a + ((JSON.parse(e.details ?? '{}').count as number | undefined) ?? 1), 0);
    expect(counted('certificate.enroll')).toBe(sent.get('0')! + sent.get('1')!);
    expect(counted('http.request')).toBe(sent.get('2')!);
    expect(counted('batch.create')).toBe(sent.get('3')!);
    expect(events.find((e) => e.action === 'http.request')!.subject).toMatch(
      /^POST \/v1\/p+…\[15009 chars\]$/,
    );

    const out = await promisify(execFile)(
      'node',
      [BIN, 'audit', 'verify', '--json', '--url', s.cp.httpsUrl],
      { env: { ...process.env, EDGESEAL_DATA_DIR: s.dir }, encoding: 'utf8' },
    );
    expect(JSON.parse(out.stdout)).toMatchObject({ ok: true });
  });

  it('a refusal of an authenticated caller is still its own event', async () => {
    const before = await auditAfter(0);
    const auditor = await (
      await s.api('/v1/tokens', {
        method: 'POST',
        token: s.adminToken,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ role: 'auditor' }),
      })
    ).json();
    const bearer = (auditor as { token: string }).token;
    for (let i = 0; i < 3; i++) {
      const r = await s.api('/v1/batches', {
        method: 'POST',
        token: bearer,
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(r.status).toBe(403);
    }
    const forbidden = (await auditAfter(before.at(-1)!.seq)).filter((e) => e.reason === 'ERR_FORBIDDEN');
    expect(forbidden).toHaveLength(3);
  });
});
