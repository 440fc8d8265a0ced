// The attacks of issue 7 items 1 and 4, as an attacker holding a device key would run them:
// renewal loops racing a revocation, and an older certificate trying to outlive its
// successor. Afterwards nothing the device was ever issued is valid: OCSP, the CRL and the
// gateway all say so.
import { createPrivateKey, generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../gateway/main.ts';
import { children, readTop } from '../lib/der/decode.ts';
import { toPem } from '../lib/pem.ts';
import { buildCsr } from '../lib/x509/build-csr.ts';
import { auditEvents, certificates } from '../migrations/schema/index.ts';
import { curl } from './helpers/curl.ts';
import { deviceIdentity, mosquittoPub, rootOf, startTestGateway } from './helpers/mqtt.ts';
import { makeKey, openssl, opensslAsync, tmp, writeTmp } from './helpers/openssl.ts';
import {
  createBatch,
  enrollDevice,
  estSimpleEnroll,
  revokeVia,
  startStack,
  type TestStack,
} from './helpers/stack.ts';

let s: TestStack;
let gw: Gateway;
const dir = tmp();
let issuerPem: string;

beforeAll(async () => {
  s = await startStack();
  gw = await startTestGateway(s);
  issuerPem = writeTmp(dir, 'issuing.pem', toPem('CERTIFICATE', s.cp.boot.hierarchy.issuing.cert.der));
}, 60_000);
afterAll(async () => {
  await gw?.close();
  await s?.stop();
});

interface Held {
  readonly certPem: string;
  readonly key: KeyObject;
}

/** simplereenroll over mTLS with `held`, for `csr`: the status and the new certificate (PEM). */
function reenroll(held: Held, csr: Buffer): Promise<{ status: number; body: string; certPem?: string }> {
  const agent = new Agent({
    ca: readFileSync(s.cp.boot.paths.rootPem),
    cert: held.certPem,
    key: held.key.export({ type: 'pkcs8', format: 'pem' }),
    keepAlive: false,
  });
  return new Promise((resolve, reject) => {
    const req = request(
      `${s.cp.httpsUrl}/.well-known/est/simplereenroll`,
      { method: 'POST', agent, headers: { 'content-type': 'application/pkcs10' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          agent.destroy();
          const body = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200) return resolve({ status: res.statusCode ?? 0, body });
          resolve({
            status: 200,
            body,
            certPem: toPem('CERTIFICATE', firstCertOf(Buffer.from(body, 'base64'))),
          });
        });
      },
    );
    req.on('error', reject);
    req.end(csr.toString('base64'));
  });
}

/** The first certificate of a certs-only PKCS#7 (RFC 5652 §5.1 SignedData.certificates): the leaf. */
function firstCertOf(p7: Buffer): Buffer {
  const [, content] = children(readTop(p7));
  const signedData = children(children(content!)[0]!);
  const certs = signedData.find((n) => n.tag === 0xa0)!;
  const leaf = children(certs)[0]!;
  return p7.subarray(leaf.start, leaf.end);
}

const serialOf = (pem: string) => new X509Certificate(pem).serialNumber.toLowerCase().replace(/^(00)+/, '');

async function deviceCerts(deviceId: string) {
  return s.database.db
    .select({ serial: certificates.serial, revokedAt: certificates.revokedAt, der: certificates.der })
    .from(certificates)
    .where(eq(certificates.deviceId, deviceId));
}

async function ocspStatus(certPem: string): Promise<string> {
  const path = writeTmp(dir, `o-${Math.random()}.pem`, certPem);
  const r = await opensslAsync([
    'ocsp',
    '-issuer',
    issuerPem,
    '-cert',
    path,
    '-url',
    `${s.cp.httpUrl.replace('localhost', '127.0.0.1')}/ocsp`,
    '-CAfile',
    s.cp.boot.paths.chainPem,
  ]);
  return /: (good|revoked|unknown)/.exec(r.out)?.[1] ?? r.out;
}

async function crlSerials(): Promise<string> {
  const r = await curl(`${s.cp.httpUrl}/crl/${s.cp.boot.hierarchy.issuing.id}.crl`);
  expect(r.status).toBe(200);
  const p = writeTmp(dir, `crl-${Math.random()}.der`, r.body);
  return openssl(['crl', '-inform', 'DER', '-in', p, '-noout', '-text']).toLowerCase();
}

/** Every certificate of the device revoked everywhere a relying party looks. */
async function expectNothingValid(deviceId: string): Promise<number> {
  const rows = await deviceCerts(deviceId);
  expect(rows.filter((r) => !r.revokedAt).map((r) => r.serial)).toEqual([]);
  let crl = '';
  const t0 = Date.now();
  // the CRL is rebuilt within a second of a revocation
  while (Date.now() - t0 < 3000) {
    crl = await crlSerials();
    if (rows.every((r) => crl.includes(r.serial.replace(/^0+/, '')))) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  for (const r of rows) {
    expect(crl).toContain(r.serial.replace(/^0+/, ''));
    expect(await ocspStatus(toPem('CERTIFICATE', r.der))).toBe('revoked');
  }
  return rows.length;
}

describe('a revoked device stays revoked (issue 7, item 1)', () => {
  it('renewal loops racing a device revocation leave no valid certificate, in OCSP, the CRL or at the gateway', async () => {
    // several devices at once, each with its own loops and its own revocation moment
    await Promise.all(Array.from({ length: 24 }, (_, round) => raceOne(`race-${round}`, round % 8)));
  }, 120_000);
});

/** Renewal loops on one device; revoked `jitterMs` after its third renewal, mid-flight. */
async function raceOne(deviceId: string, jitterMs: number): Promise<void> {
  {
    const dev = await enrollDevice(s, deviceId);
    const key = createPrivateKey(readFileSync(dev.keyPath));
    let latest: Held = { certPem: readFileSync(dev.path, 'utf8'), key };
    let revoked = false;
    let renewed = 0;
    const loop = async () => {
      // keep renewing with the newest certificate known, as a device (or its thief) would
      for (let i = 0; i < 200; i++) {
        const held = latest;
        const r = await reenroll(held, buildCsr(key, deviceId));
        if (r.status === 200) {
          renewed++;
          latest = { certPem: r.certPem!, key };
        } else if (revoked) {
          return;
        }
      }
    };
    const loops = Array.from({ length: 2 }, loop);
    // revoke in the middle of the renewals
    while (renewed < 3) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, jitterMs));
    const rv = await revokeVia(s, { device_id: deviceId, reason: 'keyCompromise' });
    expect(rv.status).toBe(200);
    revoked = true;
    await Promise.all(loops);
    expect(renewed).toBeGreaterThan(0);
    const n = await expectNothingValid(deviceId);
    expect(n).toBe(renewed + 1);
    // whatever committed after the revocation call returned is revoked too (checked above);
    // the newest certificate the thief holds does not get it onto the gateway
    const certPath = writeTmp(dir, `${deviceId}-latest.pem`, latest.certPem);
    const pub = await mosquittoPub(gw, rootOf(s), deviceIdentity({ ...dev, path: certPath }), deviceId, [
      '-t',
      `devices/${deviceId}/status`,
      '-m',
      'up',
    ]);
    expect(pub.status).not.toBe(0);
    expect(pub.out).toMatch(/not authori[sz]ed|Connection Refused/i);
    // and it cannot renew any more
    expect((await reenroll(latest, buildCsr(key, deviceId))).status).toBe(403);
  }
}

describe('a revoked batch stays revoked (issue 7, item 1)', () => {
  it('enrollments racing a batch revocation leave no valid certificate of the batch', async () => {
    const batch = await createBatch(s, { quota: 200 });
    let n = 0;
    let ok = 0;
    const loop = async (k: number) => {
      // enroll until the batch credential stops working
      for (;;) {
        // a fresh key per device: one key, one device
        const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
        const r = await estSimpleEnroll(s, batch, buildCsr(key, `bat-${k}-${n++}`));
        if (r.status !== 200) return;
        ok++;
      }
    };
    const loops = [0, 1, 2, 3].map(loop);
    while (ok < 3) await new Promise((r) => setTimeout(r, 5));
    expect((await revokeVia(s, { batch_id: batch.id, reason: 'cessationOfOperation' })).status).toBe(200);
    await Promise.all(loops);
    const rows = await s.database.db
      .select({ serial: certificates.serial, revokedAt: certificates.revokedAt })
      .from(certificates)
      .where(eq(certificates.batchId, batch.id));
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.filter((r) => !r.revokedAt)).toEqual([]);
  }, 60_000);
});

describe('an old certificate cannot outlive its successor (issue 7, item 4)', () => {
  it('only the newest certificate may re-enroll; the superseded one is refused and the refusal audited', async () => {
    const dev = await enrollDevice(s, 'sup-1');
    const key = createPrivateKey(readFileSync(dev.keyPath));
    const first: Held = { certPem: readFileSync(dev.path, 'utf8'), key };
    const r1 = await reenroll(first, buildCsr(key, 'sup-1'));
    expect(r1.status).toBe(200);
    const again = await reenroll(first, buildCsr(key, 'sup-1'));
    expect(again.status).toBe(403);
    expect(again.body).toMatch(/superseded/);
    const refusals = await s.database.db
      .select({ reason: auditEvents.reason, subject: auditEvents.subject })
      .from(auditEvents)
      .where(eq(auditEvents.action, 'certificate.reenroll'));
    expect(refusals).toContainEqual({ reason: 'ERR_CERT_SUPERSEDED', subject: 'sup-1' });
    // the newest still renews
    expect((await reenroll({ certPem: r1.certPem!, key }, buildCsr(key, 'sup-1'))).status).toBe(200);
  });

  it('revoking the newer certificate for keyCompromise revokes the older one with the same key', async () => {
    const dev = await enrollDevice(s, 'sup-2');
    const key = createPrivateKey(readFileSync(dev.keyPath));
    const first: Held = { certPem: readFileSync(dev.path, 'utf8'), key };
    const r1 = await reenroll(first, buildCsr(key, 'sup-2'));
    expect(r1.status).toBe(200);
    expect(await ocspStatus(first.certPem)).toBe('good');
    const rv = await revokeVia(s, { serial: serialOf(r1.certPem!), reason: 'keyCompromise' });
    expect(rv.status).toBe(200);
    expect(await ocspStatus(first.certPem)).toBe('revoked');
    expect((await reenroll(first, buildCsr(key, 'sup-2'))).status).toBe(403);
  });

  it('after a rekey, revoking the newer certificate revokes the older one too (audited as superseded)', async () => {
    const dev = await enrollDevice(s, 'sup-3');
    const oldKey = createPrivateKey(readFileSync(dev.keyPath));
    const newKey = createPrivateKey(readFileSync(makeKey('ec-p256', dir).keyPath));
    const first: Held = { certPem: readFileSync(dev.path, 'utf8'), key: oldKey };
    const r1 = await reenroll(first, buildCsr(newKey, 'sup-3'));
    expect(r1.status).toBe(200);
    const newer = serialOf(r1.certPem!);
    expect((await revokeVia(s, { serial: newer, reason: 'keyCompromise' })).status).toBe(200);
    expect(await ocspStatus(first.certPem)).toBe('revoked');
    const events = await s.database.db
      .select({ subject: auditEvents.subject, details: auditEvents.details })
      .from(auditEvents)
      .where(eq(auditEvents.action, 'certificate.revoke'));
    const older = events.find((e) => e.subject === dev.serial);
    expect(older?.details).toMatch(/"cause":"superseded"/);
    expect((await reenroll(first, buildCsr(oldKey, 'sup-3'))).status).toBe(403);
  });

  it('revoking an older certificate leaves the newer one valid', async () => {
    const dev = await enrollDevice(s, 'sup-4');
    const key = createPrivateKey(readFileSync(dev.keyPath));
    const r1 = await reenroll({ certPem: readFileSync(dev.path, 'utf8'), key }, buildCsr(key, 'sup-4'));
    expect(r1.status).toBe(200);
    expect((await revokeVia(s, { serial: dev.serial, reason: 'superseded' })).status).toBe(200);
    expect(await ocspStatus(r1.certPem!)).toBe('good');
    expect((await reenroll({ certPem: r1.certPem!, key }, buildCsr(key, 'sup-4'))).status).toBe(200);
  });
});
