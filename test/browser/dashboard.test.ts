// The auditor dashboard in a real browser (Debian chromium driven by playwright-core): sign
// in with an auditor token, find a revoked certificate, open its decoded detail, see the
// audit chain intact. Runs in the integration suite (`npm run test:integration`), which CI
// runs after installing chromium.
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl } from '../helpers/curl.ts';
import { makeCsr, makeKey, openssl, tmp, writeTmp } from '../helpers/openssl.ts';
import { createBatch, startStack, type TestStack } from '../helpers/stack.ts';

let s: TestStack;
let browser: Browser;
let auditor: string;
let revokedSerial: string;
const dir = tmp();
const json = { 'content-type': 'application/json' };

const token = async (role: string) =>
  (
    (await (
      await s.api('/v1/tokens', {
        method: 'POST',
        token: s.adminToken,
        headers: json,
        body: JSON.stringify({ role }),
      })
    ).json()) as { token: string }
  ).token;

beforeAll(async () => {
  s = await startStack();
  auditor = await token('auditor');
  const sec = await token('security-admin');
  const batch = await createBatch(s, { hardware_model: 'cam-v2' });
  for (const cn of ['ui-good-1', 'ui-bad-1']) {
    const r = await curl(
      `${s.cp.httpsUrl}/.well-known/est/simpleenroll`,
      [
        '--cacert',
        s.cp.boot.paths.rootPem,
        '-u',
        `${batch.id}:${batch.secret}`,
        '-H',
        'Content-Type: application/pkcs10',
      ],
      makeCsr(makeKey('ec-p256', dir), `/CN=${cn}`).toString('base64'),
    );
    const p7 = writeTmp(dir, `${cn}.p7`, Buffer.from(r.body.toString(), 'base64'));
    const pem = writeTmp(dir, `${cn}.pem`, openssl(['pkcs7', '-inform', 'DER', '-in', p7, '-print_certs']));
    if (cn === 'ui-bad-1')
      revokedSerial = openssl(['x509', '-in', pem, '-noout', '-serial'])
        .trim()
        .replace('serial=', '')
        .toLowerCase();
  }
  await s.api('/v1/revocations', {
    method: 'POST',
    token: sec,
    headers: json,
    body: JSON.stringify({ serial: revokedSerial, reason: 'keyCompromise' }),
  });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});
afterAll(async () => {
  await browser?.close();
  await s?.stop();
});

describe('auditor dashboard', () => {
  it('an auditor signs in, finds the revoked certificate, and reads its detail and the audit chain', async () => {
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await ctx.newPage();
    await page.goto(`${s.cp.httpsUrl}/ui`);
    expect(page.url()).toMatch(/\/ui\/login$/);
    await page.fill('input[name=token]', 'tok_wrong.secret');
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('main')).toMatch(/not accepted/);
    await page.fill('input[name=token]', auditor);
    await page.click('button[type=submit]');
    await page.waitForURL(/\/ui$/);
    expect(await page.textContent('h1')).toBe('Certificates');

    await page.selectOption('select[name=status]', 'revoked');
    await page.click('form.filters button[type=submit]');
    await page.waitForURL(/status=revoked/);
    const rows = page.locator('tbody tr');
    expect(await rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain('ui-bad-1');
    await page.click(`a[href="/ui/certificates/${revokedSerial}"]`);
    await page.waitForURL(new RegExp(revokedSerial));
    const detail = (await page.textContent('main'))!;
    expect(detail).toMatch(/revoked since .*\(keyCompromise\)/);
    expect(detail).toContain('URI:spiffe://edgeseal.local/device/ui-bad-1');
    expect(detail).toContain('-----BEGIN CERTIFICATE-----');
    await page.screenshot({ path: `${dir}/detail.png` });

    await page.click('a[href="/ui/audit"]');
    expect(await page.textContent('p.ok')).toMatch(/Chain intact: \d+ events/);
    await page.click('a[href="/ui/findings"]');
    expect(await page.textContent('h1')).toBe('Hygiene findings');
    await ctx.close();
  });

  it('a release-manager token cannot sign in', async () => {
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await ctx.newPage();
    await page.goto(`${s.cp.httpsUrl}/ui/login`);
    await page.fill('input[name=token]', await token('release-manager'));
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('main')).toMatch(/role release-manager may not audit.read/);
    await ctx.close();
  });
});
