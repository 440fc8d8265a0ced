// Model releases over the real API: a package made with the library (as `edgeseal model
// package` does) is checked at upload, stored without its key envelope; a device finds its
// release, downloads it in ranges, verifies the manifest with the published release keys,
// gets the content key through attestation and decrypts the model it was packaged from.
import { createHash, createPublicKey, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { and, eq } from 'drizzle-orm';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unwrapContentKey } from '../attestation/index.ts';
import {
  decryptPackage,
  encodePackage,
  type ManifestInput,
  newPackageId,
  packageModel,
  readPackage,
  verifyManifest,
  wrapContentKey,
} from '../lib/model-package/index.ts';
import { auditEvents, contentKeys } from '../migrations/schema/index.ts';
import {
  addFirmware,
  type AttestingDevice,
  attestingDevice,
  attestOnce,
  deviceCall,
  releaseKey,
  sha256hex,
  wrappingKeyPair,
} from './helpers/attest.ts';
import { createToken, enrollDevice, startStack, type TestStack } from './helpers/stack.ts';

const MODEL = readFileSync(join(import.meta.dirname, '..', 'ml', 'models', 'vibration.onnx'));
const FIRMWARE = sha256hex('release test firmware');

let s: TestStack;
let rm: string;
let signer: KeyObject;
let serviceJwk: JWK;
let dev: AttestingDevice;

async function registerKey(key: KeyObject): Promise<string> {
  const r = await s.api('/v1/release-keys', {
    method: 'POST',
    token: s.adminToken,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ public_key: key.export({ format: 'jwk' }), label: 'test' }),
  });
  expect(r.status, await r.clone().text()).toBe(201);
  return ((await r.json()) as { kid: string }).kid;
}

async function makePackage(
  o: Partial<ManifestInput> & { releaseKey?: KeyObject; noEnvelope?: boolean } = {},
) {
  const packageId = newPackageId();
  const contentKey = randomBytes(32);
  const bytes = await packageModel({
    plaintext: MODEL,
    contentKey,
    releaseKey: o.releaseKey ?? signer,
    packageId,
    chunkSize: 2048,
    ...(o.noEnvelope ? {} : { keyEnvelope: await wrapContentKey(contentKey, serviceJwk, packageId) }),
    manifest: {
      model_id: o.model_id ?? 'vibration',
      version: o.version ?? '1.0.0',
      release_counter: o.release_counter ?? 1,
      hardware_models: o.hardware_models ?? ['cam-v2'],
      content_key_id: `ck_${packageId}`,
      io: { inputs: [{ name: 'features', type: 'float32', shape: ['N', 16] }], outputs: [] },
      drift: { statistic: 'psi', threshold: 0.25 },
    },
  });
  return { bytes, packageId };
}

const publish = (body: Buffer, token = rm, type = 'application/octet-stream') =>
  s.api('/v1/releases', { method: 'POST', token, headers: { 'content-type': type }, body });

beforeAll(async () => {
  s = await startStack();
  rm = await createToken(s, 'release-manager');
  signer = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  await registerKey(signer);
  serviceJwk = ((await (await s.api('/v1/key-service-key')).json()) as { jwk: JWK }).jwk;
  const sec = await createToken(s, 'security-admin');
  await addFirmware(s, sec, { hardware_model: 'cam-v2', version: '1.0.0', svn: 1, sha256: FIRMWARE });
  dev = attestingDevice(s, await enrollDevice(s, 'rel-dev-1'));
}, 60_000);
afterAll(() => s?.stop());

describe('publishing a release', () => {
  it('a release manager publishes a package; it is stored without its key envelope, the key under the KEK', async () => {
    const { bytes, packageId } = await makePackage();
    const r = await publish(bytes);
    expect(r.status, await r.clone().text()).toBe(201);
    const rel = (await r.json()) as { id: string; package_size: number; content_key_id: string };
    expect(rel.id).toBe(packageId);
    expect(rel.package_size).toBeLessThan(bytes.length); // the envelope stays behind
    const [key] = await s.database.db
      .select()
      .from(contentKeys)
      .where(eq(contentKeys.id, rel.content_key_id));
    expect(key?.hardwareModels).toEqual(['cam-v2']);
    expect(key!.keyWrapped.subarray(0, 4).toString()).toBe('ESK1');
    const list = await s.api('/v1/releases', { token: rm });
    expect(((await list.json()) as { items: { id: string }[] }).items.map((x) => x.id)).toContain(packageId);
  });

  it('refuses, with the reason, what does not verify; every refusal is audited and nothing is stored', async () => {
    const before = (await s.database.db.select().from(contentKeys)).length;
    const unknown = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const cases: [Promise<{ bytes: Buffer }> | Buffer, RegExp][] = [
      [makePackage({ releaseKey: unknown, release_counter: 10 }), /ReleaseKeyUnknown/],
      [makePackage({ release_counter: 11, noEnvelope: true }), /no key envelope/],
      [makePackage({ release_counter: 1 }), /already at release counter 1/],
    ];
    // the key envelope of another package moved into this one
    const [a, b] = [await makePackage({ release_counter: 12 }), await makePackage({ release_counter: 12 })];
    const pa = readPackage(a.bytes);
    cases.push([
      encodePackage(pa.manifestJws, readPackage(b.bytes).keyEnvelope, pa.payload),
      /KeyEnvelopeOtherPackage/,
    ]);
    const flipped = (await makePackage({ release_counter: 13 })).bytes;
    flipped[flipped.length - 100]! ^= 1;
    cases.push([flipped, /PayloadDigestMismatch/]);
    const truncated = (await makePackage({ release_counter: 14 })).bytes;
    cases.push([
      truncated.subarray(0, truncated.length - 5000),
      /PackageTruncated|PayloadSizeMismatch|Malformed/,
    ]);
    for (const [made, why] of cases) {
      const body = Buffer.isBuffer(made) ? made : (await made).bytes;
      const r = await publish(body);
      expect([409, 422]).toContain(r.status);
      expect(((await r.json()) as { detail: string }).detail).toMatch(why);
    }
    expect((await s.database.db.select().from(contentKeys)).length).toBe(before);
    await s.cp.refusals.flush();
    const refused = await s.database.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'release.publish'), eq(auditEvents.outcome, 'refused')));
    expect(refused.length).toBeGreaterThanOrEqual(cases.length);
    // not a release manager; not a package
    expect(
      (await publish((await makePackage({ release_counter: 20 })).bytes, await createToken(s, 'auditor')))
        .status,
    ).toBe(403);
    expect((await publish(Buffer.from('{}'), rm, 'application/json')).status).toBe(415);
  });

  it('a revoked release key can publish no more', async () => {
    const k = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const kid = await registerKey(k);
    const r = await s.api(`/v1/release-keys/${kid}/revoke`, { method: 'POST', token: s.adminToken });
    expect(r.status).toBe(200);
    const p = await publish((await makePackage({ releaseKey: k, release_counter: 30 })).bytes);
    expect(p.status).toBe(422);
    expect(((await p.json()) as { detail: string }).detail).toMatch(/ReleaseKeyUnknown/);
  });
});

describe('a device gets its release', () => {
  it('finds it, downloads it in ranges, verifies the manifest, gets the key by attesting, and decrypts the model', async () => {
    const latest = await deviceCall(s, dev, 'GET', '/v1/releases/latest');
    expect(latest.status).toBe(200);
    const rel = latest.json as { id: string; manifest: string; package_size: number; content_key_id: string };
    // in two ranges, as a resumed download
    const half = Math.floor(rel.package_size / 2);
    const get = (range: string) =>
      new Promise<Buffer>((resolve, reject) => {
        const req = request(
          `${s.cp.httpsUrl}/v1/releases/${rel.id}/package`,
          { agent: dev.agent, headers: { range } },
          (res) => {
            expect(res.statusCode).toBe(206);
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve(Buffer.concat(chunks)));
          },
        );
        req.on('error', reject);
        req.end();
      });
    const pkg = Buffer.concat([await get(`bytes=0-${half - 1}`), await get(`bytes=${half}-`)]);
    expect(pkg.length).toBe(rel.package_size);
    const parts = readPackage(pkg);
    expect(parts.keyEnvelope).toBeUndefined();
    const keys = (await deviceCall(s, dev, 'GET', '/v1/release-keys')).json.items as {
      kid: string;
      jwk: JWK;
      status: string;
    }[];
    const manifest = await verifyManifest(parts.manifestJws, {
      releaseKeys: new Map(
        keys
          .filter((k) => k.status === 'active')
          .map((k) => [k.kid, createPublicKey({ key: k.jwk as never, format: 'jwk' })]),
      ),
      now: new Date(),
      hardwareModel: 'cam-v2',
    });
    const wk = wrappingKeyPair();
    const result = await attestOnce(s, dev, { firmware: FIRMWARE, wrappingKey: wk.publicKey });
    expect(result.status).toBe('affirming');
    const released = await releaseKey(s, dev, manifest.content_key_id, result.result);
    expect(released.status, JSON.stringify(released.json)).toBe(200);
    const ck = await unwrapContentKey(released.json.jwe as string, wk.privateKey);
    const model = decryptPackage(manifest, parts.payload, ck);
    expect(createHash('sha256').update(model).digest('hex')).toBe(
      createHash('sha256').update(MODEL).digest('hex'),
    );
    // a range past the end is 416; another model's device gets nothing
    const r416 = await deviceCall(s, dev, 'GET', `/v1/releases/${rel.id}/package`, undefined, {
      range: `bytes=${rel.package_size + 10}-`,
    }).catch(() => ({ status: 416 }));
    expect(r416.status).toBe(416);
  });
});
