// The dashboard as an attacker meets it: cross-site sign-in and sign-out are refused and
// audited, every /ui response carries the hardening headers, the cookie is a session id that
// is not the token and dies at sign-out or with its token, and the audit page verifies only
// what was added since the last view and keeps reporting tampering.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AuditLogStore } from '../ca-service/store/audit-log.ts';
import { rowsOf } from '../ca-service/store/db.ts';
import { createBatch, createToken, startStack, type TestStack } from './helpers/stack.ts';

let s: TestStack;
let ca: string;
let own: string;

beforeAll(async () => {
  s = await startStack();
  ca = readFileSync(s.cp.boot.paths.rootPem, 'utf8');
  own = s.cp.httpsUrl;
});
afterAll(() => s?.stop());

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function ui(
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; cookie?: string; form?: Record<string, string> } = {},
): Promise<Res> {
  const body = opts.form ? new URLSearchParams(opts.form).toString() : undefined;
  return new Promise((resolve, reject) => {
    const req = request(
      `${own}${path}`,
      {
        method,
        ca,
        headers: {
          ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
          ...(opts.cookie ? { cookie: `__Host-edgeseal_ui=${opts.cookie}` } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        let t = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          t += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: t }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const sessionCookie = (r: Res) =>
  /__Host-edgeseal_ui=([^;]*)/.exec(([] as string[]).concat(r.headers['set-cookie'] ?? []).join('\n'))?.[1];

async function signIn(token: string): Promise<string> {
  const r = await ui('POST', '/ui/login', { headers: { origin: own }, form: { token } });
  expect(r.status).toBe(303);
  expect(r.headers.location).toBe('/ui');
  const cookie = sessionCookie(r);
  expect(cookie).toBeTruthy();
  return cookie!;
}

async function lastRefusal(action: string) {
  await s.cp.refusals.flush();
  const [r] = rowsOf<{ actor: string; action: string; reason: string; details: string }>(
    await s.database.db.execute(
      sql`select actor, action, reason, details from audit_events where outcome = 'refused' and action = ${action} order by seq desc limit 1`,
    ),
  );
  return r!;
}

describe('cross-site requests', () => {
  it('a sign-in posted from another site is refused 403, audited, and starts no session', async () => {
    const auditor = await createToken(s, 'auditor');
    const r = await ui('POST', '/ui/login', {
      headers: { origin: 'https://evil.example' },
      form: { token: auditor },
    });
    expect(r.status).toBe(403);
    expect(sessionCookie(r)).toBeUndefined();
    expect(await lastRefusal('ui.login')).toMatchObject({
      action: 'ui.login',
      reason: 'ERR_FORBIDDEN',
      actor: 'anonymous',
    });
    expect(JSON.parse((await lastRefusal('ui.login')).details)).toMatchObject({
      origin: 'https://evil.example',
    });
    // Origin "null" (a sandboxed frame, a data: page) and Fetch Metadata saying cross-site are refused too
    const others: Record<string, string>[] = [
      { origin: 'null' },
      { origin: own, 'sec-fetch-site': 'cross-site' },
    ];
    for (const headers of others) {
      expect((await ui('POST', '/ui/login', { headers, form: { token: auditor } })).status).toBe(403);
    }
    expect(
      rowsOf<{ n: number }>(await s.database.db.execute(sql`select count(*)::int as n from ui_sessions`))[0]!
        .n,
    ).toBe(0);
  });

  it('a sign-out without Origin and with a foreign Referer is refused and audited; the session lives on', async () => {
    const cookie = await signIn(await createToken(s, 'auditor'));
    const r = await ui('POST', '/ui/logout', { cookie, headers: { referer: 'https://evil.example/page' } });
    expect(r.status).toBe(403);
    expect(await lastRefusal('ui.logout')).toMatchObject({ action: 'ui.logout', reason: 'ERR_FORBIDDEN' });
    expect(JSON.parse((await lastRefusal('ui.logout')).details)).toMatchObject({
      origin: 'https://evil.example',
    });
    // neither Origin nor Referer: refused as well
    expect((await ui('POST', '/ui/logout', { cookie })).status).toBe(403);
    expect((await ui('GET', '/ui', { cookie })).status).toBe(200);
    // our own page's form (no Origin, our Referer) is accepted
    const ok = await ui('POST', '/ui/logout', { cookie, headers: { referer: `${own}/ui/findings` } });
    expect(ok.status).toBe(303);
  });
});

describe('headers', () => {
  it('every /ui response forbids framing, sniffing and caching and keeps the Referer to itself', async () => {
    const cookie = await signIn(await createToken(s, 'auditor'));
    const responses = [
      await ui('GET', '/ui/login'),
      await ui('GET', '/ui'), // redirect to sign-in
      await ui('GET', '/ui', { cookie }),
      await ui('GET', '/ui/audit', { cookie }),
      await ui('GET', '/ui/findings', { cookie }),
      await ui('GET', '/ui/certificates/00', { cookie }), // 404
      await ui('POST', '/ui/login', { headers: { origin: 'https://evil.example' }, form: { token: 'x' } }), // 403
      await ui('POST', '/ui/login', { headers: { origin: own }, form: { token: 'tok_nope.wrong' } }), // 401
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 303, 200, 200, 200, 404, 403, 401]);
    for (const r of responses) {
      const csp = String(r.headers['content-security-policy']);
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("default-src 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.headers['cache-control']).toBe('no-store');
      expect(r.headers['referrer-policy']).toBe('same-origin');
      expect(r.headers['x-frame-options']).toBe('DENY');
    }
    // the one inline stylesheet is the one the policy allows by hash
    const page = responses[0]!;
    const css = /<style>([\s\S]*?)<\/style>/.exec(page.body)![1]!;
    expect(String(page.headers['content-security-policy'])).toContain(
      `'sha256-${createHash('sha256').update(css).digest('base64')}'`,
    );
    expect(page.body).not.toMatch(/style="/);
  });
});

describe('sessions', () => {
  it('the cookie is a random session id, not the token, stored only hashed, and useless after sign-out', async () => {
    const auditor = await createToken(s, 'auditor');
    const cookie = await signIn(auditor);
    const [id, secret] = auditor.split('.');
    expect(cookie).not.toContain(id!);
    expect(cookie).not.toContain(secret!);
    const set = ([] as string[]).concat(
      (await ui('POST', '/ui/login', { headers: { origin: own }, form: { token: auditor } })).headers[
        'set-cookie'
      ] ?? [],
    )[0]!;
    expect(set).toMatch(/HttpOnly/i);
    expect(set).toMatch(/Secure/i);
    expect(set).toMatch(/SameSite=Strict/i);
    const rows = rowsOf<{ id_hash: string; token_id: string }>(
      await s.database.db.execute(sql`select id_hash, token_id from ui_sessions where token_id = ${id!}`),
    );
    expect(rows.map((r) => r.id_hash)).toContain(createHash('sha256').update(cookie).digest('hex'));
    expect(JSON.stringify(rows)).not.toContain(cookie);
    // the raw token in the cookie is not a session
    expect((await ui('GET', '/ui', { cookie: auditor })).status).toBe(303);

    expect((await ui('GET', '/ui', { cookie })).status).toBe(200);
    const out = await ui('POST', '/ui/logout', { cookie, headers: { origin: own } });
    expect(out.status).toBe(303);
    expect(String(out.headers['set-cookie'])).toMatch(/__Host-edgeseal_ui=;.*Max-Age=0/);
    // replaying the old cookie after sign-out: back to sign-in
    const replay = await ui('GET', '/ui/audit', { cookie });
    expect(replay.status).toBe(303);
    expect(replay.headers.location).toMatch(/^\/ui\/login/);
  });

  it('a session ends when its token is revoked, or expires', async () => {
    const auditor = await createToken(s, 'auditor');
    const cookie = await signIn(auditor);
    expect((await ui('GET', '/ui', { cookie })).status).toBe(200);
    const id = auditor.split('.')[0]!;
    const r = await s.api(`/v1/tokens/${id}/revoke`, { method: 'POST', token: s.adminToken });
    expect(r.status).toBe(200);
    const after = await ui('GET', '/ui', { cookie });
    expect(after.status).toBe(303);
    expect(after.headers.location).toBe('/ui/login?ended');
    const [row] = rowsOf<{ ended: boolean }>(
      await s.database.db.execute(
        sql`select ended_at is not null as ended from ui_sessions where token_id = ${id}`,
      ),
    );
    expect(row!.ended).toBe(true);

    const other = await createToken(s, 'auditor');
    const cookie2 = await signIn(other);
    await s.database.db.execute(
      sql`update api_tokens set expires_at = now() - interval '1 second' where id = ${other.split('.')[0]!}`,
    );
    expect((await ui('GET', '/ui', { cookie: cookie2 })).status).toBe(303);
  });
});

describe('the audit page', () => {
  it('verifies only the events added since the last view, and keeps reporting a tampered one', async () => {
    const cookie = await signIn(await createToken(s, 'auditor'));
    let rowsRead = 0;
    const page = AuditLogStore.prototype.page;
    const spy = vi.spyOn(AuditLogStore.prototype, 'page').mockImplementation(async function (
      this: AuditLogStore,
      after: number,
      limit: number,
    ) {
      const rows = await page.call(this, after, limit);
      rowsRead += rows.length;
      return rows;
    });
    try {
      const first = await ui('GET', '/ui/audit', { cookie });
      expect(first.body).toMatch(/Chain intact: \d+ events/);
      rowsRead = 0;
      for (let i = 0; i < 3; i++) await createBatch(s);
      const second = await ui('GET', '/ui/audit', { cookie });
      expect(second.body).toMatch(/Chain intact/);
      expect(rowsRead).toBe(3);
      const total = rowsOf<{ n: number }>(
        await s.database.db.execute(sql`select count(*)::int as n from audit_events`),
      )[0]!.n;
      expect(total).toBeGreaterThan(20);

      // tamper with an event added after the last view: reported, and again on the next view
      await createBatch(s);
      await s.database.db.execute(
        sql`update audit_events set actor = 'admin:tok_innocent' where seq = (select max(seq) from audit_events)`,
      );
      for (let i = 0; i < 2; i++) {
        const broken = await ui('GET', '/ui/audit', { cookie });
        expect(broken.body).toMatch(/Chain BROKEN/);
        expect(broken.body).toMatch(/was changed: its content no longer matches its hash/);
      }
    } finally {
      spy.mockRestore();
    }
  });
});
