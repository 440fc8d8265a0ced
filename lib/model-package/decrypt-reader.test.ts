import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decryptPackage } from './decrypt.ts';
import { decryptReader, type PayloadReader } from './decrypt-reader.ts';
import { isPackageError } from './errors.ts';
import { readPackage } from './format.ts';
import { verifyManifest } from './manifest.ts';
import {
  bytes,
  CHUNK,
  contentKey,
  make,
  memoryReader,
  NOW,
  plaintext50k,
  releaseKeys,
} from './test-fixtures.ts';

const REC = CHUNK + 16;
const pkg = await make();
const parts = readPackage(pkg);
const manifest = await verifyManifest(parts.manifestJws, { releaseKeys, now: NOW });
const dir = mkdtempSync(join(tmpdir(), 'model-package-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('decryptReader', () => {
  it.each([1, 2, 4, 16])('agrees with decryptPackage, %i reads ahead', async (readAhead) => {
    const out = await decryptReader(manifest, memoryReader(parts.payload), contentKey, { readAhead });
    expect(out.equals(decryptPackage(manifest, parts.payload, contentKey))).toBe(true);
    expect(out.equals(plaintext50k)).toBe(true);
  });

  it.each([1, 15, 16, 17, 4097])('survives short reads of at most %i bytes', async (most) => {
    const small = readPackage(await make({ plaintext: bytes(2 * CHUNK + 5, 4) }));
    const m = await verifyManifest(small.manifestJws, { releaseKeys, now: NOW });
    const out = await decryptReader(m, memoryReader(small.payload, most), contentKey);
    expect(out.equals(bytes(2 * CHUNK + 5, 4))).toBe(true);
  });

  it('reads a file in place through FileHandle.readv', async () => {
    const file = join(dir, 'model.esmp');
    writeFileSync(file, pkg);
    const fh = await open(file, 'r');
    try {
      const read: PayloadReader = async (bufs, pos) =>
        (await fh.readv(bufs, parts.payloadOffset + pos)).bytesRead;
      expect((await decryptReader(manifest, read, contentKey)).equals(plaintext50k)).toBe(true);
    } finally {
      await fh.close();
    }
  });

  it('at a bad chunk: ChunkAuthFailed, and no read in flight lands after the buffer is zeroed', async () => {
    const bad = Buffer.from(parts.payload);
    bad[6 * REC + 1]! ^= 0x02;
    const out = Buffer.alloc(manifest.plaintext_size, 0x55);
    let pending = 0;
    const slow: PayloadReader = async (bufs, pos) => {
      pending++;
      await new Promise((r) => setTimeout(r, 5));
      const n = await memoryReader(bad)(bufs, pos);
      pending--;
      return n;
    };
    const e = await decryptReader(manifest, slow, contentKey, { output: out, readAhead: 4 }).catch(
      (x: unknown) => x,
    );
    expect(isPackageError(e, 'ChunkAuthFailed') && e.chunkIndex).toBe(6);
    expect(pending).toBe(0);
    expect(out.every((b) => b === 0)).toBe(true);
  });

  it('a reader that fails: PayloadReadFailed with its cause; a bad byte count is misuse', async () => {
    const out = Buffer.alloc(manifest.plaintext_size, 0x55);
    const failing: PayloadReader = async (bufs, pos) => {
      if (pos > 3 * REC) throw new Error('EIO');
      return memoryReader(parts.payload)(bufs, pos);
    };
    const e = await decryptReader(manifest, failing, contentKey, { output: out }).catch((x: unknown) => x);
    expect(isPackageError(e, 'PayloadReadFailed')).toBe(true);
    expect((e as Error).cause).toMatchObject({ message: 'EIO' });
    expect(out.every((b) => b === 0)).toBe(true);
    await expect(decryptReader(manifest, async () => -1, contentKey)).rejects.toThrow(TypeError);
    await expect(
      decryptReader(manifest, memoryReader(parts.payload), contentKey, { readAhead: 0 }),
    ).rejects.toThrow(TypeError);
  });
});
