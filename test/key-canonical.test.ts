// Issue 7 item 3: one key, one device, whatever the encoding. The same EC key sent as a
// compressed point (SEC 1 §2.3.3) used to pass as a new key: a second device could enroll with
// it, another device could rekey to it, and the shared-key finding missed it. Keys are now
// compared, stored and certified in one canonical form (uncompressed point).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../ca-service/store/db.ts';
import { curl } from './helpers/curl.ts';
import { type DeviceKey, makeCsr, makeKey, openssl, tmp, writeTmp } from './helpers/openssl.ts';
import { createBatch, estSimpleEnroll, startStack, type TestStack } from './helpers/stack.ts';

let s: TestStack;
const dir = tmp();

beforeAll(async () => {
  s = await startStack();
});
afterAll(() => s?.stop());

/** The same private key, written so that openssl encodes its public point compressed. */
function compressed(key: DeviceKey): DeviceKey {
  const keyPath = join(dir, `compressed-${Math.random().toString(36).slice(2)}.key`);
  openssl(['ec', '-in', key.keyPath, '-conv_form', 'compressed', '-out', keyPath]);
  return { dir, keyPath };
}

/** The point as openssl put it in a CSR: 02/03 ‖ X (compressed) or 04 ‖ X ‖ Y. */
const csrPointPrefix = (csrDer: Buffer) => {
  const text = openssl(['req', '-inform', 'DER', '-noout', '-text'], csrDer);
  return /pub:\s*\n\s*([0-9a-f]{2}):/.exec(text)![1];
};

const spkiDer = (args: string[]) => {
  const out = join(dir, `spki-${Math.random().toString(36).slice(2)}.der`);
  openssl([...args, '-outform', 'DER', '-out', out]);
  return readFileSync(out);
};
const uncompressedSpki = (key: DeviceKey) =>
  spkiDer(['ec', '-in', key.keyPath, '-pubout', '-conv_form', 'uncompressed']);

/** Enrolls over EST; the certificate PEM path and serial. */
async function enroll(cn: string, key: DeviceKey) {
  const r = await estSimpleEnroll(s, await createBatch(s), makeCsr(key, `/CN=${cn}`));
  return { r, ...(r.status === 200 ? saveCert(cn, r.body) : { path: '', serial: '' }) };
}

function saveCert(cn: string, body: Buffer) {
  const p7 = writeTmp(dir, `${cn}-${Math.random()}.p7`, Buffer.from(body.toString(), 'base64'));
  const path = writeTmp(
    dir,
    `${cn}-${Math.random()}.pem`,
    openssl(['pkcs7', '-inform', 'DER', '-in', p7, '-print_certs']),
  );
  const serial = openssl(['x509', '-in', path, '-noout', '-serial'])
    .trim()
    .replace('serial=', '')
    .toLowerCase();
  return { path, serial };
}

const reenroll = (cert: string, key: DeviceKey, csr: Buffer) =>
  curl(
    `${s.cp.httpsUrl}/.well-known/est/simplereenroll`,
    [
      '--cacert',
      s.cp.boot.paths.rootPem,
      '--cert',
      cert,
      '--key',
      key.keyPath,
      '-H',
      'Content-Type: application/pkcs10',
    ],
    csr.toString('base64'),
  );

async function lastRefusal(): Promise<string> {
  const [r] = rowsOf<{ reason: string }>(
    await s.database.db.execute(
      sql`select reason from audit_events where outcome = 'refused' order by seq desc limit 1`,
    ),
  );
  return r!.reason;
}

async function spkiSha256Of(serial: string): Promise<string> {
  const r = await s.api(`/v1/certificates/${serial}`, { token: s.adminToken });
  return ((await r.json()) as { spki_sha256: string }).spki_sha256;
}

describe('one key, one device, whatever the encoding', () => {
  it('a second device offering an enrolled key as a compressed point is refused ERR_KEY_REUSED', async () => {
    const key = makeKey('ec-p256', dir);
    const first = await enroll('cam-owner', key);
    expect(first.r.status, first.r.body.toString()).toBe(200);

    const csr = makeCsr(compressed(key), '/CN=cam-thief');
    expect(['02', '03']).toContain(csrPointPrefix(csr)); // the attack: really a compressed point
    const r = await estSimpleEnroll(s, await createBatch(s), csr);
    expect(r.status, r.body.toString()).toBe(409);
    expect(r.body.toString()).toMatch(/already registered to another device/);
    expect(await lastRefusal()).toBe('ERR_KEY_REUSED');
  });

  it('another device cannot rekey to an enrolled key in compressed form', async () => {
    const victimKey = makeKey('ec-p256', dir);
    expect((await enroll('cam-victim', victimKey)).r.status).toBe(200);
    const attackerKey = makeKey('ec-p256', dir);
    const attacker = await enroll('cam-rekeyer', attackerKey);
    expect(attacker.r.status).toBe(200);

    const r = await reenroll(attacker.path, attackerKey, makeCsr(compressed(victimKey), '/CN=cam-rekeyer'));
    expect(r.status, r.body.toString()).toBe(409);
    expect(r.body.toString()).toMatch(/already registered to another device/);
    expect(await lastRefusal()).toBe('ERR_KEY_REUSED');
  });

  it('a key enrolled compressed is certified uncompressed (openssl verifies it) and claimed in either form', async () => {
    const key = makeKey('ec-p256', dir);
    const dev = await enroll('cam-compressed', compressed(key));
    expect(dev.r.status, dev.r.body.toString()).toBe(200);

    // the certificate carries the uncompressed point, and chains to the root
    const pub = join(dir, 'cert-pub.pem');
    openssl(['x509', '-in', dev.path, '-noout', '-pubkey', '-out', pub]);
    const certKeyDer = spkiDer(['pkey', '-pubin', '-in', pub]);
    expect(certKeyDer.equals(uncompressedSpki(key))).toBe(true);
    expect(certKeyDer[certKeyDer.length - 65]).toBe(0x04);
    expect(
      openssl([
        'verify',
        '-CAfile',
        s.cp.boot.paths.rootPem,
        '-untrusted',
        s.cp.boot.paths.chainPem,
        dev.path,
      ]),
    ).toContain(': OK');
    // what is stored (and what the shared-key finding groups by) is the hash of that form
    const canonical = createHash('sha256').update(uncompressedSpki(key)).digest('hex');
    expect(await spkiSha256Of(dev.serial)).toBe(canonical);

    // the uncompressed form of the same key is the same key for everyone else
    const r = await estSimpleEnroll(s, await createBatch(s), makeCsr(key, '/CN=cam-other'));
    expect(r.status, r.body.toString()).toBe(409);
    expect(await lastRefusal()).toBe('ERR_KEY_REUSED');

    // and for the device itself, renewing with it is a renewal (same key), not a rekey
    const renew = await reenroll(dev.path, key, makeCsr(key, '/CN=cam-compressed'));
    expect(renew.status, renew.body.toString()).toBe(200);
    expect(await spkiSha256Of(saveCert('cam-compressed', renew.body).serial)).toBe(canonical);
  });
});
