// Revocation end to end: the API revokes; the CRL at the distribution point URL lists the
// serial within a second; openssl verifies the CRL and then refuses the certificate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { rowsOf } from '../ca-service/store/db.ts';
import { curl } from './helpers/curl.ts';
import { type DeviceKey, makeCsr, makeKey, openssl, opensslTry, tmp, writeTmp } from './helpers/openssl.ts';
import { createBatch, createToken, estSimpleEnroll, startStack, type TestStack } from './helpers/stack.ts';

let s: TestStack;
let sec: string;
let est: string;
const dir = tmp();
const json = { 'content-type': 'application/json' };

beforeAll(async () => {
  s = await startStack();
  est = `${s.cp.httpsUrl}/.well-known/est`;
  sec = await createToken(s, 'security-admin');
});
afterAll(() => s?.stop());

const b64 = (der: Buffer) => der.toString('base64');

async function enroll(
  batch: { id: string; secret: string },
  cn: string,
  key: DeviceKey = makeKey('ec-p256', dir),
) {
  const r = await estSimpleEnroll(s, batch, makeCsr(key, `/CN=${cn}`));
  expect(r.status, r.body.toString()).toBe(200);
  const der = writeTmp(dir, `${cn}-${Math.random()}.p7`, Buffer.from(r.body.toString(), 'base64'));
  const pem = openssl(['pkcs7', '-inform', 'DER', '-in', der, '-print_certs']);
  const path = writeTmp(dir, `${cn}-${Math.random()}.pem`, pem);
  const serial = openssl(['x509', '-in', path, '-noout', '-serial'])
    .trim()
    .replace('serial=', '')
    .toLowerCase();
  return { path, serial, key };
}

const revoke = (body: unknown, token = sec) =>
  s.api('/v1/revocations', { method: 'POST', token, headers: json, body: JSON.stringify(body) });

/** Fetches the CRL from the URL inside the certificate, as a relying party would. */
async function fetchCrl(certPath: string): Promise<string> {
  const text = openssl(['x509', '-in', certPath, '-noout', '-text']);
  const url = /CRL Distribution Points:[\s\S]*?URI:(\S+)/.exec(text)![1]!;
  const port = new URL(s.cp.httpUrl).port;
  const r = await curl(url.replace(/:\d+\//, `:${port}/`));
  expect(r.status).toBe(200);
  expect(r.headers).toMatch(/content-type: application\/pkix-crl/i);
  return writeTmp(dir, `crl-${Math.random()}.der`, r.body);
}

const crlText = (p: string) => openssl(['crl', '-inform', 'DER', '-in', p, '-noout', '-text']);
const crlNumber = (p: string) => Number(/X509v3 CRL Number:\s+(\d+)/.exec(crlText(p))![1]);

describe('revocation and the CRL', () => {
  it('openssl verifies the CRL, lists a revoked serial within a second, and then refuses the certificate', async () => {
    const batch = await createBatch(s);
    const dev = await enroll(batch, 'crl-dev-1');
    const chain = s.cp.boot.paths.chainPem;
    const before = await fetchCrl(dev.path);
    const n0 = crlNumber(before);
    expect(opensslTry(['crl', '-inform', 'DER', '-in', before, '-CAfile', chain, '-noout']).out).toMatch(
      /verify OK/,
    );
    const crlPem0 = writeTmp(dir, 'crl0.pem', openssl(['crl', '-inform', 'DER', '-in', before]));
    expect(openssl(['verify', '-crl_check', '-CAfile', chain, '-CRLfile', crlPem0, dev.path])).toContain(
      ': OK',
    );

    const t0 = Date.now();
    const r = await revoke({ serial: dev.serial, reason: 'keyCompromise' });
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({
      revoked: 1,
      already_revoked: 0,
      reason: 'keyCompromise',
      serials: [dev.serial],
    });
    let after = await fetchCrl(dev.path);
    while (!crlText(after).includes(dev.serial.toUpperCase()) && Date.now() - t0 < 1000) {
      await new Promise((res) => setTimeout(res, 50));
      after = await fetchCrl(dev.path);
    }
    expect(Date.now() - t0).toBeLessThan(1000);
    const text = crlText(after);
    expect(text).toContain(`Serial Number: ${dev.serial.toUpperCase()}`);
    expect(text).toMatch(/CRL Reason Code:\s+Key Compromise/);
    expect(crlNumber(after)).toBeGreaterThan(n0);
    // signed by the issuing CA
    const verified = opensslTry(['crl', '-inform', 'DER', '-in', after, '-CAfile', chain, '-noout']);
    expect(verified.out).toMatch(/verify OK/);
    const crlPem = writeTmp(dir, 'crl1.pem', openssl(['crl', '-inform', 'DER', '-in', after]));
    const v = opensslTry(['verify', '-crl_check', '-CAfile', chain, '-CRLfile', crlPem, dev.path]);
    expect(v.status).not.toBe(0);
    expect(v.out).toMatch(/certificate revoked/);

    // re-enrollment with the revoked certificate is refused
    const re = await curl(
      `${est}/simplereenroll`,
      [
        '--cacert',
        s.cp.boot.paths.rootPem,
        '--cert',
        dev.path,
        '--key',
        dev.key.keyPath,
        '-H',
        'Content-Type: application/pkcs10',
      ],
      b64(makeCsr(dev.key, '/CN=crl-dev-1')),
    );
    expect(re.status).toBe(403);
    expect(re.body.toString()).toMatch(/revoked/);
  });

  it('is idempotent and audited once per certificate', async () => {
    const batch = await createBatch(s);
    const dev = await enroll(batch, 'idem-1');
    expect(await (await revoke({ serial: dev.serial })).json()).toMatchObject({
      revoked: 1,
      already_revoked: 0,
    });
    expect(await (await revoke({ serial: dev.serial })).json()).toMatchObject({
      revoked: 0,
      already_revoked: 1,
    });
    const [row] = rowsOf<{ n: number }>(
      await s.database.db.execute(
        sql`select count(*)::int as n from audit_events where action = 'certificate.revoke' and subject = ${dev.serial}`,
      ),
    );
    expect(row!.n).toBe(1);
  });

  it('revokes every certificate of a device, and of a batch (which also ends its credential)', async () => {
    const batch = await createBatch(s, { quota: 5 });
    const a = await enroll(batch, 'bulk-a');
    const b = await enroll(batch, 'bulk-b');
    const byDevice = (await (await revoke({ device_id: 'bulk-a', reason: 'superseded' })).json()) as {
      serials: string[];
    };
    expect(byDevice.serials).toEqual([a.serial]);
    const byBatch = (await (await revoke({ batch_id: batch.id, reason: 'cessationOfOperation' })).json()) as {
      revoked: number;
      already_revoked: number;
      serials: string[];
    };
    expect(byBatch).toMatchObject({ revoked: 1, already_revoked: 1, serials: [b.serial] });
    const again = await curl(
      `${est}/simpleenroll`,
      [
        '--cacert',
        s.cp.boot.paths.rootPem,
        '-u',
        `${batch.id}:${batch.secret}`,
        '-H',
        'Content-Type: application/pkcs10',
      ],
      b64(makeCsr(makeKey('ec-p256', dir), '/CN=bulk-c')),
    );
    expect(again.status).toBe(403);
    expect(again.body.toString()).toMatch(/has been revoked/);
  });

  it('bad revocation requests get clear errors and change nothing', async () => {
    const cases: [unknown, number, RegExp][] = [
      [{}, 400, /exactly one of serial, device_id, batch_id/],
      [{ serial: 'ab', device_id: 'x' }, 400, /exactly one of/],
      [{ serial: 'ab', reason: 'certificateHold' }, 400, /reason "certificateHold" is not one of/],
      [{ serial: 'zz' }, 400, /serial: a hex serial/],
      [{ serial: 'abcdef' }, 404, /no serial abcdef/],
      [{ device_id: 'nobody' }, 404, /no device nobody/],
    ];
    for (const [body, status, msg] of cases) {
      const r = await revoke(body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(((await r.json()) as { detail: string }).detail).toMatch(msg);
    }
    // and only security-admin may revoke
    expect((await revoke({ serial: 'abcdef' }, s.adminToken)).status).toBe(403);
  });
});
