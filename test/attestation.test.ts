// Attestation and key release over the real HTTPS API with a device's mTLS certificate:
// challenge, evidence (EAT JWT), signed EAR result, content key wrapped to the attested key.
// Every bad input of issue 8 is refused with its code, audited, and releases no key.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signResult, unwrapContentKey } from '../attestation/index.ts';
import {
  AGENT_SHA,
  type AttestingDevice,
  attestingDevice,
  attestOnce,
  challenge as challengeOf,
  deviceCall,
  type EvidenceOptions,
  evidenceFor,
  releaseKey,
  submitEvidence,
  wrappingKeyPair,
} from './helpers/attest.ts';
import { fromPem } from '../lib/pem.ts';
import { attestationNonces, auditEvents } from '../migrations/schema/index.ts';
import { makeKey, openssl, tmp, writeTmp } from './helpers/openssl.ts';
import {
  createToken,
  enrollDevice,
  type EnrolledDevice,
  revokeVia,
  startStack,
  type TestStack,
} from './helpers/stack.ts';

let s: TestStack;
let sec: string;
const dir = tmp();
const GOOD = randomBytes(4096);
const GOOD_SHA = createHash('sha256').update(GOOD).digest('hex');

type Dev = AttestingDevice;
const device = (e: EnrolledDevice) => attestingDevice(s, e);
const call = (
  d: Dev | undefined,
  method: string,
  path: string,
  body?: string,
  headers?: Record<string, string>,
) => deviceCall(s, d, method, path, body, headers);
const challenge = (d: Dev) => challengeOf(s, d);
const wrapping = wrappingKeyPair;
const evidence = (d: Dev, nonce: string, o: Partial<EvidenceOptions> = {}) =>
  evidenceFor(s, d, nonce, { firmware: GOOD_SHA, ...o });
const submit = (d: Dev, token: string, type?: string) => submitEvidence(s, d, token, type);
const release = (d: Dev, id: string, result: unknown) => releaseKey(s, d, id, result);
const attest = (d: Dev, o: Partial<EvidenceOptions> = {}) => attestOnce(s, d, { firmware: GOOD_SHA, ...o });

let keyId: string;
let a: Dev;
let b: Dev;

beforeAll(async () => {
  s = await startStack();
  sec = await createToken(s, 'security-admin');
  const add = await s.api('/v1/firmware', {
    method: 'POST',
    token: sec,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hardware_model: 'cam-v2', version: '1.4.0', svn: 4, sha256: GOOD_SHA }),
  });
  expect(add.status).toBe(201);
  const k = await s.api('/v1/keys', {
    method: 'POST',
    token: await createToken(s, 'release-manager'),
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ label: 'test key', hardware_models: ['cam-v2'] }),
  });
  expect(k.status).toBe(201);
  keyId = ((await k.json()) as { id: string }).id;
  a = device(await enrollDevice(s, 'att-a'));
  b = device(await enrollDevice(s, 'att-b'));
}, 60_000);
afterAll(() => s?.stop());

async function audited(action: string, reason: string): Promise<number> {
  await s.cp.refusals.flush();
  const rows = await s.database.db
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.action, action), eq(auditEvents.reason, reason)));
  return rows.length;
}

describe('attestation: the happy path', () => {
  it('good firmware attests affirming; the content key is released wrapped to the attested key only', async () => {
    const wk = wrapping();
    const r = await attest(a, { wrappingKey: wk.publicKey });
    expect(r.status).toBe('affirming');
    expect(r.reasons).toEqual([]);
    const rel = await release(a, keyId, r.result);
    expect(rel.status, JSON.stringify(rel.json)).toBe(200);
    const key = await unwrapContentKey(rel.json.jwe as string, wk.privateKey, rel.json.kid as string);
    expect(key.length).toBe(32);
    // another process's key (a copy of the released JWE elsewhere) cannot open it
    await expect(unwrapContentKey(rel.json.jwe as string, wrapping().privateKey)).rejects.toMatchObject({
      code: 'KeyReleaseInvalid',
    });
    const ok = await s.database.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'key.release'), eq(auditEvents.outcome, 'ok')));
    expect(ok.length).toBeGreaterThanOrEqual(1);
  });

  it('attest status shows the latest result with its reasons', async () => {
    const r = await s.api('/v1/attestation/results?device_id=att-a', { token: sec });
    expect(r.status).toBe(200);
    const items = ((await r.json()) as { items: { status: string; device_id: string }[] }).items;
    expect(items[0]).toMatchObject({ device_id: 'att-a', status: 'affirming' });
  });
});

describe('attestation: bad evidence is refused with its code and audited', () => {
  it("a replayed nonce, another device's nonce, an expired nonce", async () => {
    const n = await challenge(a);
    const token = await evidence(a, n);
    expect((await submit(a, token)).status).toBe(200);
    const again = await submit(a, token);
    expect(again).toMatchObject({ status: 403, json: { code: 'NonceReplayed' } });
    const bNonce = await challenge(b);
    const other = await submit(a, await evidence(a, bNonce));
    expect(other.json.code).toBe('NonceUnknown');
    const old = await challenge(a);
    const hash = createHash('sha256').update(Buffer.from(old, 'base64url')).digest('hex');
    await s.database.db
      .update(attestationNonces)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(attestationNonces.nonceHash, hash));
    expect((await submit(a, await evidence(a, old))).json.code).toBe('NonceExpired');
    expect(await audited('attestation.appraise', 'NonceReplayed')).toBeGreaterThanOrEqual(1);
  });

  it('evidence signed by another device, with a foreign CA, or with a CA as leaf', async () => {
    // a's certificate in x5c, b's key signing
    const forged = await evidence(a, await challenge(a), { signer: b.key });
    expect((await submit(a, forged)).json.code).toBe('SignatureInvalid');
    // b's evidence sent over a's connection
    const bs = await evidence(b, await challenge(a));
    expect((await submit(a, bs)).json.code).toBe('DeviceMismatch');
    // a chain from a CA the fleet never trusted
    const rogueKey = makeKey('ec-p256', dir);
    const rogue = writeTmp(dir, 'rogue.pem', '');
    openssl([
      'req',
      '-x509',
      '-new',
      '-key',
      rogueKey.keyPath,
      '-subj',
      '/CN=rogue',
      '-days',
      '1',
      '-out',
      rogue,
    ]);
    const rogueDer = fromPem(readFileSync(rogue, 'utf8'), 'CERTIFICATE');
    const foreign = await evidence(a, await challenge(a), { chain: [a.certDer, rogueDer] });
    expect((await submit(a, foreign)).json.code).toBe('ChainInvalid');
    // the issuing CA certificate itself as the leaf
    const caLeaf = await evidence(a, await challenge(a), {
      chain: [s.cp.boot.hierarchy.issuing.cert.der, s.cp.boot.hierarchy.issuing.cert.der],
    });
    expect(['LeafIsCa', 'ChainInvalid']).toContain((await submit(a, caLeaf)).json.code);
  });

  it('alg none, HS256 keyed with the public key, a kid or jwk header', async () => {
    const good = await evidence(a, await challenge(a));
    const [h, p] = good.split('.');
    const header = JSON.parse(Buffer.from(h!, 'base64url').toString()) as Record<string, unknown>;
    const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const none = `${enc({ ...header, alg: 'none' })}.${p}.`;
    expect((await submit(a, none)).json.code).toBe('AlgorithmNotAllowed');
    const hsHeader = enc({ ...header, alg: 'HS256' });
    const pub = readFileSync(a.enrolled.path);
    const mac = createHmac('sha256', pub).update(`${hsHeader}.${p}`).digest('base64url');
    expect((await submit(a, `${hsHeader}.${p}.${mac}`)).json.code).toBe('AlgorithmNotAllowed');
    for (const extra of [{ kid: 'other' }, { jwk: { kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' } }]) {
      const t = `${enc({ ...header, ...extra })}.${p}.${good.split('.')[2]}`;
      expect((await submit(a, t)).json.code).toBe('KeyHeaderNotAllowed');
    }
  });

  it('truncated, oversized, non-JSON and wrongly typed evidence', async () => {
    const good = await evidence(a, await challenge(a));
    const cut = await submit(a, good.slice(0, good.length - 20));
    expect(['SignatureInvalid', 'EvidenceMalformed']).toContain(cut.json.code);
    const big = await submit(a, 'a'.repeat(17_000));
    expect(big.status).toBe(413);
    expect((await submit(a, 'not a token')).json.code).toBe('EvidenceMalformed');
    expect((await submit(a, good, 'application/json')).json.code).toBe('EvidenceMalformed');
    // no certificate on the connection at all
    const anon = await call(undefined, 'POST', '/v1/attestation/challenge');
    expect(anon.status).toBe(401);
  });

  it('a revoked device gets no challenge and no key', async () => {
    const c = device(await enrollDevice(s, 'att-c'));
    const r = await attest(c);
    expect(r.status).toBe('affirming');
    expect((await revokeVia(s, { device_id: 'att-c' })).status).toBe(200);
    expect((await call(c, 'POST', '/v1/attestation/challenge')).json.code).toBe('ERR_CERT_REVOKED');
    expect((await release(c, keyId, r.result)).json.code).toBe('ERR_CERT_REVOKED');
  });
});

describe('attestation: firmware appraisal', () => {
  it('unknown firmware is contraindicated and gets no key', async () => {
    const r = await attest(b, { firmware: createHash('sha256').update('tampered').digest('hex') });
    expect(r.status).toBe('contraindicated');
    expect(r.reasons.map((x) => x.code)).toContain('FirmwareUnknown');
    expect((await release(b, keyId, r.result)).json.code).toBe('ResultNotAffirming');
  });

  it('deny-listing a digest contraindicates the devices on it at once; their results release nothing', async () => {
    const d = device(await enrollDevice(s, 'att-d'));
    const fw = randomBytes(64);
    const sha = createHash('sha256').update(fw).digest('hex');
    await s.api('/v1/firmware', {
      method: 'POST',
      token: sec,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ hardware_model: 'cam-v2', version: '1.5.0', svn: 5, sha256: sha }),
    });
    const r = await attest(d, { firmware: sha });
    expect(r.status).toBe('affirming');
    const deny = await s.api('/v1/firmware/deny', {
      method: 'POST',
      token: sec,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sha256: sha, reason: 'CVE-2026-0001' }),
    });
    expect(deny.status).toBe(200);
    expect(((await deny.json()) as { devices_contraindicated: string[] }).devices_contraindicated).toEqual([
      'att-d',
    ]);
    // the result it holds is still signed and unexpired, but no longer good for a key
    expect((await release(d, keyId, r.result)).json.code).toBe('ResultNotAffirming');
    const again = await attest(d, { firmware: sha });
    expect(again.status).toBe('contraindicated');
    expect(again.reasons.map((x) => x.code)).toContain('FirmwareDenied');
  });

  it('a minimum SVN above the firmware contraindicates; the change is audited', async () => {
    const e = device(await enrollDevice(s, 'att-e'));
    expect((await attest(e)).status).toBe('affirming');
    const p = await s.api('/v1/firmware/policies/cam-v2', {
      method: 'PUT',
      token: sec,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ min_svn: 5 }),
    });
    expect(p.status).toBe(200);
    const r = await attest(e);
    expect(r.status).toBe('contraindicated');
    expect(r.reasons.map((x) => x.code)).toContain('BelowMinimumSvn');
    expect(
      (await s.database.db.select().from(auditEvents).where(eq(auditEvents.action, 'firmware.policy')))
        .length,
    ).toBe(1);
    // back to 0 for the other tests
    await s.api('/v1/firmware/policies/cam-v2', {
      method: 'PUT',
      token: sec,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ min_svn: 0 }),
    });
  });
});

describe('key release: only with a fresh affirming result of the same device', () => {
  it("another device's result, an expired result, no result, a forged result", async () => {
    const ra = await attest(a);
    expect((await release(b, keyId, ra.result)).json.code).toBe('ResultOtherDevice');
    const expired = await signResult(
      {
        status: 'affirming',
        trustVector: JSON.parse('{}'),
        reasons: [],
        policyId: 'x',
        hardwareModel: 'cam-v2',
        firmware: { sha256: GOOD_SHA },
        agent: { sha256: AGENT_SHA, judged: false },
      } as never,
      {
        deviceId: 'att-a',
        certSerial: a.enrolled.serial,
        claims: { eat_nonce: 'AAAAAAAAAAA' },
        wrappingKey: wrapping().publicKey.export({ format: 'jwk' }) as never,
        wrappingKeyThumbprint: 'x',
      },
      {
        key: s.cp.boot.verifierKey.key,
        kid: s.cp.boot.verifierKey.id,
        now: new Date(Date.now() - 3_600_000),
        ttlSeconds: 60,
        resultId: 'ar_old',
        verifierId: { developer: 'edgeseal', build: 'test' },
      },
    );
    expect((await release(a, keyId, expired)).json.code).toBe('ResultExpired');
    expect((await release(a, keyId, undefined)).json.code).toBe('ResultMissing');
    const forged = `${ra.result.slice(0, -10)}AAAAAAAAAA`;
    expect(['ResultInvalid']).toContain((await release(a, keyId, forged)).json.code);
    // an older result of the same device, superseded by a newer session
    const first = await attest(a);
    await attest(a);
    expect((await release(a, keyId, first.result)).json.code).toBe('ResultOtherSession');
    // a key that does not exist
    const latest = await attest(a);
    expect((await release(a, 'ck_nope', latest.result)).status).toBe(404);
    expect(await audited('key.release', 'ResultOtherDevice')).toBeGreaterThanOrEqual(1);
  });
});

describe('attestation on the dashboard', () => {
  it("an auditor sees each device's latest result with its reasons, and the reference values", async () => {
    const own = s.cp.httpsUrl;
    const login = await s.api('/ui/login', {
      method: 'POST',
      headers: { origin: own, 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${encodeURIComponent(await createToken(s, 'auditor'))}`,
    });
    expect(login.status).toBe(303);
    const cookie = /__Host-edgeseal_ui=([^;]*)/.exec(login.headers.get('set-cookie') ?? '')?.[1];
    expect(cookie).toBeTruthy();
    const page = await s.api('/ui/attestation', { headers: { cookie: `__Host-edgeseal_ui=${cookie}` } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('att-a');
    expect(html).toMatch(/att-b<\/td><td>cam-v2<\/td><td class="bad">contraindicated/);
    expect(html).toContain('FirmwareUnknown');
    expect(html).toContain(GOOD_SHA);
  });
});
