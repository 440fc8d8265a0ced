// The bad inputs of issue 9, each refused with its code before any plaintext is returned.
// Layered: the container and the signed manifest catch most of them, and the chunk layer
// catches every payload change on its own (tested by calling decryptPackage/decryptStream
// directly, as if checkPayload had been skipped), with the output zeroed.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { checkPayload, decryptPackage } from './decrypt.ts';
import { decryptReader } from './decrypt-reader.ts';
import { decryptStream } from './decrypt-stream.ts';
import { isPackageError, type PackageErrorCode } from './errors.ts';
import { encodePackage, readPackage } from './format.ts';
import { signManifest, verifyManifest } from './manifest.ts';
import type { Manifest } from './manifest-claims.ts';
import {
  bytes,
  CHUNK,
  contentKey,
  key,
  make,
  memoryReader,
  NOW,
  otherReleaseKey,
  plaintext50k,
  releaseKey,
  releaseKeys,
} from './test-fixtures.ts';

const REC = CHUNK + 16;
const good = await make();
const parts = readPackage(good);
const manifest = await verifyManifest(parts.manifestJws, { releaseKeys, now: NOW });
const n = manifest.chunk_count;

/** What the agent does: parse, verify (as an edgecam-2 on SVN 5), check, decrypt. */
async function load(pkg: Uint8Array, k: Uint8Array = contentKey): Promise<Buffer> {
  const p = readPackage(pkg);
  const m = await verifyManifest(p.manifestJws, {
    releaseKeys,
    now: NOW,
    hardwareModel: 'edgecam-2',
    firmwareSvn: 5,
  });
  checkPayload(m, p.payload);
  return decryptPackage(m, p.payload, k);
}

async function refused(p: Promise<unknown> | (() => unknown), code: PackageErrorCode) {
  const e = await (typeof p === 'function' ? Promise.resolve().then(p) : p).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isPackageError(e) ? e.code : e).toBe(code);
  return e as { chunkIndex?: number };
}

/** The chunk layer alone, in memory, streamed and read in place: refused at `index`, the output zeroed. */
async function chunkLayerRefuses(m: Manifest, payload: Buffer, index: number, k: Uint8Array = contentKey) {
  const out = Buffer.alloc(m.plaintext_size, 0x55);
  const e = await refused(() => decryptPackage(m, payload, k, { output: out }), 'ChunkAuthFailed');
  expect(e.chunkIndex).toBe(index);
  expect(out.every((b) => b === 0)).toBe(true);
  const out2 = Buffer.alloc(m.plaintext_size, 0x55);
  const stream = Readable.from(splitEvery(payload, 3000));
  const e2 = await refused(decryptStream(m, stream, k, { output: out2 }), 'ChunkAuthFailed');
  expect(e2.chunkIndex).toBe(index);
  expect(out2.every((b) => b === 0)).toBe(true);
  const out3 = Buffer.alloc(m.plaintext_size, 0x55);
  const e3 = await refused(
    decryptReader(m, memoryReader(payload, 5000), k, { output: out3 }),
    'ChunkAuthFailed',
  );
  expect(e3.chunkIndex).toBe(index);
  expect(out3.every((b) => b === 0)).toBe(true);
}

const splitEvery = (b: Buffer, size: number): Buffer[] =>
  Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.subarray(i * size, (i + 1) * size));

const chunk = (i: number): Buffer =>
  parts.payload.subarray(i * REC, Math.min((i + 1) * REC, parts.payload.length));
const repack = (payload: Buffer, jws = parts.manifestJws): Buffer => encodePackage(jws, undefined, payload);

describe('one flipped byte', () => {
  const positions = (i: number) => {
    const len = chunk(i).length;
    return [
      ['first ciphertext byte', 0],
      ['middle', Math.floor((len - 16) / 2)],
      ['last ciphertext byte', len - 17],
      ['first tag byte', len - 16],
      ['last tag byte', len - 1],
    ] as const;
  };
  for (let i = 0; i < n; i++) {
    it(`in chunk ${i} of ${n}: refused in the whole package and by the chunk layer alone`, async () => {
      for (const [, at] of positions(i)) {
        const payload = Buffer.from(parts.payload);
        payload[i * REC + at]! ^= 0x01;
        await refused(load(repack(payload)), 'PayloadDigestMismatch');
        await chunkLayerRefuses(manifest, payload, i);
      }
    });
  }
});

describe('chunks moved', () => {
  it('two chunks swapped', async () => {
    const payload = Buffer.concat([
      chunk(0),
      chunk(2),
      chunk(1),
      ...Array.from({ length: n - 3 }, (_, i) => chunk(i + 3)),
    ]);
    await refused(load(repack(payload)), 'PayloadDigestMismatch');
    await chunkLayerRefuses(manifest, payload, 1);
  });

  it('a chunk duplicated in place of another', async () => {
    const payload = Buffer.from(parts.payload);
    chunk(2).copy(payload, 3 * REC);
    await refused(load(repack(payload)), 'PayloadDigestMismatch');
    await chunkLayerRefuses(manifest, payload, 3);
  });

  it('a chunk appended (a duplicate of a full chunk, or a fresh one)', async () => {
    for (const extra of [chunk(1), bytes(REC, 99)]) {
      const payload = Buffer.concat([parts.payload, extra]);
      await refused(load(Buffer.concat([good, extra])), 'PackageMalformed'); // bytes after the payload
      await refused(load(repack(payload)), 'PayloadSizeMismatch'); // container length rewritten
      await refused(() => decryptPackage(manifest, payload, contentKey), 'PayloadSizeMismatch');
      await refused(decryptStream(manifest, [payload], contentKey), 'PayloadSizeMismatch');
      await refused(decryptReader(manifest, memoryReader(payload), contentKey), 'PayloadSizeMismatch');
    }
  });

  it('an unsigned manifest that claims one chunk more: every chunk has the wrong count', async () => {
    const forged = { ...manifest, plaintext_size: manifest.plaintext_size + CHUNK, chunk_count: n + 1 };
    const last = chunk(n - 1);
    // the old last chunk padded to a full one cannot be made; append a copy of a full chunk instead
    const payload = Buffer.concat([parts.payload.subarray(0, (n - 1) * REC), chunk(1), last]);
    expect(payload.length).toBe(forged.plaintext_size + 16 * forged.chunk_count);
    await chunkLayerRefuses(forged, payload, 0);
  });
});

describe('truncation', () => {
  const mid = parts.payloadOffset + 5 * REC + 100;
  const boundary = parts.payloadOffset + (n - 1) * REC;
  it('mid-chunk, at a chunk boundary, inside the manifest, inside the header', async () => {
    await refused(load(good.subarray(0, mid)), 'PackageTruncated');
    await refused(load(good.subarray(0, boundary)), 'PackageTruncated');
    await refused(load(good.subarray(0, 12 + 40)), 'PackageTruncated');
    await refused(load(good.subarray(0, 6)), 'PackageTruncated');
  });

  it('with the container length rewritten to match: the manifest still counts the chunks', async () => {
    for (const cut of [5 * REC + 100, (n - 1) * REC, 16]) {
      const payload = parts.payload.subarray(0, cut);
      await refused(load(repack(payload)), 'PayloadSizeMismatch');
      await refused(() => decryptPackage(manifest, payload, contentKey), 'PayloadSizeMismatch');
      const out = Buffer.alloc(manifest.plaintext_size, 0x55);
      await refused(
        decryptStream(manifest, splitEvery(payload, 1000), contentKey, { output: out }),
        'PayloadSizeMismatch',
      );
      expect(out.every((b) => b === 0)).toBe(true);
      out.fill(0x55);
      await refused(
        decryptReader(manifest, memoryReader(payload), contentKey, { output: out }),
        'PayloadSizeMismatch',
      );
      expect(out.every((b) => b === 0)).toBe(true);
    }
  });

  it('an unsigned manifest that claims one chunk fewer: the new last chunk lacks the last flag', async () => {
    const forged = { ...manifest, plaintext_size: (n - 1) * CHUNK, chunk_count: n - 1 };
    // with the count bound, it already fails at chunk 0; the last flag would catch it at n-2
    await chunkLayerRefuses(forged, parts.payload.subarray(0, (n - 1) * REC), 0);
  });
});

describe('the manifest', () => {
  it('a bad signature', async () => {
    const [h, p, s] = parts.manifestJws.split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    sig[10]! ^= 0x80;
    await refused(
      load(repack(parts.payload, `${h}.${p}.${sig.toString('base64url')}`)),
      'ManifestSignatureInvalid',
    );
  });

  it('claims changed under the old signature (another hardware model added)', async () => {
    const [h, , s] = parts.manifestJws.split('.') as [string, string, string];
    const claims = { ...manifest, hardware_models: [...manifest.hardware_models, 'rogue-1'] };
    const p = Buffer.from(JSON.stringify(claims)).toString('base64url');
    await refused(load(repack(parts.payload, `${h}.${p}.${s}`)), 'ManifestSignatureInvalid');
  });

  it('an unknown release key', async () => {
    await refused(load(await make({ releaseKey: otherReleaseKey })), 'ReleaseKeyUnknown');
  });

  it('another hardware model, and firmware below the minimum', async () => {
    const p = readPackage(good);
    await refused(
      verifyManifest(p.manifestJws, { releaseKeys, now: NOW, hardwareModel: 'edgecam-1' }),
      'HardwareModelNotAllowed',
    );
    await refused(
      verifyManifest(p.manifestJws, { releaseKeys, now: NOW, firmwareSvn: 2 }),
      'BelowMinimumFirmwareSvn',
    );
  });

  it('a payload digest that does not match (signed by the real release key)', async () => {
    const jws = await signManifest({ ...manifest, payload_sha256: 'ab'.repeat(32) }, releaseKey);
    await refused(load(repack(parts.payload, jws)), 'PayloadDigestMismatch');
  });

  it('a plaintext digest that does not match: every tag verifies, the digest refuses, the output is zeroed', async () => {
    const jws = await signManifest({ ...manifest, plaintext_sha256: 'cd'.repeat(32) }, releaseKey);
    await refused(load(repack(parts.payload, jws)), 'PlaintextDigestMismatch');
    const m = await verifyManifest(jws, { releaseKeys, now: NOW });
    const out = Buffer.alloc(m.plaintext_size, 0x55);
    await refused(
      () => decryptPackage(m, parts.payload, contentKey, { output: out }),
      'PlaintextDigestMismatch',
    );
    expect(out.every((b) => b === 0)).toBe(true);
    await refused(decryptStream(m, [parts.payload], contentKey), 'PlaintextDigestMismatch');
    await refused(decryptReader(m, memoryReader(parts.payload), contentKey), 'PlaintextDigestMismatch');
  });
});

describe('the content key', () => {
  it('a content key for another package', async () => {
    const otherKey = key(2);
    await refused(load(good, otherKey), 'ChunkAuthFailed');
    await chunkLayerRefuses(manifest, parts.payload, 0, otherKey);
    // the same key and nonce base reused for another package: the package id in the AAD refuses
    // that package's payload under this manifest, chunk by chunk
    const nonceBase = Buffer.from(manifest.nonce_base, 'base64url');
    const twin = readPackage(await make({ nonceBase }));
    const twinManifest = await verifyManifest(twin.manifestJws, { releaseKeys, now: NOW });
    expect(twinManifest.package_id).not.toBe(manifest.package_id);
    await chunkLayerRefuses(manifest, twin.payload, 0);
  });

  it('a content key of the wrong length', async () => {
    await refused(
      () => decryptPackage(manifest, parts.payload, contentKey.subarray(0, 16)),
      'ContentKeyInvalid',
    );
    await refused(decryptStream(manifest, [parts.payload], contentKey.subarray(1)), 'ContentKeyInvalid');
  });

  it('and the good package still loads', async () => {
    expect((await load(good)).equals(plaintext50k)).toBe(true);
  });
});
