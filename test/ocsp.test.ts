// OCSP end to end with `openssl ocsp` as the relying party: good, then revoked (with time
// and reason), unknown; nonce honoured; RFC 5019 GET cacheable; garbage is malformedRequest.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toPem } from '../lib/pem.ts';
import { curl } from './helpers/curl.ts';
import { openssl, opensslAsync, opensslTry, tmp, writeTmp } from './helpers/openssl.ts';
import { enrollDevice, startStack, type TestStack } from './helpers/stack.ts';

let s: TestStack;
let sec: string;
let issuerPem: string;
let ocspUrl: string;
const dir = tmp();
const json = { 'content-type': 'application/json' };

beforeAll(async () => {
  s = await startStack();
  const r = await s.api('/v1/tokens', {
    method: 'POST',
    token: s.adminToken,
    headers: json,
    body: JSON.stringify({ role: 'security-admin' }),
  });
  sec = ((await r.json()) as { token: string }).token;
  issuerPem = writeTmp(dir, 'issuing.pem', toPem('CERTIFICATE', s.cp.boot.hierarchy.issuing.cert.der));
  ocspUrl = `${s.cp.httpUrl.replace('localhost', '127.0.0.1')}/ocsp`;
});
afterAll(() => s?.stop());

const enrolled = (cn: string) => enrollDevice(s, cn);

const ask = (certPath: string, extra: string[] = []) =>
  opensslAsync([
    'ocsp',
    '-issuer',
    issuerPem,
    '-cert',
    certPath,
    '-url',
    ocspUrl,
    '-CAfile',
    s.cp.boot.paths.chainPem,
    '-resp_text',
    ...extra,
  ]);

describe('OCSP responder', () => {
  it('answers good, then revoked with time and reason, verified by openssl against the CA, nonce echoed', async () => {
    const dev = await enrolled('ocsp-1');
    const good = await ask(dev.path);
    expect(good.out).toContain('Response verify OK');
    expect(good.out).toContain(`${dev.path}: good`);
    expect(good.out).toMatch(/OCSP Nonce:/);
    expect(good.out).not.toMatch(/WARNING: no nonce/);
    // a delegated responder: id-pkix-ocsp-nocheck and OCSP signing
    expect(good.out).toMatch(/OCSP No Check/);
    expect(good.out).toMatch(/OCSP Signing/);

    const r = await s.api('/v1/revocations', {
      method: 'POST',
      token: sec,
      headers: json,
      body: JSON.stringify({ serial: dev.serial, reason: 'keyCompromise' }),
    });
    expect(r.status).toBe(200);
    const revoked = await ask(dev.path);
    expect(revoked.out).toContain('Response verify OK');
    expect(revoked.out).toContain(`${dev.path}: revoked`);
    expect(revoked.out).toMatch(/Reason: keyCompromise/);
    expect(revoked.out).toMatch(/Revocation Time:/);
  });

  it('answers unknown for a serial this CA never issued', async () => {
    const r = await opensslAsync([
      'ocsp',
      '-issuer',
      issuerPem,
      '-serial',
      '0x1234abcd',
      '-url',
      ocspUrl,
      '-CAfile',
      s.cp.boot.paths.chainPem,
    ]);
    expect(r.out).toContain('Response verify OK');
    expect(r.out).toContain('0x1234abcd: unknown');
  });

  it('serves RFC 5019 GET with a cacheable response, and drops the cached "good" the moment the serial is revoked', async () => {
    const dev = await enrolled('ocsp-get');
    const reqDer = writeTmp(dir, 'req.der', Buffer.alloc(0));
    openssl(['ocsp', '-issuer', issuerPem, '-cert', dev.path, '-no_nonce', '-reqout', reqDer]);
    const url = `${ocspUrl}/${encodeURIComponent(
      Buffer.from(openssl(['base64', '-A', '-in', reqDer]), 'utf8')
        .toString()
        .trim(),
    )}`;
    const check = async () => {
      const g = await curl(url);
      expect(g.status).toBe(200);
      expect(g.headers).toMatch(/content-type: application\/ocsp-response/i);
      const resp = writeTmp(dir, `resp-${Math.random()}.der`, g.body);
      const out = openssl([
        'ocsp',
        '-respin',
        resp,
        '-issuer',
        issuerPem,
        '-cert',
        dev.path,
        '-CAfile',
        s.cp.boot.paths.chainPem,
        '-no_nonce',
      ]);
      return { out, headers: g.headers };
    };
    const first = await check();
    expect(first.out).toContain(`${dev.path}: good`);
    expect(first.headers).toMatch(/cache-control: public, max-age=60/i);
    await s.api('/v1/revocations', {
      method: 'POST',
      token: sec,
      headers: json,
      body: JSON.stringify({ serial: dev.serial }),
    });
    expect((await check()).out).toContain(`${dev.path}: revoked`);
  });

  it('answers garbage with malformedRequest, and a wrong content type with 415', async () => {
    const bad = await curl(ocspUrl, ['-H', 'Content-Type: application/ocsp-request'], 'not an OCSP request');
    expect(bad.status).toBe(200);
    const resp = writeTmp(dir, 'bad.der', bad.body);
    expect(opensslTry(['ocsp', '-respin', resp, '-resp_text', '-noverify']).out).toMatch(
      /malformedrequest \(1\)/i,
    );
    const wrong = await curl(ocspUrl, ['-H', 'Content-Type: text/plain'], 'x');
    expect(wrong.status).toBe(415);
    const getBad = await curl(`${ocspUrl}/%%%`);
    expect(getBad.status).toBe(200);
  });
});
