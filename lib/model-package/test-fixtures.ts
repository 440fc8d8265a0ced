// Keys, claims and packages for the tests: small plaintexts, 4 KiB chunks, deterministic bytes.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { ManifestInput } from './manifest-claims.ts';
import { releaseKeyId } from './manifest.ts';
import { type PackageModelOptions, packageModel } from './package-model.ts';

export const NOW = new Date('2026-12-02T12:00:00Z');
export const CHUNK = 4096;

export const releaseKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
export const otherReleaseKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
export const keyService = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
export const releaseKeys = new Map<string, KeyObject>([[releaseKeyId(releaseKey), releaseKey]]);

/** Deterministic, incompressible-looking bytes (xorshift32). */
export function bytes(n: number, seed = 1): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export const key = (seed: number): Buffer => bytes(32, 1000 + seed);

export const claims: ManifestInput = {
  model_id: 'vibration-mlp',
  version: '1.4.0',
  release_counter: 7,
  hardware_models: ['edgecam-2', 'edgecam-3'],
  min_firmware_svn: 3,
  content_key_id: 'ck_01JDQ8',
  io: {
    inputs: [{ name: 'features', type: 'float32', shape: ['batch', 24] }],
    outputs: [{ name: 'probabilities', type: 'float32', shape: ['batch', 4] }],
  },
  drift: { statistic: 'psi', threshold: 0.2, training: { n: 4000 } },
};

export const plaintext50k = bytes(50 * 1024 + 123, 7);
export const contentKey = key(1);

export const make = (over: Partial<PackageModelOptions> = {}): Promise<Buffer> =>
  packageModel({
    plaintext: plaintext50k,
    manifest: claims,
    contentKey,
    releaseKey,
    chunkSize: CHUNK,
    now: NOW,
    ...over,
  });

/** A PayloadReader over bytes in memory, giving at most `most` bytes a call (short reads). */
export const memoryReader =
  (payload: Uint8Array, most = Number.MAX_SAFE_INTEGER) =>
  async (buffers: Uint8Array[], position: number): Promise<number> => {
    let n = 0;
    for (const b of buffers) {
      const take = Math.min(b.length, payload.length - position - n, most - n);
      if (take <= 0) break;
      b.set(payload.subarray(position + n, position + n + take));
      n += take;
      if (take < b.length) break;
    }
    return n;
  };
