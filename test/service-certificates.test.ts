// POST /v1/service-certificates: certificates for a gateway's own key and for backend MQTT
// identities; bad requests get problem+json and record nothing.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../ca-service/store/db.ts';
import { craftCsr } from './helpers/craft-csr.ts';
import { openssl, tmp, writeTmp } from './helpers/openssl.ts';
import { startStack, type TestStack } from './helpers/stack.ts';

let s: TestStack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(() => s?.stop());

const post = (body: unknown) =>
  s.api('/v1/service-certificates', {
    method: 'POST',
    token: s.adminToken,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

async function serviceCerts(): Promise<number> {
  const [r] = rowsOf<{ n: number }>(
    await s.database.db.execute(
      sql`select count(*)::int as n from certificates where kind in ('server', 'service')`,
    ),
  );
  return r!.n;
}

describe('service certificates', () => {
  it('certifies a backend identity that openssl reads as spiffe://…/service/<name> for clientAuth', async () => {
    const r = await post({ kind: 'service', name: 'sink-1', csr: craftCsr('ignored').toString('base64') });
    expect(r.status).toBe(201);
    const body = (await r.json()) as { certificate: string; chain: string; root: string };
    const dir = tmp();
    const text = openssl(['x509', '-in', writeTmp(dir, 'c.pem', body.certificate), '-noout', '-text']);
    expect(text).toContain('URI:spiffe://edgeseal.local/service/sink-1');
    expect(text).toContain('TLS Web Client Authentication');
    const verify = openssl([
      'verify',
      '-purpose',
      'sslclient',
      '-CAfile',
      writeTmp(dir, 'root.pem', body.root),
      '-untrusted',
      writeTmp(dir, 'chain.pem', body.chain),
      writeTmp(dir, 'leaf.pem', body.certificate),
    ]);
    expect(verify).toContain(': OK');
  });

  it.each([
    [{ kind: 'server', csr: craftCsr('x').toString('base64') }, 400, /needs hosts/],
    [{ kind: 'service', csr: craftCsr('x').toString('base64') }, 400, /needs a name/],
    [{ kind: 'service', name: 'bad name!', csr: craftCsr('x').toString('base64') }, 400, /name/],
    [{ kind: 'service', name: 'ok', csr: 'not base64 at all!' }, 400, /base64|csr/i],
    [{ kind: 'service', name: 'ok', csr: Buffer.from('garbage').toString('base64') }, 400, /./],
    [{ kind: 'client', name: 'ok', csr: craftCsr('x').toString('base64') }, 400, /kind/],
    [{ kind: 'service', name: 'ok', csr: craftCsr('x').toString('base64'), extra: 1 }, 400, /extra/],
  ])('refuses %o with a problem and records nothing', async (body, status, detail) => {
    const before = await serviceCerts();
    const r = await post(body);
    expect(r.status).toBe(status);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(((await r.json()) as { detail: string }).detail).toMatch(detail);
    expect(await serviceCerts()).toBe(before);
  });
});
