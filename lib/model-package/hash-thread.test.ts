// The plaintext digest on a worker thread (HashThread) and the pre-touched output
// (allocateOutput): the same result and the same refusals as the inline hash, the output zeroed
// on every failure, no plaintext left in the shared ring, one decryption at a time.
import { afterAll, describe, expect, it } from 'vitest';
import { decryptPackage } from './decrypt.ts';
import { decryptReader, type PayloadReader } from './decrypt-reader.ts';
import { decryptStream } from './decrypt-stream.ts';
import { isPackageError } from './errors.ts';
import { readPackage } from './format.ts';
import { HashThread } from './hash-thread.ts';
import { signManifest, verifyManifest } from './manifest.ts';
import { allocateOutput } from './output.ts';
import {
  bytes,
  CHUNK,
  contentKey,
  make,
  memoryReader,
  NOW,
  plaintext50k,
  releaseKey,
  releaseKeys,
} from './test-fixtures.ts';

const REC = CHUNK + 16;
const parts = readPackage(await make());
const manifest = await verifyManifest(parts.manifestJws, { releaseKeys, now: NOW });
// bigger than the ring (32 slots of 256 KiB), in chunks that are not a whole number of slots
const bigPlain = bytes(9 * 1024 * 1024 + 5, 9);
const big = readPackage(await make({ plaintext: bigPlain, chunkSize: 600 * 1024 }));
const bigManifest = await verifyManifest(big.manifestJws, { releaseKeys, now: NOW });
const thread = await HashThread.start();
afterAll(() => thread.close());

const ringOf = (t: HashThread): Buffer => (t as unknown as { ring: Buffer }).ring;
const zeroed = (b: Uint8Array): boolean => b.every((x) => x === 0);

describe('HashThread', () => {
  it('gives the plaintext decryptPackage gives, from all three decrypters, and leaves the ring zeroed', async () => {
    for (const readAhead of [1, 2, 8]) {
      const out = await decryptReader(manifest, memoryReader(parts.payload), contentKey, {
        hashThread: thread,
        readAhead,
      });
      expect(out.equals(plaintext50k)).toBe(true);
    }
    expect(
      decryptPackage(manifest, parts.payload, contentKey, { hashThread: thread }).equals(plaintext50k),
    ).toBe(true);
    const pieces = [parts.payload.subarray(0, 777), parts.payload.subarray(777)];
    expect(
      (await decryptStream(manifest, pieces, contentKey, { hashThread: thread })).equals(plaintext50k),
    ).toBe(true);
    const out = await decryptReader(bigManifest, memoryReader(big.payload, 100_000), contentKey, {
      hashThread: thread,
    });
    expect(out.equals(bigPlain)).toBe(true);
    expect(zeroed(ringOf(thread))).toBe(true);
  });

  it('a tampered chunk: ChunkAuthFailed at that chunk, the output zeroed, the thread still usable', async () => {
    const bad = Buffer.from(parts.payload);
    bad[6 * REC + 1]! ^= 0x02;
    const out = Buffer.alloc(manifest.plaintext_size, 0x55);
    const e = await decryptReader(manifest, memoryReader(bad), contentKey, {
      output: out,
      hashThread: thread,
    }).catch((x: unknown) => x);
    expect(isPackageError(e, 'ChunkAuthFailed') && e.chunkIndex).toBe(6);
    expect(zeroed(out)).toBe(true);
    expect(zeroed(ringOf(thread))).toBe(true);
    const out2 = Buffer.alloc(manifest.plaintext_size, 0x55);
    expect(() => decryptPackage(manifest, bad, contentKey, { output: out2, hashThread: thread })).toThrow(
      expect.objectContaining({ code: 'ChunkAuthFailed', chunkIndex: 6 }),
    );
    expect(zeroed(out2)).toBe(true);
    // a chunk far into a payload larger than the ring
    const badBig = Buffer.from(big.payload);
    badBig[12 * (600 * 1024 + 16) + 5]! ^= 0x80;
    const out3 = Buffer.alloc(bigManifest.plaintext_size, 0x55);
    const e3 = await decryptReader(bigManifest, memoryReader(badBig), contentKey, {
      output: out3,
      hashThread: thread,
    }).catch((x: unknown) => x);
    expect(isPackageError(e3, 'ChunkAuthFailed') && e3.chunkIndex).toBe(12);
    expect(zeroed(out3)).toBe(true);
    expect(zeroed(ringOf(thread))).toBe(true);
    const ok = await decryptReader(manifest, memoryReader(parts.payload), contentKey, { hashThread: thread });
    expect(ok.equals(plaintext50k)).toBe(true);
  });

  it('a plaintext digest that does not match: every tag verifies, the digest refuses, the output is zeroed', async () => {
    const jws = await signManifest({ ...manifest, plaintext_sha256: 'cd'.repeat(32) }, releaseKey);
    const m = await verifyManifest(jws, { releaseKeys, now: NOW });
    const out = Buffer.alloc(m.plaintext_size, 0x55);
    const e = await decryptReader(m, memoryReader(parts.payload), contentKey, {
      output: out,
      hashThread: thread,
    }).catch((x: unknown) => x);
    expect(isPackageError(e, 'PlaintextDigestMismatch')).toBe(true);
    expect(zeroed(out)).toBe(true);
    const out2 = Buffer.alloc(m.plaintext_size, 0x55);
    expect(() => decryptPackage(m, parts.payload, contentKey, { output: out2, hashThread: thread })).toThrow(
      expect.objectContaining({ code: 'PlaintextDigestMismatch' }),
    );
    expect(zeroed(out2)).toBe(true);
    await expect(decryptStream(m, [parts.payload], contentKey, { hashThread: thread })).rejects.toMatchObject(
      {
        code: 'PlaintextDigestMismatch',
      },
    );
    // the digest of the large one, off by its last byte
    const bigJws = await signManifest({ ...bigManifest, plaintext_sha256: '00'.repeat(32) }, releaseKey);
    const bm = await verifyManifest(bigJws, { releaseKeys, now: NOW });
    const out3 = Buffer.alloc(bm.plaintext_size, 0x55);
    const e3 = await decryptReader(bm, memoryReader(big.payload), contentKey, {
      output: out3,
      hashThread: thread,
    }).catch((x: unknown) => x);
    expect(isPackageError(e3, 'PlaintextDigestMismatch')).toBe(true);
    expect(zeroed(out3)).toBe(true);
    expect(zeroed(ringOf(thread))).toBe(true);
  });

  it('a payload that ends early or a reader that fails: refused as inline, output zeroed', async () => {
    const out = Buffer.alloc(manifest.plaintext_size, 0x55);
    const short = parts.payload.subarray(0, 5 * REC);
    await expect(
      decryptReader(manifest, memoryReader(short), contentKey, { output: out, hashThread: thread }),
    ).rejects.toMatchObject({ code: 'PayloadSizeMismatch' });
    expect(zeroed(out)).toBe(true);
    const failing: PayloadReader = async (bufs, pos) => {
      if (pos > 3 * REC) throw new Error('EIO');
      return memoryReader(parts.payload)(bufs, pos);
    };
    await expect(
      decryptReader(manifest, failing, contentKey, { output: out, hashThread: thread }),
    ).rejects.toMatchObject({ code: 'PayloadReadFailed' });
    expect(zeroed(out)).toBe(true);
    expect(zeroed(ringOf(thread))).toBe(true);
  });

  it('one decryption at a time; a closed thread is refused, and closing one mid-decryption fails it with the output zeroed', async () => {
    let release = (): void => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slow: PayloadReader = async (bufs, pos) => {
      if (pos > 2 * REC) await gate;
      return memoryReader(parts.payload)(bufs, pos);
    };
    const out = Buffer.alloc(manifest.plaintext_size, 0x55);
    const first = decryptReader(manifest, slow, contentKey, {
      output: out,
      hashThread: thread,
      readAhead: 1,
    });
    await new Promise((r) => setTimeout(r, 20));
    await expect(
      decryptReader(manifest, memoryReader(parts.payload), contentKey, { hashThread: thread }),
    ).rejects.toThrow(TypeError);
    release();
    expect((await first).equals(plaintext50k)).toBe(true);

    const own = await HashThread.start();
    let release2 = (): void => {};
    const gate2 = new Promise<void>((r) => {
      release2 = r;
    });
    const slow2: PayloadReader = async (bufs, pos) => {
      if (pos > 2 * REC) await gate2;
      return memoryReader(parts.payload)(bufs, pos);
    };
    const out2 = Buffer.alloc(manifest.plaintext_size, 0x55);
    const pending = decryptReader(manifest, slow2, contentKey, {
      output: out2,
      hashThread: own,
      readAhead: 1,
    });
    pending.catch(() => {});
    await new Promise((r) => setTimeout(r, 20));
    await own.close();
    release2();
    await expect(pending).rejects.toThrow(/closed/);
    expect(zeroed(out2)).toBe(true);
    expect(() => decryptPackage(manifest, parts.payload, contentKey, { hashThread: own })).toThrow(TypeError);
  });
});

describe('allocateOutput', () => {
  it('a zeroed buffer of plaintext_size, its own ArrayBuffer, usable as the output', async () => {
    const out = await allocateOutput(bigManifest);
    expect(out.length).toBe(bigManifest.plaintext_size);
    expect(out.byteOffset).toBe(0);
    expect(out.buffer.byteLength).toBe(bigManifest.plaintext_size);
    expect(zeroed(out)).toBe(true);
    const r = await decryptReader(bigManifest, memoryReader(big.payload), contentKey, {
      output: out,
      hashThread: thread,
    });
    expect(r.buffer).toBe(out.buffer);
    expect(r.equals(bigPlain)).toBe(true);
    expect((await allocateOutput({ ...manifest, plaintext_size: 0, chunk_count: 1 })).length).toBe(0);
  });

  it('a manifest that does not parse is refused', async () => {
    await expect(allocateOutput({ ...manifest, plaintext_size: -1 })).rejects.toMatchObject({
      code: 'ManifestMalformed',
    });
  });
});
