// bench:model — what protecting a model costs on the device (issue 9), in one run:
//  1. load time of a ≥ 100 MB model from its encrypted package (read, verify the manifest,
//     decrypt in authenticated chunks, check the plaintext digest, create the onnxruntime
//     session from the buffer, wipe the plaintext) against InferenceSession.create(path) of
//     the plaintext file — the peer is onnxruntime loading an unprotected model;
//  2. decrypt throughput beside `openssl speed -evp aes-256-gcm` in the same run;
//  3. inference p50/p99 and CPU time per inference of the shipped model (the energy proxy a
//     battery budget needs).
// Both loads read from a warm page cache (each file is read once before timing). Env:
// BENCH_MIB (default 100), BENCH_ROUNDS (default 5), BENCH_INFERENCES (default 2000).
// Last line: one JSON object.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  decryptReader,
  MAX_HEAD_BYTES,
  newPackageId,
  packageModel,
  readPackageHead,
  releaseKeyId,
  verifyManifest,
} from '../lib/model-package/index.ts';
import { extractFeatures } from '../ml/features.ts';
import { padModel } from '../ml/onnx-export.ts';
import { createRng } from '../ml/prng.ts';
import { generateWindow } from '../ml/signal.ts';

const MIB = Number(process.env.BENCH_MIB ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const INFERENCES = Number(process.env.BENCH_INFERENCES ?? 2000);
const ROOT = join(import.meta.dirname, '..');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const q = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

const dir = mkdtempSync(join(tmpdir(), 'edgeseal-bench-model-'));
try {
  const small = readFileSync(join(ROOT, 'ml', 'models', 'vibration.onnx'));
  const plain = padModel(small, MIB);
  const plainPath = join(dir, 'model.onnx');
  writeFileSync(plainPath, plain);
  const releaseKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const contentKey = randomBytes(32);
  const packageId = newPackageId();
  const pkg = await packageModel({
    plaintext: plain,
    contentKey,
    releaseKey,
    packageId,
    manifest: {
      model_id: 'vibration',
      version: 'bench',
      release_counter: 1,
      hardware_models: ['cam-v2'],
      content_key_id: `ck_${packageId}`,
      io: { inputs: [], outputs: [] },
      drift: {},
    },
  });
  const pkgPath = join(dir, 'model.pkg');
  writeFileSync(pkgPath, pkg);
  const keys = new Map([[releaseKeyId(releaseKey), releaseKey]]);
  readFileSync(plainPath);
  readFileSync(pkgPath); // warm the page cache for both

  const fromPath = async () => {
    const t0 = process.hrtime.bigint();
    const s = await ort.InferenceSession.create(plainPath);
    const t = ms(t0);
    await s.release();
    return t;
  };
  const fromPackage = async () => {
    const t0 = process.hrtime.bigint();
    const fh = await open(pkgPath, 'r');
    try {
      const headBuf = Buffer.alloc(MAX_HEAD_BYTES);
      const { bytesRead } = await fh.read(headBuf, 0, headBuf.length, 0);
      const head = readPackageHead(headBuf.subarray(0, bytesRead));
      const manifest = await verifyManifest(head.manifestJws, { releaseKeys: keys, now: new Date() });
      const model = await decryptReader(
        manifest,
        async (buffers, position) => (await fh.readv(buffers, head.payloadOffset + position)).bytesRead,
        contentKey,
      );
      const s = await ort.InferenceSession.create(model);
      model.fill(0); // onnxruntime copied the weights
      const t = ms(t0);
      await s.release();
      return t;
    } finally {
      await fh.close();
    }
  };
  const path: number[] = [];
  const enc: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    // alternate, so drift in machine load hits both
    path.push(await fromPath());
    enc.push(await fromPackage());
  }

  // decrypt alone (no create), and openssl's ceiling, same run
  const decryptOnly: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const fh = await open(pkgPath, 'r');
    const headBuf = Buffer.alloc(MAX_HEAD_BYTES);
    const { bytesRead } = await fh.read(headBuf, 0, headBuf.length, 0);
    const head = readPackageHead(headBuf.subarray(0, bytesRead));
    const manifest = await verifyManifest(head.manifestJws, { releaseKeys: keys, now: new Date() });
    const t0 = process.hrtime.bigint();
    const model = await decryptReader(
      manifest,
      async (buffers, position) => (await fh.readv(buffers, head.payloadOffset + position)).bytesRead,
      contentKey,
    );
    decryptOnly.push(ms(t0));
    model.fill(0);
    await fh.close();
  }
  const speed = execFileSync(
    'openssl',
    ['speed', '-evp', 'aes-256-gcm', '-decrypt', '-bytes', '4194304', '-seconds', '2'],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  // last column of the result line: kB/s in thousands ("…k")
  const opensslKbps = Number(/aes-256-gcm\s+([\d.]+)k/i.exec(speed)?.[1] ?? Number.NaN);
  const opensslGBps = (opensslKbps * 1000) / 1e9;
  const decryptGBps = plain.length / 1e9 / (median(decryptOnly) / 1000);

  // inference of the shipped model: one window a call, as the agent runs it
  const session = await ort.InferenceSession.create(small);
  const rng = createRng(7);
  const windows: Float32Array[] = [];
  for (let i = 0; i < 64; i++) {
    windows.push(extractFeatures(generateWindow('normal', rng)).features);
  }
  const lat: number[] = [];
  const cpu0 = process.cpuUsage();
  const wall0 = process.hrtime.bigint();
  for (let i = 0; i < INFERENCES; i++) {
    const t0 = process.hrtime.bigint();
    await session.run({ features: new ort.Tensor('float32', windows[i % windows.length]!, [1, 16]) });
    lat.push(ms(t0));
  }
  const cpu = process.cpuUsage(cpu0);
  const wall = ms(wall0);
  await session.release();

  const result = {
    model_mib: Math.round((plain.length / 2 ** 20) * 10) / 10,
    package_mib: Math.round((pkg.length / 2 ** 20) * 10) / 10,
    load_from_path_ms: Math.round(median(path)),
    load_from_package_ms: Math.round(median(enc)),
    load_ratio: Math.round((median(enc) / median(path)) * 100) / 100,
    load_from_path_ms_all: path.map(Math.round),
    load_from_package_ms_all: enc.map(Math.round),
    decrypt_ms: Math.round(median(decryptOnly)),
    decrypt_gb_s: Math.round(decryptGBps * 100) / 100,
    openssl_aes_256_gcm_decrypt_gb_s: Math.round(opensslGBps * 100) / 100,
    decrypt_vs_openssl: Math.round((decryptGBps / opensslGBps) * 100) / 100,
    inference_p50_ms: Math.round(q(lat, 0.5) * 1000) / 1000,
    inference_p99_ms: Math.round(q(lat, 0.99) * 1000) / 1000,
    inference_cpu_us_per_call: Math.round(((cpu.user + cpu.system) / INFERENCES) * 10) / 10,
    inference_wall_us_per_call: Math.round((wall * 1000) / INFERENCES),
  };
  console.log(
    [
      `model ${result.model_mib} MiB (package ${result.package_mib} MiB), ${ROUNDS} rounds, warm page cache`,
      `  load: InferenceSession.create(path) ${result.load_from_path_ms} ms; from the encrypted package (read, verify, decrypt, digest, create, wipe) ${result.load_from_package_ms} ms → ${result.load_ratio}×`,
      `  decrypt ${result.decrypt_gb_s} GB/s (tags + plaintext digest, from the file) vs openssl aes-256-gcm ${result.openssl_aes_256_gcm_decrypt_gb_s} GB/s → ${result.decrypt_vs_openssl}×`,
      `  inference (shipped model, 1 window): p50 ${result.inference_p50_ms} ms, p99 ${result.inference_p99_ms} ms, CPU ${result.inference_cpu_us_per_call} µs per call`,
    ].join('\n'),
  );
  console.log(JSON.stringify(result));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
