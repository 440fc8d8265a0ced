// bench:model — what protecting a model costs on the device (issue 9), in one run:
//  1. load time of a ≥ 100 MB model from its encrypted package (read, verify the manifest,
//     decrypt in authenticated chunks, check the plaintext digest, create the onnxruntime
//     session from the buffer, wipe the plaintext) against InferenceSession.create(path) of
//     the plaintext file — the peer is onnxruntime loading an unprotected model. Three ways,
//     alternated round by round with create(path):
//       - `inline`: the plaintext SHA-256 on this thread, output allocated inside the clock
//         (how decryptReader worked before HashThread);
//       - `thread`: the SHA-256 on a HashThread (started once per process, before the clock,
//         as the agent does at start; its start time is reported), output allocated inside
//         the clock — the headline load_from_package_ms;
//       - `thread + prefaulted`: as `thread`, with the output made by allocateOutput BEFORE
//         the clock (the agent can do that while it waits for key release); the first touch
//         of the output's pages is then not in the figure (prefault_ms says what it costs).
//     Each load is split into its parts (open+head+verify, decrypt, create, wipe), and
//     create(buffer) of the plaintext alone is timed beside create(path);
//  2. decrypt throughput (tags + plaintext digest, from the file, no create) for the same
//     three, beside `openssl speed -evp aes-256-gcm` in the same run, and SHA-256 alone;
//  3. inference p50/p99 and CPU time per inference of the shipped model (the energy proxy a
//     battery budget needs).
// Both loads read from a warm page cache (each file is read once before timing), and both
// sides of the ratio use the same session options. Env: BENCH_MIB (default 100), BENCH_ROUNDS
// (default 5), BENCH_INFERENCES (default 2000), BENCH_SESSION_OPTIONS (JSON onnxruntime
// SessionOptions for both sides, default {}). Last line: one JSON object.
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from '../lib/ort.ts';
import {
  allocateOutput,
  decryptReader,
  HashThread,
  type Manifest,
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
const SESSION_OPTIONS = JSON.parse(
  process.env.BENCH_SESSION_OPTIONS ?? '{}',
) as ort.InferenceSession.SessionOptions;
const ROOT = join(import.meta.dirname, '..');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const q = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

/**
 * CPU time per thread of this process (Linux schedstat, ns → ms): time on a core, and time
 * runnable but waiting for one. The wait is the contention gauge: on a machine shared with
 * other work it is what makes wall times swing.
 */
const threadTimes = (): Map<string, { run: number; wait: number }> => {
  const m = new Map<string, { run: number; wait: number }>();
  if (!existsSync('/proc/self/task')) return m;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const [run, wait] = readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      m.set(tid, { run: run! / 1e6, wait: wait! / 1e6 });
    } catch {} // a thread that ended meanwhile
  }
  return m;
};

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

  const tidsBefore = new Set(threadTimes().keys());
  const hashThreadT0 = process.hrtime.bigint();
  const hashThread = await HashThread.start();
  const hashThreadStartMs = ms(hashThreadT0);
  const hashTid = [...threadTimes().keys()].find((t) => !tidsBefore.has(t));
  const mainTid = String(process.pid);
  interface Cpu {
    this_thread: number;
    hash_thread: number;
    other_threads: number;
    runqueue_wait: number;
  }
  /** what each thread spent between two threadTimes() snapshots */
  const cpuBetween = (a: ReturnType<typeof threadTimes>, b: ReturnType<typeof threadTimes>): Cpu => {
    const c: Cpu = { this_thread: 0, hash_thread: 0, other_threads: 0, runqueue_wait: 0 };
    for (const [tid, t] of b) {
      const t0 = a.get(tid) ?? { run: 0, wait: 0 };
      const run = t.run - t0.run;
      c.runqueue_wait += t.wait - t0.wait;
      if (tid === mainTid) c.this_thread += run;
      else if (tid === hashTid) c.hash_thread += run;
      else c.other_threads += run;
    }
    return c;
  };

  type Way = 'inline' | 'thread' | 'prefaulted';
  const WAYS: readonly Way[] = ['inline', 'thread', 'prefaulted'];
  const decryptOpts = async (way: Way, manifest: Manifest) => ({
    hashThread: way === 'inline' ? undefined : hashThread,
    output: way === 'prefaulted' ? await allocateOutput(manifest) : undefined,
  });
  /** the head and the verified manifest, as the agent has them once the package is on disk */
  const openPackage = async () => {
    const fh = await open(pkgPath, 'r');
    const headBuf = Buffer.alloc(MAX_HEAD_BYTES);
    const { bytesRead } = await fh.read(headBuf, 0, headBuf.length, 0);
    const head = readPackageHead(headBuf.subarray(0, bytesRead));
    const manifest = await verifyManifest(head.manifestJws, { releaseKeys: keys, now: new Date() });
    const read = async (buffers: Uint8Array[], position: number) =>
      (await fh.readv(buffers, head.payloadOffset + position)).bytesRead;
    return { fh, manifest, read };
  };

  const fromPath = async () => {
    const t0 = process.hrtime.bigint();
    const s = await ort.InferenceSession.create(plainPath, SESSION_OPTIONS);
    const t = ms(t0);
    await s.release();
    return t;
  };
  const fromBuffer = async () => {
    const t0 = process.hrtime.bigint();
    const s = await ort.InferenceSession.create(plain, SESSION_OPTIONS);
    const t = ms(t0);
    await s.release();
    return t;
  };
  interface Load {
    wait: number;
    total: number;
    head: number;
    decrypt: number;
    create: number;
    wipe: number;
  }
  const fromPackage = async (way: Way): Promise<Load> => {
    // `prefaulted`: the output is made by allocateOutput before the clock (the agent has the
    // verified manifest while it waits for key release); the clock then covers everything the
    // agent does once the content key is there, from opening the package file
    let pre: Buffer | undefined;
    if (way === 'prefaulted') {
      const early = await openPackage();
      await early.fh.close();
      pre = await allocateOutput(early.manifest);
    }
    const s0 = threadTimes();
    const t0 = process.hrtime.bigint();
    const { fh, manifest, read } = await openPackage();
    try {
      const t1 = process.hrtime.bigint();
      const model = await decryptReader(manifest, read, contentKey, {
        hashThread: way === 'inline' ? undefined : hashThread,
        output: pre,
      });
      const t2 = process.hrtime.bigint();
      const s = await ort.InferenceSession.create(model, SESSION_OPTIONS);
      const t3 = process.hrtime.bigint();
      model.fill(0); // onnxruntime copied the weights
      const t4 = process.hrtime.bigint();
      const wait = cpuBetween(s0, threadTimes()).runqueue_wait;
      await s.release();
      const d = (a: bigint, b: bigint) => Number(b - a) / 1e6;
      return {
        wait,
        total: d(t0, t4),
        head: d(t0, t1),
        decrypt: d(t1, t2),
        create: d(t2, t3),
        wipe: d(t3, t4),
      };
    } finally {
      await fh.close();
    }
  };
  const path: number[] = [];
  const buffer: number[] = [];
  const loads: Record<Way, Load[]> = { inline: [], thread: [], prefaulted: [] };
  for (let i = 0; i < ROUNDS; i++) {
    // alternate, so drift in machine load hits all of them
    path.push(await fromPath());
    for (const way of WAYS) loads[way].push(await fromPackage(way));
    buffer.push(await fromBuffer());
  }

  // decrypt alone (no create), the three ways; SHA-256 alone; openssl's ceiling, same run
  const decryptOnly: Record<Way, number[]> = { inline: [], thread: [], prefaulted: [] };
  const decryptCpu: Record<Way, Cpu[]> = { inline: [], thread: [], prefaulted: [] };
  const prefault: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    for (const way of WAYS) {
      const { fh, manifest, read } = await openPackage();
      const tp = process.hrtime.bigint();
      const opts = await decryptOpts(way, manifest);
      if (way === 'prefaulted') prefault.push(ms(tp));
      const s0 = threadTimes();
      const t0 = process.hrtime.bigint();
      const model = await decryptReader(manifest, read, contentKey, opts);
      decryptOnly[way].push(ms(t0));
      decryptCpu[way].push(cpuBetween(s0, threadTimes()));
      model.fill(0);
      await fh.close();
    }
  }
  const sha: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = process.hrtime.bigint();
    createHash('sha256').update(plain).digest();
    sha.push(ms(t0));
  }
  await hashThread.close();
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
  const gbps = (xs: number[]) => plain.length / 1e9 / (median(xs) / 1000);
  const r2 = (x: number) => Math.round(x * 100) / 100;
  const r1 = (x: number) => Math.round(x * 10) / 10;

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

  const part = (way: Way, k: keyof Load) => r1(median(loads[way].map((l) => l[k])));
  const loadOf = (way: Way) => ({
    ms: Math.round(median(loads[way].map((l) => l.total))),
    ratio: r2(median(loads[way].map((l) => l.total)) / median(path)),
    ms_all: loads[way].map((l) => Math.round(l.total)),
    parts_ms: {
      head_verify: part(way, 'head'),
      decrypt: part(way, 'decrypt'),
      create: part(way, 'create'),
      wipe: part(way, 'wipe'),
    },
  });
  const cpuOf = (way: Way) => {
    const k = (f: keyof Cpu) => r1(median(decryptCpu[way].map((c) => c[f])));
    return {
      this_thread: k('this_thread'),
      hash_thread: k('hash_thread'),
      other_threads: k('other_threads'),
      runqueue_wait: k('runqueue_wait'),
    };
  };
  const inline = loadOf('inline');
  const thread = loadOf('thread');
  const prefaulted = loadOf('prefaulted');
  const result = {
    model_mib: r1(plain.length / 2 ** 20),
    package_mib: r1(pkg.length / 2 ** 20),
    session_options: SESSION_OPTIONS,
    load_from_path_ms: Math.round(median(path)),
    load_from_package_ms: thread.ms,
    load_ratio: thread.ratio,
    load_from_package_prefaulted_ms: prefaulted.ms,
    load_ratio_prefaulted: prefaulted.ratio,
    load_from_package_inline_hash_ms: inline.ms,
    load_ratio_inline_hash: inline.ratio,
    load_from_path_ms_all: path.map(Math.round),
    load_from_package_ms_all: thread.ms_all,
    load_from_package_prefaulted_ms_all: prefaulted.ms_all,
    load_from_package_inline_hash_ms_all: inline.ms_all,
    load_parts_ms: { thread: thread.parts_ms, prefaulted: prefaulted.parts_ms, inline_hash: inline.parts_ms },
    create_from_buffer_ms: Math.round(median(buffer)),
    create_from_buffer_ms_all: buffer.map(Math.round),
    hash_thread_start_ms: r1(hashThreadStartMs),
    prefault_ms: r1(median(prefault)),
    decrypt_ms: Math.round(median(decryptOnly.thread)),
    decrypt_gb_s: r2(gbps(decryptOnly.thread)),
    decrypt_prefaulted_ms: Math.round(median(decryptOnly.prefaulted)),
    decrypt_prefaulted_gb_s: r2(gbps(decryptOnly.prefaulted)),
    decrypt_inline_hash_ms: Math.round(median(decryptOnly.inline)),
    decrypt_inline_hash_gb_s: r2(gbps(decryptOnly.inline)),
    decrypt_cpu_ms: {
      thread: cpuOf('thread'),
      prefaulted: cpuOf('prefaulted'),
      inline_hash: cpuOf('inline'),
    },
    load_runqueue_wait_ms: r1(median(WAYS.flatMap((w) => loads[w].map((l) => l.wait)))),
    sha256_ms: r1(median(sha)),
    sha256_gb_s: r2(gbps(sha)),
    openssl_aes_256_gcm_decrypt_gb_s: r2(opensslGBps),
    decrypt_vs_openssl: r2(gbps(decryptOnly.thread) / opensslGBps),
    inference_p50_ms: Math.round(q(lat, 0.5) * 1000) / 1000,
    inference_p99_ms: Math.round(q(lat, 0.99) * 1000) / 1000,
    inference_cpu_us_per_call: Math.round(((cpu.user + cpu.system) / INFERENCES) * 10) / 10,
    inference_wall_us_per_call: Math.round((wall * 1000) / INFERENCES),
  };
  const partsLine = (p: typeof thread.parts_ms) =>
    `head+verify ${p.head_verify}, decrypt ${p.decrypt}, create ${p.create}, wipe ${p.wipe} ms`;
  console.log(
    [
      `model ${result.model_mib} MiB (package ${result.package_mib} MiB), ${ROUNDS} rounds, warm page cache, session options ${JSON.stringify(SESSION_OPTIONS)} on both sides`,
      `  load: InferenceSession.create(path) ${result.load_from_path_ms} ms (create(buffer) of the plaintext alone ${result.create_from_buffer_ms} ms)`,
      `    from the encrypted package (read, verify, decrypt, digest, create, wipe):`,
      `      hash thread, output allocated in the clock   ${thread.ms} ms → ${thread.ratio}×  (${partsLine(thread.parts_ms)})`,
      `      hash thread, output pre-faulted before clock ${prefaulted.ms} ms → ${prefaulted.ratio}×  (${partsLine(prefaulted.parts_ms)}; allocateOutput itself ${result.prefault_ms} ms, outside)`,
      `      inline hash (before), output in the clock    ${inline.ms} ms → ${inline.ratio}×  (${partsLine(inline.parts_ms)})`,
      `    hash thread started once before the clock: ${result.hash_thread_start_ms} ms`,
      `  decrypt (tags + plaintext digest, from the file): hash thread ${result.decrypt_gb_s} GB/s (${result.decrypt_ms} ms), pre-faulted ${result.decrypt_prefaulted_gb_s} GB/s (${result.decrypt_prefaulted_ms} ms), inline hash ${result.decrypt_inline_hash_gb_s} GB/s (${result.decrypt_inline_hash_ms} ms)`,
      `    CPU per decryption (ms; this thread / hash thread / others: pool, GC): ${(
        ['thread', 'prefaulted', 'inline_hash'] as const
      )
        .map((w) => {
          const c = result.decrypt_cpu_ms[w];
          return `${w} ${c.this_thread} / ${c.hash_thread} / ${c.other_threads}`;
        })
        .join('; ')}`,
      `    contention: our threads runnable but waiting for a core ${result.decrypt_cpu_ms.thread.runqueue_wait} ms per decryption, ${result.load_runqueue_wait_ms} ms per load (other sessions' work, or our own threads outnumbering the 2 cores)`,
      `    vs openssl aes-256-gcm ${result.openssl_aes_256_gcm_decrypt_gb_s} GB/s → ${result.decrypt_vs_openssl}×; SHA-256 alone ${result.sha256_gb_s} GB/s (${result.sha256_ms} ms), one core`,
      `  inference (shipped model, 1 window): p50 ${result.inference_p50_ms} ms, p99 ${result.inference_p99_ms} ms, CPU ${result.inference_cpu_us_per_call} µs per call`,
    ].join('\n'),
  );
  console.log(JSON.stringify(result));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
