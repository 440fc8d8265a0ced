// Seeded mutations of a small package through everything a reader runs: every result is the
// original plaintext or a PackageError, never another exception. The chunk layer runs whether
// or not checkPayload passed, so payload mutations reach it too.
import { describe, expect, it } from 'vitest';
import { checkPayload, decryptPackage } from './decrypt.ts';
import { decryptReader } from './decrypt-reader.ts';
import { decryptStream } from './decrypt-stream.ts';
import { isPackageError } from './errors.ts';
import { readPackage } from './format.ts';
import { unwrapContentKey, wrapContentKey } from './key-envelope.ts';
import { verifyManifest } from './manifest.ts';
import { newPackageId } from './package-model.ts';
import { bytes, contentKey, keyService, make, memoryReader, NOW, releaseKeys } from './test-fixtures.ts';

const SEED = 0x5eed_0009;
const MUTATIONS = 400;
const plaintext = bytes(5000, 11);
const packageId = newPackageId();
const envelope = await wrapContentKey(contentKey, keyService.publicKey.export({ format: 'jwk' }), packageId);
const original = await make({ plaintext, chunkSize: 1024, packageId, keyEnvelope: envelope });
const parts = readPackage(original);

/** mulberry32: small, seeded, good enough to pick mutations */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n;
  };
}

function mutate(src: Buffer, r: (n: number) => number): [string, Buffer] {
  const b = Buffer.from(src);
  const at = Math.floor(r(b.length));
  const lengthFields = [8, 12 + parts.manifestJws.length, parts.payloadOffset - 8, parts.payloadOffset - 4];
  const absurd = [0, 1, 0xffffffff, 0x7fffffff, 0x80000000, b.length, Math.floor(r(2 ** 32))];
  switch (Math.floor(r(11))) {
    case 0:
      b[at]! ^= 1 << Math.floor(r(8));
      return ['flip a bit', b];
    case 1:
      b[Math.floor(r(parts.payloadOffset))]! ^= 1 << Math.floor(r(8));
      return ['flip a bit in the head', b];
    case 2:
      b[at] = Math.floor(r(256));
      return ['set a byte', b];
    case 3:
      return ['truncate', b.subarray(0, at)];
    case 4:
      return ['append', Buffer.concat([b, bytes(1 + Math.floor(r(1100)), at + 1)])];
    case 5:
      return [
        'insert',
        Buffer.concat([b.subarray(0, at), bytes(1 + Math.floor(r(40)), at + 2), b.subarray(at)]),
      ];
    case 6:
      return ['delete', Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + Math.floor(r(40)))])];
    case 7: {
      const field = lengthFields[Math.floor(r(lengthFields.length))]!;
      b.writeUInt32BE(absurd[Math.floor(r(absurd.length))]! >>> 0, field);
      return ['rewrite a length', b];
    }
    case 8: {
      const from = Math.floor(r(b.length));
      const len = Math.floor(r(200));
      b.copy(b, at, from, from + len);
      return ['copy a range over another', b];
    }
    case 9: {
      // cut or grow the payload and rewrite its length to match: only the manifest's count is left
      const p = parts.payloadOffset;
      const size = Math.floor(r(parts.payload.length + 2 * 1040));
      const out = Buffer.concat([
        b.subarray(0, p),
        b.subarray(p, p + size),
        bytes(Math.max(0, size - parts.payload.length), at),
      ]);
      out.writeUInt32BE(size, p - 4);
      return ['resize the payload consistently', out];
    }
    default: {
      const rec = 1024 + 16;
      const [i, j] = [Math.floor(r(4)), Math.floor(r(4))];
      const p = parts.payloadOffset;
      const ci = Buffer.from(b.subarray(p + i * rec, p + (i + 1) * rec));
      b.copy(b, p + i * rec, p + j * rec, p + (j + 1) * rec);
      ci.copy(b, p + j * rec);
      return ['swap two chunks', b];
    }
  }
}

/** Runs a reader step: its result, or the code of the PackageError it threw; anything else fails. */
async function step<T>(f: () => T | Promise<T>): Promise<{ ok: T } | { code: string }> {
  try {
    return { ok: await f() };
  } catch (e) {
    if (!isPackageError(e)) throw e;
    return { code: e.code };
  }
}

async function readEverything(bytesIn: Buffer, outcomes: Map<string, number>): Promise<void> {
  const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
  const p = await step(() => readPackage(bytesIn));
  if ('code' in p) return void count(p.code);
  const m = await step(() =>
    verifyManifest(p.ok.manifestJws, { releaseKeys, now: NOW, hardwareModel: 'edgecam-3', firmwareSvn: 3 }),
  );
  if ('code' in m) return void count(m.code);
  if (p.ok.keyEnvelope !== undefined) {
    const k = await step(() => unwrapContentKey(p.ok.keyEnvelope!, keyService.privateKey, m.ok.package_id));
    if ('ok' in k) expect(k.ok.equals(contentKey)).toBe(true);
    else count(k.code);
  }
  const checked = await step(() => checkPayload(m.ok, p.ok.payload));
  const whole = await step(() => decryptPackage(m.ok, p.ok.payload, contentKey));
  const streamed = await step(() =>
    decryptStream(m.ok, [p.ok.payload.subarray(0, 777), p.ok.payload.subarray(777)], contentKey),
  );
  const inPlace = await step(() => decryptReader(m.ok, memoryReader(p.ok.payload, 999), contentKey));
  for (const r of [whole, streamed, inPlace]) {
    if ('ok' in r) expect(r.ok.equals(plaintext)).toBe(true);
  }
  // the layers agree: a payload the digest refuses never decrypts, and one it accepts always does
  expect('ok' in whole).toBe('ok' in checked);
  expect('ok' in streamed).toBe('ok' in checked);
  expect('ok' in inPlace).toBe('ok' in checked);
  count('code' in whole ? whole.code : 'decrypted');
}

describe('fuzz', () => {
  it(`${MUTATIONS} seeded mutations: the original plaintext or a PackageError, nothing else`, async () => {
    const r = prng(SEED);
    const outcomes = new Map<string, number>();
    for (let i = 0; i < MUTATIONS; i++) {
      const [what, mutated] = mutate(original, r);
      try {
        await readEverything(mutated, outcomes);
      } catch (e) {
        throw new Error(`mutation ${i} (${what}) escaped as ${String(e)}`, { cause: e });
      }
    }
    // a spread of reasons, not one catch-all
    expect([...outcomes.keys()]).toEqual(
      expect.arrayContaining([
        'PackageMalformed',
        'PackageTruncated',
        'ManifestMalformed',
        'ManifestSignatureInvalid',
        'ChunkAuthFailed',
        'PayloadSizeMismatch',
      ]),
    );
    expect([...outcomes.values()].reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(MUTATIONS);
  });
});
