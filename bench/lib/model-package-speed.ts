// Throughput of lib/model-package on a large random "model", beside openssl's AES-256-GCM
// ceiling in the same run. Not a test: figures for docs/benchmarks.md and bench:model.
//
//   node --import tsx bench/lib/model-package-speed.ts
//
// For 1 MiB and 4 MiB chunks: packageModel (encrypt + both digests + sign); decryptPackage
// from memory (tags + plaintext digest); checkPayload (the ciphertext digest, no key);
// decryptStream from a file (fs.createReadStream from the payload offset, highWaterMark = the
// chunk size); decryptReader from the same file (positioned readv into the output buffer, 2
// reads ahead); and the parts alone: reading the file, chunked AES-GCM with no digest into a
// fresh buffer and into one whose pages are already mapped, SHA-256. The file was just
// written, so reads come from a warm page cache. GB/s = 10^9 plaintext bytes per second; each
// figure is the median of BENCH_ROUNDS runs (min beside it). Last line: one JSON object.
// Env: BENCH_MIB (default 100), BENCH_ROUNDS (default 5).
import { execFileSync } from 'node:child_process';
import { createDecipheriv, createHash, generateKeyPairSync, randomBytes, randomFillSync } from 'node:crypto';
import {
  createReadStream,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  closeSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  chunkAad,
  chunkNonce,
  checkPayload,
  decryptPackage,
  decryptReader,
  decryptStream,
  MAX_HEAD_BYTES,
  packageModel,
  readPackage,
  readPackageHead,
  releaseKeyId,
  verifyManifest,
  type Manifest,
} from '../../lib/model-package/index.ts';

const MIB = 1024 * 1024;
const size = Number(process.env['BENCH_MIB'] ?? 100) * MIB;
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 5);

interface Figure {
  median_ms: number;
  min_ms: number;
  gb_s: number;
}

async function time(f: () => unknown, after?: (r: unknown) => void): Promise<Figure> {
  const ms: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = process.hrtime.bigint();
    const r = await f();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    after?.(r);
  }
  ms.sort((a, b) => a - b);
  const median = ms[Math.floor(ms.length / 2)]!;
  return { median_ms: round(median), min_ms: round(ms[0]!), gb_s: round(size / 1e9 / (median / 1000), 2) };
}

const round = (x: number, digits = 1): number => Number(x.toFixed(digits));
const wipe = (r: unknown) => (r as Buffer).fill(0);

/** 256 KiB per update(), as lib/model-package/chunk-opener.ts does */
const SLICE = 256 * 1024;

/** Chunked AES-256-GCM into one buffer with no digest: the AES part of decryptPackage alone. */
function aesOnly(m: Manifest, payload: Buffer, key: Buffer, into?: Buffer): Buffer {
  const out = into ?? Buffer.allocUnsafeSlow(m.plaintext_size);
  const id = Buffer.from(m.package_id, 'base64url');
  const base = Buffer.from(m.nonce_base, 'base64url');
  let at = 0;
  let written = 0;
  for (let i = 0; i < m.chunk_count; i++) {
    const len = Math.min(m.chunk_size, m.plaintext_size - i * m.chunk_size);
    const d = createDecipheriv('aes-256-gcm', key, chunkNonce(base, i), { authTagLength: 16 });
    d.setAAD(chunkAad(id, i, m.chunk_count));
    const pending: Buffer[] = [];
    for (let o = 0; o < len; o += SLICE)
      pending.push(d.update(payload.subarray(at + o, at + Math.min(o + SLICE, len))));
    d.setAuthTag(payload.subarray(at + len, at + len + 16));
    d.final();
    for (const pt of pending) {
      written += pt.copy(out, written);
      pt.fill(0);
    }
    at += len + 16;
  }
  return out;
}

async function readHead(file: string) {
  const fd = openSync(file, 'r');
  try {
    const prefix = Buffer.alloc(MAX_HEAD_BYTES);
    return readPackageHead(prefix.subarray(0, readSync(fd, prefix, 0, prefix.length, 0)));
  } finally {
    closeSync(fd);
  }
}

async function drain(file: string, start: number, hwm: number): Promise<number> {
  let n = 0;
  for await (const piece of createReadStream(file, { start, highWaterMark: hwm }))
    n += (piece as Buffer).length;
  return n;
}

function openssl(): Record<string, number | string> {
  const run = (extra: string[]) => {
    try {
      const out = execFileSync(
        'openssl',
        ['speed', '-evp', 'aes-256-gcm', '-bytes', '4194304', '-seconds', '2', ...extra],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        },
      );
      const kb = Number(/aes-256-gcm\s+([\d.]+)k/i.exec(out)?.[1]);
      return round((kb * 1000) / 1e9, 2);
    } catch (e) {
      return `failed: ${String(e).slice(0, 60)}`;
    }
  };
  return { encrypt_gb_s: run([]), decrypt_gb_s: run(['-decrypt']) };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'model-package-speed-'));
  const plaintext = randomFillSync(Buffer.allocUnsafeSlow(size));
  const contentKey = randomBytes(32);
  const releaseKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const releaseKeys = new Map([[releaseKeyId(releaseKey), releaseKey]]);
  const claims = {
    model_id: 'bench',
    version: '1',
    release_counter: 1,
    hardware_models: ['bench-hw'],
    content_key_id: 'ck-bench',
    io: { inputs: [], outputs: [] },
    drift: {},
  };
  const results: Record<string, unknown> = {};
  // a buffer whose pages are already mapped: the AES ceiling without first-touch page faults
  const touched = Buffer.alloc(size, 1);
  try {
    results['sha256_gb_s'] = (await time(() => createHash('sha256').update(plaintext).digest())).gb_s;
    for (const chunkSize of [1 * MIB, 4 * MIB]) {
      const label = `${chunkSize / MIB}MiB`;
      let pkg: Buffer = Buffer.alloc(0);
      const pack = await time(async () => {
        pkg = await packageModel({ plaintext, manifest: claims, contentKey, releaseKey, chunkSize });
      });
      const file = join(dir, `model-${label}.esmp`);
      writeFileSync(file, pkg);
      const parts = readPackage(pkg);
      const manifest = await verifyManifest(parts.manifestJws, { releaseKeys, now: new Date() });
      const head = await readHead(file);
      const r = {
        package_model: pack,
        check_payload: await time(() => checkPayload(manifest, parts.payload)),
        decrypt_package: await time(() => decryptPackage(manifest, parts.payload, contentKey), wipe),
        aes_gcm_chunks_only: await time(() => aesOnly(manifest, parts.payload, contentKey), wipe),
        aes_gcm_chunks_only_prefaulted: await time(() =>
          aesOnly(manifest, parts.payload, contentKey, touched),
        ),
        read_file_only: await time(() => drain(file, head.payloadOffset, chunkSize)),
        decrypt_stream_from_file: await time(async () => {
          const h = await readHead(file);
          const m = await verifyManifest(h.manifestJws, { releaseKeys, now: new Date() });
          const stream = createReadStream(file, { start: h.payloadOffset, highWaterMark: m.chunk_size });
          return decryptStream(m, stream, contentKey);
        }, wipe),
        decrypt_reader_from_file: await time(async () => {
          const h = await readHead(file);
          const m = await verifyManifest(h.manifestJws, { releaseKeys, now: new Date() });
          const fh = await open(file, 'r');
          try {
            return await decryptReader(
              m,
              async (bufs, pos) => (await fh.readv(bufs, h.payloadOffset + pos)).bytesRead,
              contentKey,
            );
          } finally {
            await fh.close();
          }
        }, wipe),
        read_file_whole_then_decrypt: await time(() => {
          const p = readPackage(readFileSync(file));
          return decryptPackage(manifest, p.payload, contentKey);
        }, wipe),
      };
      const check = await decryptStream(
        manifest,
        createReadStream(file, { start: head.payloadOffset }),
        contentKey,
      );
      if (!check.equals(plaintext)) throw new Error('round trip failed');
      check.fill(0);
      results[label] = r;
      pkg = Buffer.alloc(0);
      rmSync(file);
    }
    results['openssl_speed_aes_256_gcm_4MiB'] = openssl();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  console.log(
    `model-package speed: ${size / MIB} MiB random plaintext, median of ${rounds} (GB/s = 1e9 B/s)`,
  );
  for (const label of ['1MiB', '4MiB']) {
    console.log(`  chunks of ${label}`);
    for (const [name, f] of Object.entries(results[label] as Record<string, Figure>)) {
      console.log(
        `    ${name.padEnd(30)} ${String(f.median_ms).padStart(7)} ms (min ${f.min_ms})  ${f.gb_s} GB/s`,
      );
    }
  }
  console.log(`  sha256 (node) ${results['sha256_gb_s']} GB/s`);
  console.log(
    `  openssl speed -evp aes-256-gcm -bytes 4194304 -seconds 2: ${JSON.stringify(results['openssl_speed_aes_256_gcm_4MiB'])}`,
  );
  console.log(JSON.stringify({ bench: 'model-package-speed', mib: size / MIB, rounds, ...results }));
}

await main();
