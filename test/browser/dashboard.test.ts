// The auditor dashboard in a real browser (Debian chromium driven by playwright-core): sign
// in with an auditor token, find a revoked certificate, open its decoded detail, see the
// audit chain intact. Runs in the integration suite (`npm run test:integration`), which CI
// runs after installing chromium.
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tmp } from '../helpers/openssl.ts';
import { createToken, enrollDevice, startStack, type TestStack } from '../helpers/stack.ts';

let s: TestStack;
let browser: Browser;
let auditor: string;
let revokedSerial: string;
const dir = tmp();
const json = { 'content-type': 'application/json' };

const token = (role: string) => createToken(s, role);

beforeAll(async () => {
  s = await startStack();
  auditor = await token('auditor');
  const sec = await token('security-admin');
  await enrollDevice(s, 'ui-good-1');
  revokedSerial = (await enrollDevice(s, 'ui-bad-1')).serial;
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
