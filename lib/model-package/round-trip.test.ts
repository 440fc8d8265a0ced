import { createHash, webcrypto } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { chunkAad, chunkNonce } from './chunks.ts';
import { checkPayload, decryptPackage } from './decrypt.ts';
import { decryptReader } from './decrypt-reader.ts';
import { decryptStream } from './decrypt-stream.ts';
import { readPackage } from './format.ts';
import { verifyManifest } from './manifest.ts';
import { bytes, CHUNK, claims, contentKey, make, memoryReader, NOW, releaseKeys } from './test-fixtures.ts';

async function open(pkg: Buffer) {
  const parts = readPackage(pkg);
  const manifest = await verifyManifest(parts.manifestJws, {
    releaseKeys,
    now: NOW,
    hardwareModel: 'edgecam-2',
  });
  checkPayload(manifest, parts.payload);
  return { parts, manifest };
}

describe('round trip', () => {
  it.each([
    ['empty: one chunk of 0 bytes (its tag still authenticates the count)', 0, 1],
    ['1 byte', 1, 1],
    ['just under one chunk', CHUNK - 1, 1],
    ['exactly one chunk', CHUNK, 1],
    ['an exact multiple of the chunk size', 3 * CHUNK, 3],
    ['not a multiple (50 KiB + 123)', 50 * 1024 + 123, 13],
  ])('%s', async (_name, size, chunks) => {
    const plaintext = bytes(size, size + 3);
    const pkg = await make({ plaintext });
    const { parts, manifest } = await open(pkg);
    expect(manifest.chunk_count).toBe(chunks);
    expect(manifest.plaintext_size).toBe(size);
    expect(parts.payload.length).toBe(size + 16 * chunks);
    expect(manifest.plaintext_sha256).toBe(createHash('sha256').update(plaintext).digest('hex'));
    const out = decryptPackage(manifest, parts.payload, contentKey);
    expect(out.equals(plaintext)).toBe(true);
    const streamed = await decryptStream(manifest, Readable.from([parts.payload]), contentKey);
    expect(streamed.equals(plaintext)).toBe(true);
    const inPlace = await decryptReader(manifest, memoryReader(parts.payload), contentKey);
    expect(inPlace.equals(plaintext)).toBe(true);
  });

  it('chunks larger than the 256 KiB slices a chunk is opened in', async () => {
    const plaintext = bytes(1024 * 1024 + 300 * 1024 + 1, 5);
    const { parts, manifest } = await open(await make({ plaintext, chunkSize: 1024 * 1024 }));
    expect(decryptPackage(manifest, parts.payload, contentKey).equals(plaintext)).toBe(true);
    expect((await decryptStream(manifest, [parts.payload], contentKey)).equals(plaintext)).toBe(true);
    const inPlace = await decryptReader(manifest, memoryReader(parts.payload), contentKey);
    expect(inPlace.equals(plaintext)).toBe(true);
    const bad = Buffer.from(parts.payload);
    bad[600 * 1024]! ^= 1; // the third slice of chunk 0
    expect(() => decryptPackage(manifest, bad, contentKey)).toThrow(/ChunkAuthFailed: chunk 0 of 2/);
  });

  it('writes the claims it was given and the ones it computed', async () => {
    const { manifest } = await open(await make());
    expect(manifest).toMatchObject({
      ...claims,
      enc: 'A256GCM-CHUNKED-v1',
      chunk_size: CHUNK,
      iat: Math.floor(NOW.getTime() / 1000),
    });
    expect(manifest.package_id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(manifest.nonce_base).toMatch(/^[A-Za-z0-9_-]{16}$/);
  });

  it('defaults to 4 MiB chunks', async () => {
    const { manifest } = await open(await make({ chunkSize: undefined }));
    expect(manifest.chunk_size).toBe(4 * 1024 * 1024);
    expect(manifest.chunk_count).toBe(1);
  });

  it('gives every package its own id and nonce base', async () => {
    const [a, b] = await Promise.all([open(await make()), open(await make())]);
    expect(a.manifest.package_id).not.toBe(b.manifest.package_id);
    expect(a.manifest.nonce_base).not.toBe(b.manifest.nonce_base);
    expect(a.parts.payload.equals(b.parts.payload)).toBe(false);
  });

  it('decrypts into a buffer the caller gives', async () => {
    const { parts, manifest } = await open(await make());
    const into = new Uint8Array(manifest.plaintext_size);
    const out = decryptPackage(manifest, parts.payload, contentKey, { output: into });
    expect(out.buffer).toBe(into.buffer);
    expect(Buffer.from(into).equals(bytes(50 * 1024 + 123, 7))).toBe(true);
    expect(() => decryptPackage(manifest, parts.payload, contentKey, { output: new Uint8Array(3) })).toThrow(
      TypeError,
    );
  });
});

describe('the scheme, as documented in chunks.ts (vectors)', () => {
  const packageId = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
  const nonceBase = Buffer.from('a0a1a2a3a4a5a6a7a8a9aaab', 'hex');

  it('nonce_i = nonce_base XOR (0^32 ‖ uint64_be(i))', () => {
    expect(chunkNonce(nonceBase, 0).toString('hex')).toBe('a0a1a2a3a4a5a6a7a8a9aaab');
    expect(chunkNonce(nonceBase, 1).toString('hex')).toBe('a0a1a2a3a4a5a6a7a8a9aaaa');
    expect(chunkNonce(nonceBase, 0x1_0000_0102).toString('hex')).toBe('a0a1a2a3a4a5a6a6a8a9aba9');
    expect(nonceBase.toString('hex')).toBe('a0a1a2a3a4a5a6a7a8a9aaab'); // not modified
  });

  it('aad_i = label ‖ 0 ‖ package id ‖ uint64_be(i) ‖ uint64_be(n) ‖ last', () => {
    const label = Buffer.from('A256GCM-CHUNKED-v1\0').toString('hex');
    const id = packageId.toString('hex');
    expect(chunkAad(packageId, 1, 3).toString('hex')).toBe(`${label}${id}0000000000000001000000000000000300`);
    expect(chunkAad(packageId, 2, 3).toString('hex')).toBe(`${label}${id}0000000000000002000000000000000301`);
  });

  it('a chunk opens with WebCrypto given only the documented nonce and AAD', async () => {
    const pkg = await make({
      packageId: packageId.toString('base64url'),
      nonceBase,
      plaintext: bytes(2 * CHUNK + 10, 9),
    });
    const { parts } = await open(pkg);
    const k = await webcrypto.subtle.importKey('raw', contentKey, 'AES-GCM', false, ['decrypt']);
    const last = parts.payload.subarray(2 * (CHUNK + 16));
    const pt = await webcrypto.subtle.decrypt(
      {
        name: 'AES-GCM',
        iv: chunkNonce(nonceBase, 2),
        additionalData: chunkAad(packageId, 2, 3),
        tagLength: 128,
      },
      k,
      last,
    );
    expect(Buffer.from(pt).equals(bytes(2 * CHUNK + 10, 9).subarray(2 * CHUNK))).toBe(true);
  });

  it('fixed inputs give a fixed payload (format regression vector)', async () => {
    const pkg = await make({
      packageId: packageId.toString('base64url'),
      nonceBase,
      plaintext: bytes(2 * CHUNK + 10, 9),
    });
    const { manifest } = await open(pkg);
    expect(manifest.payload_sha256).toBe('e88adef56a92cd52daea6d8e64c72ee4d71404d3a14b2ff0abdc7e1918d2aced');
  });
});
