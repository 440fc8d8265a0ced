// Every /v1 route checks the caller's role (deny by default); every refusal is audited.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../ca-service/store/db.ts';
import { craftCsr } from './helpers/craft-csr.ts';
import { createBatch, startStack, type TestStack } from './helpers/stack.ts';

let s: TestStack;
const tokens: Record<string, string> = {};
let batchId: string;
let serial: string;

beforeAll(async () => {
  s = await startStack();
  tokens.admin = s.adminToken;
  for (const role of ['auditor', 'security-admin', 'release-manager', 'gateway']) {
    const r = await s.api('/v1/tokens', {
      method: 'POST',
      token: s.adminToken,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ role, label: `test ${role}` }),
    });
    expect(r.status).toBe(201);
    tokens[role] = ((await r.json()) as { token: string }).token;
  }
  batchId = (await createBatch(s)).id;
  const [row] = rowsOf<{ serial: string }>(
    await s.database.db.execute(sql`select serial from certificates limit 1`),
  );
  serial = row!.serial;
});
afterAll(() => s?.stop());

const json = { 'content-type': 'application/json' };
type Call = { name: string; method: string; path: () => string; body?: unknown; allowed: string[] };
const calls: Call[] = [
  {
    name: 'create batch',
    method: 'POST',
    path: () => '/v1/batches',
    body: { hardware_model: 'm', quota: 1, expires_in: '1h' },
    allowed: ['admin'],
  },
  {
    name: 'list batches',
    method: 'GET',
    path: () => '/v1/batches',
    allowed: ['admin', 'auditor', 'security-admin'],
  },
  {
    name: 'read batch',
    method: 'GET',
    path: () => `/v1/batches/${batchId}`,
    allowed: ['admin', 'auditor', 'security-admin'],
  },
  {
    name: 'read certificate',
    method: 'GET',
    path: () => `/v1/certificates/${serial}`,
    allowed: ['admin', 'auditor', 'security-admin'],
  },
  {
    name: 'create token',
    method: 'POST',
    path: () => '/v1/tokens',
    body: { role: 'auditor' },
    allowed: ['admin'],
  },
  { name: 'list tokens', method: 'GET', path: () => '/v1/tokens', allowed: ['admin', 'auditor'] },
  {
    name: 'obtain a gateway server certificate',
    method: 'POST',
    path: () => '/v1/service-certificates',
    body: { kind: 'server', hosts: ['gw.example'], csr: craftCsr('gw').toString('base64') },
    allowed: ['admin', 'gateway'],
  },
  {
    name: 'obtain a backend service identity',
    method: 'POST',
    path: () => '/v1/service-certificates',
    body: { kind: 'service', name: 'sink', csr: craftCsr('sink').toString('base64') },
    allowed: ['admin'],
  },
  {
    name: 'revoke batch',
    method: 'POST',
    path: () => `/v1/batches/${batchId}/revoke`,
    allowed: ['admin', 'security-admin'],
  },
];

async function refusedCount(): Promise<number> {
  // repeated refusals of unverified callers are counted and written at the next flush
  await s.cp.refusals.flush();
  const [r] = rowsOf<{ n: number }>(
    await s.database.db.execute(sql`select count(*)::int as n from audit_events where outcome = 'refused'`),
  );
  return r!.n;
}

describe('role checks on every route', () => {
  for (const call of calls) {
    for (const role of ['admin', 'auditor', 'security-admin', 'release-manager', 'gateway']) {
      const allowed = call.allowed.includes(role);
      it(`${role} ${allowed ? 'may' : 'may not'} ${call.name}`, async () => {
        const before = await refusedCount();
        const r = await s.api(call.path(), {
          method: call.method,
          token: tokens[role],
          headers: call.body ? json : {},
          ...(call.body ? { body: JSON.stringify(call.body) } : {}),
        });
        if (allowed) {
          expect(r.status, await r.clone().text()).toBeLessThan(300);
        } else {
          expect(r.status).toBe(403);
          const p = (await r.json()) as { code: string; detail: string };
          expect(p.code).toBe('ERR_FORBIDDEN');
          expect(p.detail).toContain(`role ${role} may not`);
          expect(await refusedCount()).toBe(before + 1);
          const [last] = rowsOf<{ actor: string; reason: string }>(
            await s.database.db.execute(
              sql`select actor, reason from audit_events order by seq desc limit 1`,
            ),
          );
          expect(last!.actor).toMatch(new RegExp(`^${role}:tok_`));
          expect(last!.reason).toBe('ERR_FORBIDDEN');
        }
      });
    }
  }

  it('no token, a malformed token and a wrong secret are 401 and audited', async () => {
    for (const token of [undefined, 'garbage', `${tokens.auditor!.split('.')[0]}.wrongsecret`]) {
      const before = await refusedCount();
      const r = await s.api('/v1/batches', token ? { token } : {});
      expect(r.status).toBe(401);
      expect(await refusedCount()).toBe(before + 1);
    }
  });

  it('a revoked or expired token stops working', async () => {
    const created = await s.api('/v1/tokens', {
      method: 'POST',
      token: s.adminToken,
      headers: json,
      body: JSON.stringify({ role: 'auditor' }),
    });
    const t = (await created.json()) as { id: string; token: string };
    expect((await s.api('/v1/batches', { token: t.token })).status).toBe(200);
    const rv = await s.api(`/v1/tokens/${t.id}/revoke`, { method: 'POST', token: s.adminToken });
    expect(((await rv.json()) as { status: string }).status).toBe('revoked');
    const r = await s.api('/v1/batches', { token: t.token });
    expect(r.status).toBe(401);
    expect(((await r.json()) as { detail: string }).detail).toMatch(/revoked/);
    await s.database.db.execute(
      sql`update api_tokens set expires_at = now() - interval '1 second' where id = ${tokens['release-manager']!.split('.')[0]}`,
    );
    const ex = await s.api('/v1/batches', { token: tokens['release-manager'] });
    expect(((await ex.json()) as { detail: string }).detail).toMatch(/expired/);
  });

  it('refuses unknown roles and factory tokens with a reason', async () => {
    for (const [role, msg] of [
      ['root', /role "root" is not one of/],
      ['factory', /use production batch credentials/],
    ] as const) {
      const r = await s.api('/v1/tokens', {
        method: 'POST',
        token: s.adminToken,
        headers: json,
        body: JSON.stringify({ role }),
      });
      expect(r.status).toBe(400);
      expect(((await r.json()) as { detail: string }).detail).toMatch(msg);
    }
  });
});
