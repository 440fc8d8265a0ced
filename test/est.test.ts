// EST (RFC 7030) end to end with real clients: keys and CSRs from openssl, requests from
// curl, answers checked with openssl. Runs on PGlite, and on Postgres when DATABASE_URL is set.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl } from './helpers/curl.ts';
import { makeCsr, makeKey, openssl, tmp, writeTmp } from './helpers/openssl.ts';
import { createBatch, startStack, type TestStack } from './helpers/stack.ts';

let s: TestStack;
let est: string;
let rootPem: string;
let chainPem: string;
const dir = tmp();

beforeAll(async () => {
  s = await startStack();
  est = `${s.cp.httpsUrl}/.well-known/est`;
  rootPem = s.cp.boot.paths.rootPem;
  chainPem = s.cp.boot.paths.chainPem;
});
afterAll(() => s?.stop());

const b64 = (der: Buffer) => der.toString('base64').replace(/.{64}/g, '$&\n');

/** Decodes a base64 certs-only PKCS#7 body with openssl and returns the PEM certificates. */
function certsFromPkcs7(body: Buffer): string {
  const der = writeTmp(dir, `p7-${Math.random()}.der`, Buffer.from(body.toString('ascii'), 'base64'));
  return openssl(['pkcs7', '-inform', 'DER', '-in', der, '-print_certs']);
}

function enroll(batch: { id: string; secret: string }, csrDer: Buffer, extra: string[] = []) {
  return curl(
    `${est}/simpleenroll`,
    [
      '--cacert',
      rootPem,
      '-u',
      `${batch.id}:${batch.secret}`,
      '-H',
      'Content-Type: application/pkcs10',
      ...extra,
    ],
    b64(csrDer),
  );
}

describe('EST cacerts and csrattrs', () => {
  it('cacerts returns the issuing CA and root as base64 certs-only PKCS#7', async () => {
    const r = await curl(`${est}/cacerts`, ['--cacert', rootPem]);
    expect(r.status).toBe(200);
    expect(r.headers).toMatch(/content-type: application\/pkcs7-mime/i);
    expect(r.headers).toMatch(/content-transfer-encoding: base64/i);
    const certs = certsFromPkcs7(r.body);
    expect(certs).toContain('subject=CN = edgeseal Device Issuing CA, O = edgeseal');
    expect(certs).toContain('subject=CN = edgeseal Root CA, O = edgeseal');
  });

  it('the HTTPS server certificate chains to the root that cacerts returns, for localhost and 127.0.0.1', async () => {
    const port = new URL(s.cp.httpsUrl).port;
    for (const host of ['localhost', '127.0.0.1']) {
      const r = await curl(`https://${host}:${port}/health`, ['--cacert', rootPem]);
      expect(r.status).toBe(200);
    }
  });

  it('csrattrs asks for ECDSA with SHA-256 on P-256', async () => {
    const r = await curl(`${est}/csrattrs`, ['--cacert', rootPem]);
    expect(r.status).toBe(200);
    expect(r.headers).toMatch(/content-type: application\/csrattrs/i);
    const der = writeTmp(dir, 'attrs.der', Buffer.from(r.body.toString('ascii'), 'base64'));
    const parsed = openssl(['asn1parse', '-inform', 'DER', '-in', der]);
    expect(parsed).toContain('ecdsa-with-SHA256');
    expect(parsed).toContain('prime256v1');
  });
});

describe('EST simpleenroll', () => {
  it('issues a certificate for an openssl CSR that openssl verifies against the EST root, with the full profile', async () => {
    const batch = await createBatch(s, { hardware_model: 'cam-v2', quota: 5 });
    const key = makeKey('ec-p256', dir);
    const r = await enroll(batch, makeCsr(key, '/CN=cam-0001'));
    expect(r.status, r.body.toString()).toBe(200);
    expect(r.headers).toMatch(/content-type: application\/pkcs7-mime; smime-type=certs-only/i);
    const leaf = writeTmp(dir, 'cam-0001.pem', certsFromPkcs7(r.body));
    expect(
      openssl(['verify', '-CAfile', rootPem, '-untrusted', chainPem, '-purpose', 'sslclient', leaf]),
    ).toContain(': OK');
    const text = openssl(['x509', '-in', leaf, '-noout', '-text']);
    expect(text).toContain('Subject: CN = cam-0001, OU = cam-v2');
    expect(text).toContain('URI:spiffe://edgeseal.local/device/cam-0001');
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/Extended Key Usage: \s+TLS Web Client Authentication/);
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toContain('X509v3 Authority Key Identifier');
    expect(text).toContain('X509v3 Subject Key Identifier');
    expect(text).toMatch(
      /CRL Distribution Points:[\s\S]*URI:http:\/\/localhost:\d+\/crl\/ica-[0-9a-f]+\.crl/,
    );
    expect(text).toMatch(/OCSP - URI:http:\/\/localhost:\d+\/ocsp/);
    expect(text).toMatch(/CA Issuers - URI:http:\/\/localhost:\d+\/ca\/ica-[0-9a-f]+\.crt/);
    // serial: random, positive, ≥ 64 bits
    const serial = openssl(['x509', '-in', leaf, '-noout', '-serial']).trim().replace('serial=', '');
    expect(serial).toMatch(/^[4-7][0-9A-F]{31}$/);
    // stored, and its issuance audited, before it was returned
    const rec = await s.api(`/v1/certificates/${serial}`, { token: s.adminToken });
    expect(rec.status).toBe(200);
    expect(((await rec.json()) as { device_id: string }).device_id).toBe('cam-0001');
  });

  it('the caIssuers URL in the certificate serves the issuing CA as DER over plain HTTP', async () => {
    const r = await curl(`${s.cp.httpUrl}/ca/${s.cp.boot.hierarchy.issuing.id}.crt`);
    expect(r.status).toBe(200);
    expect(r.headers).toMatch(/content-type: application\/pkix-cert/i);
    expect(r.body.equals(s.cp.boot.hierarchy.issuing.cert.der)).toBe(true);
  });

  it.each(['ec-p384', 'ed25519', 'rsa-2048'] as const)('accepts %s keys', async (spec) => {
    const batch = await createBatch(s);
    const r = await enroll(batch, makeCsr(makeKey(spec, dir), `/CN=dev-${spec}`));
    expect(r.status, r.body.toString()).toBe(200);
  });

  it('device ids are unique regardless of case: CAM-0100 beside cam-0100 is refused, also when both race', async () => {
    const batch = await createBatch(s, { quota: 10 });
    expect((await enroll(batch, makeCsr(makeKey('ec-p256', dir), '/CN=cam-0100'))).status).toBe(200);
    const upper = await enroll(batch, makeCsr(makeKey('ec-p256', dir), '/CN=CAM-0100'));
    expect(upper.status).toBe(409);
    expect(upper.body.toString()).toMatch(/already enrolled|concurrent/);
    // both spellings at once: exactly one wins
    const race = await Promise.all(
      ['Cam-0200', 'cAM-0200', 'CAM-0200'].map((cn) =>
        enroll(batch, makeCsr(makeKey('ec-p256', dir), `/CN=${cn}`)),
      ),
    );
    expect(race.map((r) => r.status).sort()).toEqual([200, 409, 409]);
  });

  it('re-enrolls over mTLS with the issued certificate: renew with the same key, rekey with a new one', async () => {
    const batch = await createBatch(s);
    const key = makeKey('ec-p256', dir);
    const first = await enroll(batch, makeCsr(key, '/CN=cam-renew'));
    expect(first.status).toBe(200);
    const certPath = writeTmp(dir, 'renew-1.pem', certsFromPkcs7(first.body));
    const mtls = [
      '--cacert',
      rootPem,
      '--cert',
      certPath,
      '--key',
      key.keyPath,
      '-H',
      'Content-Type: application/pkcs10',
    ];

    const renew = await curl(`${est}/simplereenroll`, mtls, b64(makeCsr(key, '/CN=cam-renew')));
    expect(renew.status, renew.body.toString()).toBe(200);
    const renewed = writeTmp(dir, 'renew-2.pem', certsFromPkcs7(renew.body));
    expect(openssl(['verify', '-CAfile', rootPem, '-untrusted', chainPem, renewed])).toContain(': OK');
    const serialOf = (p: string) => openssl(['x509', '-in', p, '-noout', '-serial']);
    expect(serialOf(renewed)).not.toBe(serialOf(certPath));

    // the renewed certificate supersedes the first: only it may re-enroll now
    const stale = await curl(`${est}/simplereenroll`, mtls, b64(makeCsr(key, '/CN=cam-renew')));
    expect(stale.status).toBe(403);
    expect(stale.body.toString()).toMatch(/superseded/);
    const mtls2 = mtls.map((a) => (a === certPath ? renewed : a));
    const newKey = makeKey('ec-p256', dir);
    const rekey = await curl(`${est}/simplereenroll`, mtls2, b64(makeCsr(newKey, '/CN=cam-renew')));
    expect(rekey.status, rekey.body.toString()).toBe(200);
    const rekeyed = writeTmp(dir, 'renew-3.pem', certsFromPkcs7(rekey.body));
    const pub = (args: string[]) => execFileSync('openssl', args, { encoding: 'utf8' });
    expect(pub(['x509', '-in', rekeyed, '-noout', '-pubkey'])).toBe(
      pub(['pkey', '-in', newKey.keyPath, '-pubout']),
    );

    // another device's name is refused: re-enrollment keeps the subject (RFC 7030 §4.2.2)
    const mtls3 = [...mtls.map((a) => (a === certPath ? rekeyed : a === key.keyPath ? newKey.keyPath : a))];
    const other = await curl(`${est}/simplereenroll`, mtls3, b64(makeCsr(newKey, '/CN=someone-else')));
    expect(other.status).toBe(400);
    expect(other.body.toString()).toMatch(/must keep the subject/);
  });

  it('refuses re-enrollment without a client certificate, and with one from another CA', async () => {
    const key = makeKey('ec-p256', dir);
    const none = await curl(
      `${est}/simplereenroll`,
      ['--cacert', rootPem, '-H', 'Content-Type: application/pkcs10'],
      b64(makeCsr(key, '/CN=x')),
    );
    expect(none.status).toBe(401);
    const foreign = join(dir, 'foreign.pem');
    openssl(['req', '-x509', '-new', '-key', key.keyPath, '-subj', '/CN=x', '-days', '1', '-out', foreign]);
    const r = await curl(
      `${est}/simplereenroll`,
      [
        '--cacert',
        rootPem,
        '--cert',
        foreign,
        '--key',
        key.keyPath,
        '-H',
        'Content-Type: application/pkcs10',
      ],
      b64(makeCsr(key, '/CN=x')),
    );
    expect(r.status).toBe(401);
    expect(r.body.toString()).toMatch(/client certificate rejected/);
  });
});
