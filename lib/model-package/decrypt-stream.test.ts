import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { decryptPackage } from './decrypt.ts';
import { decryptStream } from './decrypt-stream.ts';
import { isPackageError } from './errors.ts';
import { readPackage } from './format.ts';
import { verifyManifest } from './manifest.ts';
import { bytes, CHUNK, contentKey, make, NOW, plaintext50k, releaseKeys } from './test-fixtures.ts';

const REC = CHUNK + 16;
const pkg = await make();
const parts = readPackage(pkg);
const manifest = await verifyManifest(parts.manifestJws, { releaseKeys, now: NOW });
const dir = mkdtempSync(join(tmpdir(), 'model-package-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The payload cut into pieces of the given sizes (cycled). */
function pieces(payload: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < payload.length; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(payload.subarray(at, at + n));
    at += n;
  }
  return out;
}

describe('decryptStream', () => {
  it.each([
    ['one piece', [1 << 30]],
    ['pieces of a chunk with its tag', [REC]],
    ['pieces of the chunk size (a highWaterMark = chunk size read)', [CHUNK]],
    ['pieces that split tags', [CHUNK + 3, 10, 1, 5000]],
    ['odd small pieces', [1, 7, 13, 4099, 2, 16, 17]],
  ])('agrees with decryptPackage: %s', async (_name, sizes) => {
    const expected = decryptPackage(manifest, parts.payload, contentKey);
    const out = await decryptStream(manifest, Readable.from(pieces(parts.payload, sizes)), contentKey);
    expect(out.equals(expected)).toBe(true);
    expect(out.equals(plaintext50k)).toBe(true);
  });

  it('reads byte by byte (a sync iterable works too)', async () => {
    const small = readPackage(await make({ plaintext: bytes(2 * CHUNK + 5, 3) }));
    const m = await verifyManifest(small.manifestJws, { releaseKeys, now: NOW });
    const out = await decryptStream(m, pieces(small.payload, [1]), contentKey);
    expect(out.equals(bytes(2 * CHUNK + 5, 3))).toBe(true);
  });

  it('reads a file from the payload offset with highWaterMark = chunk size', async () => {
    const file = join(dir, 'model.esmp');
    writeFileSync(file, pkg);
    const stream = createReadStream(file, { start: parts.payloadOffset, highWaterMark: manifest.chunk_size });
    const out = await decryptStream(manifest, stream, contentKey, { checkPayloadDigest: true });
    expect(out.equals(plaintext50k)).toBe(true);
  });

  it('asks for the next piece before decrypting the current one', async () => {
    const out = Buffer.alloc(manifest.plaintext_size);
    const recs = pieces(parts.payload, [REC]);
    const chunk0Done: boolean[] = [];
    const source: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => {
        let i = 0;
        return {
          next: async () => {
            chunk0Done.push(out.subarray(0, CHUNK).equals(plaintext50k.subarray(0, CHUNK)));
            return i < recs.length ? { done: false, value: recs[i++]! } : { done: true, value: undefined };
          },
        };
      },
    };
    await decryptStream(manifest, source, contentKey, { output: out });
    // next() #1 asked for chunk 0, #2 for chunk 1 before chunk 0 was decrypted, #3 after
    expect(chunk0Done.slice(0, 3)).toEqual([false, false, true]);
  });

  it('aborts at a bad chunk with ChunkAuthFailed, zeroes the buffer and stops the source', async () => {
    const bad = Buffer.from(parts.payload);
    bad[4 * REC + 9]! ^= 0x40;
    const out = Buffer.alloc(manifest.plaintext_size, 0x55);
    let served = 0;
    const stream = Readable.from(
      (function* () {
        for (const p of pieces(bad, [REC])) {
          served++;
          yield p;
        }
      })(),
    );
    const e = await decryptStream(manifest, stream, contentKey, { output: out }).catch((x: unknown) => x);
    expect(isPackageError(e, 'ChunkAuthFailed') && e.chunkIndex).toBe(4);
    expect(out.every((b) => b === 0)).toBe(true);
    expect(stream.destroyed).toBe(true);
    expect(served).toBeLessThan(manifest.chunk_count);
  });

  it('refuses a payload digest mismatch when asked to check it', async () => {
    const m = { ...manifest, payload_sha256: '00'.repeat(32) };
    const out = Buffer.alloc(manifest.plaintext_size, 0x55);
    const e = await decryptStream(m, [parts.payload], contentKey, {
      output: out,
      checkPayloadDigest: true,
    }).catch((x: unknown) => x);
    expect(isPackageError(e, 'PayloadDigestMismatch')).toBe(true);
    expect(out.every((b) => b === 0)).toBe(true);
  });

  it('turns a failing source into PayloadReadFailed, with the buffer zeroed', async () => {
    const out = Buffer.alloc(manifest.plaintext_size, 0x55);
    const source = (async function* () {
      yield parts.payload.subarray(0, 3 * REC);
      throw new Error('ECONNRESET');
    })();
    const e = await decryptStream(manifest, source, contentKey, { output: out }).catch((x: unknown) => x);
    expect(isPackageError(e, 'PayloadReadFailed')).toBe(true);
    expect((e as Error).cause).toMatchObject({ message: 'ECONNRESET' });
    expect(out.every((b) => b === 0)).toBe(true);
  });

  it('treats a source of strings or a non-iterable as misuse', async () => {
    await expect(decryptStream(manifest, ['abc'] as unknown as Uint8Array[], contentKey)).rejects.toThrow(
      TypeError,
    );
    await expect(decryptStream(manifest, 42 as unknown as Uint8Array[], contentKey)).rejects.toThrow(
      TypeError,
    );
  });
});
