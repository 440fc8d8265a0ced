// Issue 7 item 8 for the API: `POST /v1/tokens` with `expires_in: "9999999d"` got a 500 and
// a log line carrying the failed INSERT's parameters (the new token's secret hash). Now the
// expiry is range-checked (problem+json 400 naming the value), and whatever database error is
// logged, its line carries no parameter value. And a bounded fuzz run of CSRs over EST and
// /v1/enroll gets 4xx answers, never a 500.
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCaConfig } from '../ca-service/config.ts';
import { type ControlPlane, startControlPlane } from '../ca-service/main.ts';
import { type Database, openDatabase } from '../ca-service/store/db.ts';
import { toPem } from '../lib/pem.ts';
import { byteMutants, encodeTree, structuralMutations } from './helpers/der-mutate.ts';
import { makeCsr, makeKey, tmp } from './helpers/openssl.ts';
import { freshDatabaseUrl, httpsFetch } from './helpers/stack.ts';

let cp: ControlPlane;
let database: Database;
let agent: Agent;
let admin: string;
let dropDatabase: () => Promise<void> = async () => {};
const lines: string[] = [];

beforeAll(async () => {
  // a control plane whose log lines this test reads
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  // PGlite, or a fresh Postgres database when DATABASE_URL is set (as helpers/stack.ts does)
  const db = await freshDatabaseUrl();
  dropDatabase = db.drop;
  database = await openDatabase({ databaseUrl: db.url });
  cp = await startControlPlane(
    parseCaConfig({
      EDGESEAL_DATA_DIR: tmp(),
      EDGESEAL_HTTPS_PORT: '0',
      EDGESEAL_HTTP_PORT: '0',
      ...(db.url ? { DATABASE_URL: db.url } : {}),
    }),
    { database, log: pino({ level: 'info' }, stream), announce: false },
  );
  admin = readFileSync(cp.boot.paths.adminToken, 'utf8').trim();
  agent = new Agent({ ca: readFileSync(cp.boot.paths.rootPem, 'utf8'), keepAlive: true });
});
afterAll(async () => {
  await cp?.close();
  agent?.destroy();
  await database?.close();
  await dropDatabase();
});

const api = (path: string, init: RequestInit & { token?: string } = {}) =>
  httpsFetch(`${cp.httpsUrl}${path}`, agent, init);
const createToken = (body: object) =>
  api('/v1/tokens', {
    method: 'POST',
    token: admin,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
const linesOf = (requestId: string) => lines.filter((l) => l.includes(requestId));

describe('API tokens: the expiry is range-checked', () => {
  it.each(['9999999d', '3651d', '30s'])(
    'expires_in "%s" is a 400 problem naming the value',
    async (value) => {
      const r = await createToken({ role: 'auditor', expires_in: value });
      expect(r.status).toBe(400);
      expect(r.headers.get('content-type')).toBe('application/problem+json');
      const p = (await r.json()) as { code: string; detail: string; request_id: string };
      expect(p.code).toBe('ERR_INVALID_REQUEST');
      expect(p.detail).toContain(`"${value}"`);
      // a refusal, not a failure: nothing logged as an error
      expect(linesOf(p.request_id).filter((l) => l.includes('"level":50'))).toEqual([]);
    },
  );

  it('the bounds themselves are accepted', async () => {
    for (const value of ['60s', '3650d']) {
      expect((await createToken({ role: 'auditor', expires_in: value })).status).toBe(201);
    }
  });
});

describe('no log line carries SQL parameters', () => {
  it('a forced database error on INSERT is logged with its code and constraint, without the values', async () => {
    // force the token INSERT to fail: a constraint the marker label violates
    await database.db.execute(
      sql`alter table api_tokens add constraint edgeseal_test_no_marker check (label is null or label not like 'marker-%')`,
    );
    try {
      const marker = `marker-${Math.random().toString(36).slice(2)}`;
      const r = await createToken({ role: 'auditor', label: marker });
      expect(r.status).toBe(500);
      const body = await r.text();
      expect(body).not.toContain(marker);
      const { request_id } = JSON.parse(body) as { request_id: string };
      const logged = linesOf(request_id).find((l) => l.includes('"level":50'));
      expect(logged).toBeDefined();
      // the error is there: the SQL (placeholders only), SQLSTATE and constraint name
      expect(logged).toContain('insert into');
      expect(logged).toContain('23514');
      expect(logged).toContain('edgeseal_test_no_marker');
      // the parameters are not: the label, the role, the new id, the secret hash, the row
      expect(logged).not.toContain(marker);
      expect(logged).not.toMatch(/params|Failing row|"auditor"/);
      expect(logged).not.toMatch(/tok_[a-z0-9]{6,}/);
      expect(logged).not.toMatch(/[0-9a-f]{64}/);
    } finally {
      await database.db.execute(sql`alter table api_tokens drop constraint edgeseal_test_no_marker`);
    }
  });
});

describe('CSRs over the network: 4xx, never a 500', () => {
  it('a bounded fuzz run over EST simpleenroll and /v1/enroll', async () => {
    const b = await api('/v1/batches', {
      method: 'POST',
      token: admin,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ hardware_model: 'cam-v2', quota: 5000, expires_in: '1h' }),
    });
    const batch = (await b.json()) as { id: string; secret: string };
    const basic = `Basic ${Buffer.from(`${batch.id}:${batch.secret}`).toString('base64')}`;
    const csr = makeCsr(makeKey('ec-p256'), '/CN=cam-fuzz/OU=cam-v2');
    const inputs = [
      ...structuralMutations(csr).map((m) => m.bytes ?? encodeTree(m.tree!)),
      ...byteMutants(csr, 300, 0xc5a),
    ];
    const statuses = new Map<number, number>();
    for (let i = 0; i < inputs.length; i += 8) {
      await Promise.all(
        inputs.slice(i, i + 8).map(async (der, j) => {
          const r =
            (i + j) % 2 === 0
              ? await api('/.well-known/est/simpleenroll', {
                  method: 'POST',
                  headers: { authorization: basic, 'content-type': 'application/pkcs10' },
                  body: der.toString('base64'),
                })
              : await api('/v1/enroll', {
                  method: 'POST',
                  headers: { authorization: basic, 'content-type': 'application/json' },
                  body: JSON.stringify({ csr: toPem('CERTIFICATE REQUEST', der) }),
                });
          await r.arrayBuffer();
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        }),
      );
    }
    expect([...statuses.keys()].filter((st) => st >= 500)).toEqual([]);
    expect(statuses.get(400)).toBeGreaterThan(inputs.length / 2);
  });
});
