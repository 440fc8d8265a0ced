// The protected model in a real agent process: it finds its release on the control plane,
// verifies the manifest, downloads the package, gets the content key by attesting, decrypts
// in memory, loads onnxruntime from that buffer and infers on its sensor; its telemetry
// reaches the backend as JWE. Nothing of the plaintext model or of its key reaches anything
// the agent wrote (the no-plaintext test). Tampered, revoked, foreign and older releases are
// each refused with their code before any plaintext is used, and a running model keeps
// running. Agents run as device-agent/run-main.ts (every `agent run`
// flag; the `edgeseal agent run` CLI takes the Part 4 flags only until it delegates to
// device-agent/run-args.ts), compiled ahead as a device would run it.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { compactDecrypt, decodeProtectedHeader, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../gateway/main.ts';
import {
  type ManifestInput,
  newPackageId,
  packageModel,
  releaseKeyId,
  wrapContentKey,
} from '../lib/model-package/index.ts';
import { FEATURE_NAMES } from '../ml/features.ts';
import { padModel } from '../ml/onnx-export.ts';
import { addFirmware, denyFirmware } from './helpers/attest.ts';
import {
  type Identity,
  mosquittoPub,
  mosquittoSub,
  rootOf,
  type Sub,
  serviceIdentity,
  startTestGateway,
  untilSessions,
} from './helpers/mqtt.ts';
import { tmp } from './helpers/openssl.ts';
import { createBatch, createToken, startStack, type TestStack } from './helpers/stack.ts';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'edgeseal.mjs');
const RUN_MAIN = join(ROOT, 'device-agent', 'run-main.ts');
const SMALL = readFileSync(join(ROOT, 'ml', 'models', 'vibration.onnx'));
const work = tmp();
const env = { ...process.env, EDGESEAL_DATA_DIR: tmp(), EDGESEAL_LOG_LEVEL: 'silent' };
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

type Line = Record<string, unknown> & { event: string };

interface AgentProcess {
  readonly proc: ChildProcess;
  readonly lines: Line[];
  stdout(): Buffer;
  stderr(): Buffer;
  waitFor(pred: (l: Line) => boolean, ms?: number, from?: number): Promise<Line>;
  events(name: string): Line[];
  stop(): Promise<number | null>;
}

/**
 * The agent as a device runs it: its TypeScript compiled ahead (one ES module, packages
 * imported from node_modules), so the process is node and nothing else. Under `--import tsx`
 * the process would have a child, tsx's esbuild transpiler service, which is handed source
 * files only; a device ships compiled code.
 */
async function buildAgent(): Promise<string> {
  const { build } = await import('esbuild');
  const dir = join(work, 'agent-build');
  mkdirSync(join(dir, 'device-agent'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  const out = join(dir, 'device-agent', 'run-main.mjs');
  await build({
    entryPoints: [RUN_MAIN],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile: out,
    logLevel: 'silent',
  });
  return out;
}

let agentEntry: string;

function runAgent(state: string, args: string[], extraEnv: Record<string, string> = {}): AgentProcess {
  const proc = spawn('node', [agentEntry, '--state', state, ...args], {
    cwd: ROOT,
    env: { ...env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Line[] = [];
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let partial = '';
  const waiters = new Set<() => void>();
  proc.stdout!.on('data', (b: Buffer) => {
    out.push(b);
    const parts = (partial + b.toString()).split('\n');
    partial = parts.pop()!;
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p) as Line);
      } catch {
        lines.push({ event: '(not json)', text: p });
      }
    }
    for (const w of waiters) w();
  });
  proc.stderr!.on('data', (b: Buffer) => err.push(b));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const dump = () => `${Buffer.concat(out).toString()}\n${Buffer.concat(err).toString()}`;
  return {
    proc,
    lines,
    stdout: () => Buffer.concat(out),
    stderr: () => Buffer.concat(err),
    events: (name) => lines.filter((l) => l.event === name),
    waitFor(pred, ms = 30_000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = lines.slice(from).find(pred);
          if (hit) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(hit);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out; agent output so far:\n${dump()}`));
        }, ms);
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)('node', [BIN, ...args], { env, encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

let s: TestStack;
let gw: Gateway;
let backend: Identity;
let telemetrySub: Sub;
let signer: KeyObject;
let serviceJwk: JWK;
let rm: string;
let sec: string;

/** A device of hardware model `hw` provisioned with the CLI; `registered` says whether its firmware is known. */
async function device(hw: string, o: { registered?: boolean } = {}) {
  const id = `mdl-${hw}-${randomBytes(3).toString('hex')}`;
  const image = randomBytes(4096);
  const firmware = join(work, `${id}.fw`);
  writeFileSync(firmware, image);
  const register = () =>
    addFirmware(s, sec, { hardware_model: hw, version: '1.0.0', svn: 1, sha256: sha256(image) });
  if (o.registered !== false) await register();
  const firmwareSha256 = sha256(image);
  const batch = await createBatch(s, { hardware_model: hw });
  const state = join(work, id);
  const r = await cli([
    'agent',
    'provision',
    '--state',
    state,
    '--est-url',
    `${s.cp.httpsUrl}/.well-known/est`,
    '--batch',
    batch.id,
    // = : a secret may start with '-'
    `--secret=${batch.secret}`,
    '--device-id',
    id,
    '--hardware-model',
    hw,
    '--firmware',
    firmware,
    '--ca-file',
    rootOf(s),
    '--gateway',
    `mqtts://localhost:${gw.port}`,
  ]);
  expect(r.code, r.stderr).toBe(0);
  return { id, state, register, firmwareSha256 };
}

interface Made {
  readonly bytes: Buffer;
  readonly id: string;
  readonly contentKey: Buffer;
}

/** A package as `edgeseal model package` makes it: encrypted, signed, its key wrapped to the key service. */
async function makePackage(
  model: Uint8Array,
  m: Partial<ManifestInput> & { hw: string; key?: KeyObject; chunkSize?: number },
): Promise<Made> {
  const id = newPackageId();
  const contentKey = randomBytes(32);
  const bytes = await packageModel({
    plaintext: model,
    contentKey,
    releaseKey: m.key ?? signer,
    packageId: id,
    chunkSize: m.chunkSize ?? 256 * 1024,
    keyEnvelope: await wrapContentKey(contentKey, serviceJwk, id),
    manifest: {
      // release counters are per model: each hardware model here has its own model line
      model_id: m.model_id ?? `vibration-${m.hw}`,
      version: m.version ?? '1.0.0',
      release_counter: m.release_counter ?? 1,
      hardware_models: [m.hw],
      content_key_id: `ck_${id}`,
      io: {
        inputs: [{ name: 'features', type: 'float32', shape: ['N', 16] }],
        outputs: [{ name: 'probabilities', type: 'float32', shape: ['N', 4] }],
      },
      drift: { statistic: 'psi', threshold: 0.25 },
    },
  });
  return { bytes, id, contentKey };
}

async function publish(made: Made): Promise<void> {
  const r = await s.api('/v1/releases', {
    method: 'POST',
    token: rm,
    headers: { 'content-type': 'application/octet-stream' },
    body: made.bytes,
  });
  expect(r.status, await r.clone().text()).toBe(201);
}

async function registerKey(key: KeyObject): Promise<string> {
  const r = await s.api('/v1/release-keys', {
    method: 'POST',
    token: s.adminToken,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ public_key: key.export({ format: 'jwk' }), label: 'agent-model test' }),
  });
  expect(r.status, await r.clone().text()).toBe(201);
  return ((await r.json()) as { kid: string }).kid;
}

const sendTo = async (topic: string, message: string) => {
  const pub = await mosquittoPub(gw, rootOf(s), backend, 'svc:agent-model:pub', [
    '-t',
    topic,
    '-m',
    message,
    '-q',
    '1',
  ]);
  expect(pub.status, pub.out).toBe(0);
};

/** The telemetry messages of `deviceId` the backend received, decrypted with the fleet's telemetry key. */
async function telemetryOf(
  deviceId: string,
): Promise<{ header: Record<string, unknown>; body: Record<string, unknown> }[]> {
  const out = [];
  for (const l of telemetrySub.lines.filter((x) => x.startsWith(`devices/${deviceId}/telemetry `))) {
    const jwe = l.slice(l.indexOf(' ') + 1).trim();
    const { plaintext } = await compactDecrypt(jwe, s.cp.boot.telemetryKey.key);
    out.push({
      header: decodeProtectedHeader(jwe) as Record<string, unknown>,
      body: JSON.parse(Buffer.from(plaintext).toString()) as Record<string, unknown>,
    });
  }
  return out;
}

beforeAll(async () => {
  agentEntry = await buildAgent();
  s = await startStack({ EDGESEAL_ATTESTATION_RESULT_TTL_SECONDS: '15' });
  gw = await startTestGateway(s);
  rm = await createToken(s, 'release-manager');
  sec = await createToken(s, 'security-admin');
  signer = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  await registerKey(signer);
  serviceJwk = ((await (await s.api('/v1/key-service-key')).json()) as { jwk: JWK }).jwk;
  backend = await serviceIdentity(s, 'agent-model');
  telemetrySub = mosquittoSub(gw, rootOf(s), backend, 'svc:agent-model', [
    '-t',
    'devices/+/telemetry',
    '-q',
    '1',
  ]);
  await untilSessions(gw, 1);
}, 90_000);

afterAll(async () => {
  await telemetrySub?.stop();
  await gw?.close();
  await s?.stop();
});

// ---------------------------------------------------------------------------------------------
// The no-plaintext search. Needles: the plaintext model as bytes, as hex, and as base64 at its
// three alignments (base64 of any run of P is a run of one of them). What counts as a run of
// the model: 64 bytes of it holding at least 8 distinct byte values. The rest (0.7% of this
// model) are zero padding and its edges (62 zeros and 0x3f80…), which any zero-filled file
// holds too and which say nothing about the model. Every needle is cut into aligned 16-byte
// blocks, indexed by a hash of their bytes; a haystack is hashed at every offset, a hit is
// verified byte by byte and extended both ways. A 64-byte run contains at least three whole
// aligned blocks, so it is found unless all of them are one repeated byte (not indexed):
// those few runs are searched for one by one.
const BLOCK = 16;
const RUN = 64;
const MIN_DISTINCT = 8;

const blockHash = (b: Buffer, i: number): number =>
  (b.readUInt32LE(i) ^
    Math.imul(b.readUInt32LE(i + 4), 0x9e3779b1) ^
    Math.imul(b.readUInt32LE(i + 8), 0x85ebca6b) ^
    Math.imul(b.readUInt32LE(i + 12), 0xc2b2ae35)) >>>
  0;

const uniform = (b: Buffer, i: number): boolean => {
  for (let k = 1; k < BLOCK; k++) if (b[i + k] !== b[i]) return false;
  return true;
};

/** For each 64-byte window of b[from, to), whether it holds ≥ MIN_DISTINCT byte values (rolling count). */
function* identifyingWindows(b: Buffer, from = 0, to = b.length): Generator<[number, boolean]> {
  if (to - from < RUN) return;
  const count = new Uint16Array(256);
  let distinct = 0;
  for (let k = from; k < from + RUN; k++) if (count[b[k]!]!++ === 0) distinct++;
  for (let i = from; ; i++) {
    yield [i, distinct >= MIN_DISTINCT];
    if (i + RUN >= to) return;
    if (--count[b[i]!]! === 0) distinct--;
    if (count[b[i + RUN]!]!++ === 0) distinct++;
  }
}

const identifying = (b: Buffer, at: number, len: number): boolean => {
  for (const [, ok] of identifyingWindows(b, at, at + len)) if (ok) return true;
  return false;
};

interface Hit {
  readonly needle: string;
  readonly at: number;
  readonly length: number;
}

class RunIndex {
  private readonly table = new Map<number, number[]>();
  constructor(
    readonly needles: { name: string; bytes: Buffer }[],
    /** blocks left out besides the uniform ones */
    skip: (needle: number, at: number) => boolean = () => false,
  ) {
    needles.forEach((n, k) => {
      for (let i = 0; i + BLOCK <= n.bytes.length; i += BLOCK) {
        if (uniform(n.bytes, i) || skip(k, i)) continue;
        const h = blockHash(n.bytes, i);
        const list = this.table.get(h);
        if (list) list.push(i * 8 + k);
        else this.table.set(h, [i * 8 + k]);
      }
    });
  }

  /** Every run of ≥ 64 bytes of a needle in `hay` that holds a window of ≥ 8 distinct byte values. */
  scan(hay: Buffer): Hit[] {
    const hits: Hit[] = [];
    for (let i = 0; i + BLOCK <= hay.length; i++) {
      const list = this.table.get(blockHash(hay, i));
      if (!list) continue;
      for (const enc of list) {
        const n = this.needles[enc % 8]!.bytes;
        const p = Math.floor(enc / 8);
        if (hay.compare(n, p, p + BLOCK, i, i + BLOCK) !== 0) continue;
        let back = 0;
        while (i - back > 0 && p - back > 0 && hay[i - back - 1] === n[p - back - 1]) back++;
        let fwd = BLOCK;
        while (i + fwd < hay.length && p + fwd < n.length && hay[i + fwd] === n[p + fwd]) fwd++;
        if (back + fwd >= RUN && identifying(hay, i - back, back + fwd)) {
          hits.push({ needle: this.needles[enc % 8]!.name, at: i - back, length: back + fwd });
          i = i + fwd - 1; // past this run
          break;
        }
      }
    }
    return hits;
  }
}

/**
 * The 64-byte windows of `p`: how many, how many hold < 8 distinct byte values, and the
 * identifying ones the index cannot see (every whole aligned block in them is uniform).
 */
function coverage(p: Buffer): { windows: number; lowEntropy: number; unindexed: Buffer[] } {
  let windows = 0;
  let lowEntropy = 0;
  const unindexed: Buffer[] = [];
  for (const [i, ok] of identifyingWindows(p)) {
    windows++;
    if (!ok) {
      lowEntropy++;
      continue;
    }
    let indexed = false;
    for (let b = Math.ceil(i / BLOCK) * BLOCK; b + BLOCK <= i + RUN; b += BLOCK) {
      if (!uniform(p, b)) {
        indexed = true;
        break;
      }
    }
    if (!indexed) unindexed.push(p.subarray(i, i + RUN));
  }
  return { windows, lowEntropy, unindexed };
}

function filesUnder(dir: string, out: Set<string>, since = 0): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e);
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) filesUnder(p, out, since);
    else if (st.isFile() && st.mtimeMs >= since) out.add(p);
  }
}

describe('an agent with good firmware: its release, in memory only, inferring; telemetry as JWE', () => {
  const HW = 'cam-np';
  let dev: Awaited<ReturnType<typeof device>>;
  let agent: AgentProcess;
  let model: Uint8Array;
  let padSeed: number;
  let made: Made;
  let agentTmp: string;
  let agentHome: string;
  let started: number;
  const opened = new Set<string>();
  const children = new Set<string>();
  let sampler: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    // ≥ 2 MiB of weights of its own (a padding seed no other model has)
    padSeed = 1 + (randomBytes(2).readUInt16BE(0) % 60_000);
    model = padModel(SMALL, 2, padSeed);
    made = await makePackage(model, { hw: HW, version: '2.1.0', release_counter: 4 });
    await publish(made);
    dev = await device(HW);
    // its own temp directory and home (where libraries keep caches): searched whole afterwards
    agentTmp = join(work, `${dev.id}-tmp`);
    agentHome = join(work, `${dev.id}-home`);
    mkdirSync(agentTmp);
    mkdirSync(agentHome);
    started = Date.now() - 1000;
    agent = runAgent(
      dev.state,
      ['--sensor', 'imbalance', '--window-interval', '0.05', '--telemetry-interval', '1'],
      { TMPDIR: agentTmp, HOME: agentHome },
    );
    // what the process has open, and whether it ever has a child, sampled while it runs
    sampler = setInterval(() => {
      const pid = agent.proc.pid;
      if (!pid || agent.proc.exitCode !== null) return;
      try {
        for (const fd of readdirSync(`/proc/${pid}/fd`)) {
          try {
            opened.add(readlinkSync(`/proc/${pid}/fd/${fd}`));
          } catch {
            // closed meanwhile
          }
        }
        for (const t of readdirSync(`/proc/${pid}/task`)) {
          for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/)) {
            if (!c) continue;
            try {
              children.add(readFileSync(`/proc/${c}/cmdline`, 'utf8').split('\0').join(' ').trim());
            } catch {
              children.add(`pid ${c}`);
            }
          }
        }
      } catch {
        // exiting
      }
    }, 25);
  }, 60_000);

  afterAll(async () => {
    clearInterval(sampler);
    await agent?.stop();
  });

  it('gets its release, loads it (model_loaded: release, version, digest, load time) and infers what its sensor shows', async () => {
    const loaded = await agent.waitFor((l) => l.event === 'model_loaded', 60_000);
    expect(loaded).toMatchObject({
      release_id: made.id,
      version: '2.1.0',
      release_counter: 4,
      plaintext_sha256: sha256(model),
      plaintext_bytes: model.length,
    });
    expect(Number(loaded.load_ms)).toBeGreaterThan(0);
    console.log(
      `model_loaded (${(model.length / 2 ** 20).toFixed(2)} MiB): decrypt ${loaded.decrypt_ms} ms, create ${loaded.create_ms} ms, load ${loaded.load_ms} ms`,
    );
    const downloaded = agent.events('model_downloaded')[0]!;
    expect(downloaded).toMatchObject({ release_id: made.id, resumed_from: 0 });
    expect(agent.events('key_released').map((l) => l.key_id)).toContain(`ck_${made.id}`);
    expect(agent.lines.indexOf(agent.events('key_released')[0]!)).toBeLessThan(agent.lines.indexOf(loaded));
    const installed = JSON.parse(readFileSync(join(dev.state, 'model.json'), 'utf8'));
    expect(installed).toMatchObject({ release_id: made.id, release_counter: 4, model_version: '2.1.0' });
    expect(readdirSync(join(dev.state, 'packages'))).toEqual([`${made.id}.pkg`]);
  }, 90_000);

  it('publishes telemetry the backend receives as JWE: the v1 contract, labels as the sensor says (imbalance)', async () => {
    const tk = (await (await s.api('/v1/telemetry-key')).json()) as { kid: string };
    await agent.waitFor(
      (l) =>
        l.event === 'telemetry_sent' && agent.events('telemetry_queued').some((q) => Number(q.windows) > 5),
      30_000,
    );
    await telemetrySub.waitFor((l) => l.startsWith(`devices/${dev.id}/telemetry `), 10_000);
    let msgs = await telemetryOf(dev.id);
    for (let t = Date.now(); msgs.filter((m) => m.body.inference).length < 2 && Date.now() - t < 15_000; ) {
      await new Promise((r) => setTimeout(r, 500));
      msgs = await telemetryOf(dev.id);
    }
    for (const m of msgs) {
      expect(m.header).toMatchObject({
        alg: 'ECDH-ES+A256KW',
        enc: 'A256GCM',
        kid: tk.kid,
        cty: 'application/vnd.edgeseal.telemetry+json',
      });
      expect(Object.keys(m.body).sort()).toEqual(
        [
          'v',
          'message_id',
          'device_id',
          'sent_at',
          'release_id',
          'model_id',
          'model_version',
          'window',
          'inference',
          'input_stats',
        ].sort(),
      );
      expect(m.body).toMatchObject({ v: 1, device_id: dev.id });
      expect(String(m.body.message_id)).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}-\d+$/);
    }
    const withInference = msgs.filter((m) => m.body.inference);
    expect(withInference.length).toBeGreaterThanOrEqual(2);
    for (const { body } of withInference) {
      expect(body).toMatchObject({
        release_id: made.id,
        model_id: `vibration-${HW}`,
        model_version: '2.1.0',
      });
      const w = body.window as { count: number; from: string; to: string };
      expect(w.count).toBeGreaterThan(0);
      expect(Date.parse(w.from)).toBeLessThan(Date.parse(w.to));
      const inf = body.inference as {
        label: string;
        counts: Record<string, number>;
        probabilities: Record<string, number>;
        anomaly: boolean;
      };
      expect(Object.keys(inf.counts).sort()).toEqual(['bearing_wear', 'imbalance', 'looseness', 'normal']);
      expect(Object.values(inf.counts).reduce((a, b) => a + b, 0)).toBe(w.count);
      expect(inf.label).toBe('imbalance');
      expect(inf.counts.imbalance!).toBeGreaterThan(w.count / 2);
      expect(inf.anomaly).toBe(true);
      const psum = Object.values(inf.probabilities).reduce((a, b) => a + b, 0);
      expect(psum).toBeCloseTo(1, 3);
      const st = body.input_stats as {
        features: string[];
        n: number;
        mean: number[];
        std: number[];
        histograms: number[][];
      };
      expect(st.features).toEqual(FEATURE_NAMES);
      expect(st.n).toBe(w.count);
      expect(st.mean).toHaveLength(16);
      expect(st.std).toHaveLength(16);
      expect(st.histograms).toHaveLength(16);
      for (const h of st.histograms) {
        expect(h).toHaveLength(10);
        expect(h.reduce((a, b) => a + b, 0)).toBe(st.n);
      }
    }
    // consecutive periods tile time
    const periods = withInference.map((m) => m.body.window as { from: string; to: string });
    for (let i = 1; i < periods.length; i++)
      expect(Date.parse(periods[i]!.from)).toBeGreaterThanOrEqual(Date.parse(periods[i - 1]!.to));
  }, 60_000);

  it('the no-plaintext test: no 64-byte run of the model nor its key in anything the agent wrote, opened or printed', async () => {
    // steady state: a few more periods of inference, then stop it
    const queued = agent.events('telemetry_queued').length;
    await agent.waitFor((l) => l.event === 'telemetry_queued' && Number(l.windows) > 5, 20_000, 0);
    await new Promise((r) => setTimeout(r, 2500));
    expect(agent.events('telemetry_queued').length).toBeGreaterThan(queued);
    clearInterval(sampler);
    expect(await agent.stop()).toBe(0);
    console.log(`child processes seen: ${JSON.stringify([...children])}`);
    expect(children, 'the agent never had a child process').toEqual(new Set());

    const p = Buffer.from(model);
    const needles = [
      { name: 'model', bytes: p },
      { name: 'model-hex', bytes: Buffer.from(p.toString('hex'), 'latin1') },
      ...[0, 1, 2].map((k) => ({
        name: `model-base64+${k}`,
        bytes: Buffer.from(p.subarray(k).toString('base64'), 'latin1'),
      })),
    ];
    const index = new RunIndex(needles);
    // the index finds what it should: runs of exactly 64 bytes at any offset, in any needle form
    const probe = (needle: Buffer, at: number, len: number) => {
      // random surroundings, except that the bytes next to the run cannot extend it
      const before = randomBytes(1000);
      const after = randomBytes(1000);
      if (at > 0) before[999] = needle[at - 1]! ^ 0xff;
      if (at + len < needle.length) after[0] = needle[at + len]! ^ 0xff;
      return index.scan(Buffer.concat([before, needle.subarray(at, at + len), after]));
    };
    for (const n of needles) {
      for (let t = 0; t < 20; t++) {
        const at = Math.floor(Math.random() * (n.bytes.length - RUN));
        if (coverage(n.bytes.subarray(at, at + RUN)).unindexed.length) continue; // searched one by one
        if (!identifying(n.bytes, at, RUN)) continue;
        expect(probe(n.bytes, at, RUN).length, `${n.name} at ${at}`).toBeGreaterThan(0);
        expect(probe(n.bytes, at, RUN - 1), 'a 63-byte run is not reported').toEqual([]);
      }
    }
    const gap = coverage(p);

    // onnxruntime's own telemetry store (model metadata) stays unwritten
    expect(existsSync(join(agentHome, '.cache', 'Microsoft'))).toBe(false);
    // the haystacks: the state directory, the agent's own temp directory (TMPDIR) and home, whatever
    // appeared in the system temp directory and /dev/shm during the run, every file the
    // process was seen to have open, and its stdout and stderr
    const files = new Set<string>();
    filesUnder(dev.state, files);
    filesUnder(agentTmp, files);
    filesUnder(agentHome, files);
    // anything new in the shared temp directories is searched too, for the part of the model
    // only this run has (its padding weights, from a seed of its own): other processes on this
    // machine may write models made from the same committed one (a benchmark, the ml tests),
    // whose metadata and classifier weights are the same bytes as ours
    const shared = new Set<string>();
    filesUnder(tmpdir(), shared, started);
    filesUnder('/dev/shm', shared, started);
    // every path the process held open, but the installed packages it runs (node_modules)
    const openedFiles = [...opened].filter(
      (f) =>
        f.startsWith('/') &&
        !f.startsWith('/dev/') &&
        !f.startsWith('/proc/') &&
        !f.includes('/node_modules/'),
    );
    for (const f of openedFiles) if (existsSync(f) && statSync(f).isFile()) files.add(f);
    const real = new Set<string>();
    const hay: { name: string; bytes: Buffer; own: boolean }[] = [
      { name: 'stdout', bytes: agent.stdout(), own: true },
      { name: 'stderr', bytes: agent.stderr(), own: true },
    ];
    for (const [set, own] of [
      [files, true],
      [shared, false],
    ] as const) {
      for (const f of set) {
        let r: string;
        try {
          r = realpathSync(f);
        } catch {
          continue;
        }
        if (real.has(r)) continue;
        real.add(r);
        if (statSync(r).size > 256 * 2 ** 20) continue; // nothing the agent writes is that large
        hay.push({ name: r, bytes: readFileSync(r), own });
      }
    }
    // the blocks of this model that a model padded from another seed has at the same place
    const other = Buffer.from(padModel(SMALL, 2, padSeed + 1));
    const ownPart = new RunIndex([{ name: 'model (this run only)', bytes: p }], (_k, i) =>
      other.length === p.length ? p.compare(other, i, i + BLOCK, i, i + BLOCK) === 0 : false,
    );
    const keyForms = [
      made.contentKey,
      Buffer.from(made.contentKey.toString('hex')),
      Buffer.from(made.contentKey.toString('base64')),
      Buffer.from(made.contentKey.toString('base64url')),
    ];
    // the few identifying runs the index cannot see are searched for one by one, in every form
    const leftOver = needles.flatMap((n) =>
      coverage(n.bytes).unindexed.map((run) => ({ name: n.name, run })),
    );
    const found: string[] = [];
    let bytes = 0;
    for (const h of hay) {
      bytes += h.bytes.length;
      for (const l of h.own ? leftOver : [])
        if (h.bytes.indexOf(l.run) >= 0) found.push(`${h.name}: ${l.name} run (searched one by one)`);
      for (const hit of (h.own ? index : ownPart).scan(h.bytes))
        found.push(`${h.name}: ${hit.needle} run of ${hit.length} at ${hit.at}`);
      keyForms.forEach((k, i) => {
        if (h.bytes.indexOf(k) >= 0) found.push(`${h.name}: content key (form ${i})`);
      });
    }
    let unique = 0;
    for (let i = 0; i + BLOCK <= p.length; i += BLOCK)
      if (p.compare(other, i, i + BLOCK, i, i + BLOCK) !== 0) unique++;
    const uniquePct = ((100 * unique * BLOCK) / p.length).toFixed(1);
    const stateFiles = [...real].filter((f) => f.startsWith(realpathSync(dev.state)));
    console.log(
      `no-plaintext search: ${hay.length} haystacks (${stateFiles.length} in the state dir, ${openedFiles.length} paths seen open, ` +
        `${hay.filter((h) => !h.own).length} new in the shared temp dirs: searched for the ${uniquePct}% of the model only this run has), ` +
        `${(bytes / 2 ** 20).toFixed(1)} MiB; model ${p.length} bytes: of its ${gap.windows} windows of 64 bytes, ` +
        `${gap.windows - gap.lowEntropy} hold ≥ ${MIN_DISTINCT} distinct byte values and are searched ` +
        `(${gap.unindexed.length} of them one by one; ${leftOver.length} in all needle forms); ` +
        `${gap.lowEntropy} are zero padding (< ${MIN_DISTINCT} distinct values)`,
    );
    expect(found).toEqual([]);
    // the search did look at the ciphertext resting in the state directory
    expect(stateFiles.some((f) => f.endsWith('.pkg'))).toBe(true);
    expect(gap.lowEntropy / gap.windows).toBeLessThan(0.02);
  }, 120_000);
});

describe('refusals at the agent, each with its code, before any plaintext is used', () => {
  it('a package changed on disk after download: its chunk fails authentication at decryption (ChunkAuthFailed); never loaded; an update fetches it afresh', async () => {
    const HW = 'cam-tp';
    const dev = await device(HW, { registered: false }); // not affirming yet: no key, the package waits on disk
    const made = await makePackage(SMALL, { hw: HW, version: '3.0.0', release_counter: 2, chunkSize: 2048 });
    await publish(made);
    const agent = runAgent(dev.state, ['--window-interval', '0.1', '--telemetry-interval', '1']);
    try {
      const attested = await agent.waitFor((l) => l.event === 'attested', 30_000);
      expect(attested.status).not.toBe('affirming');
      await agent.waitFor((l) => l.event === 'model_verified', 30_000);
      const pkg = join(dev.state, 'packages', `${made.id}.pkg`);
      const bytes = readFileSync(pkg);
      bytes[bytes.length - 3000]! ^= 0x01; // one bit of one chunk
      writeFileSync(pkg, bytes);
      await dev.register(); // the next attestation (within 10 s) is affirming
      const refused = await agent.waitFor((l) => l.event === 'model_refused', 40_000);
      expect(refused).toMatchObject({
        level: 'warn',
        release_id: made.id,
        code: 'ChunkAuthFailed',
        stage: 'decrypt',
      });
      expect(typeof refused.chunk_index).toBe('number');
      expect(agent.events('key_released').some((l) => l.key_id === `ck_${made.id}`)).toBe(true);
      expect(agent.events('model_loaded')).toEqual([]);
      expect(existsSync(pkg)).toBe(false); // ciphertext that failed is not kept
      // told to update, it downloads the package again and loads it
      await agent.waitFor((l) => l.event === 'subscribed' && l.topic === `devices/${dev.id}/cmd`, 30_000);
      await sendTo(`devices/${dev.id}/cmd`, '{"type":"update"}');
      const loaded = await agent.waitFor((l) => l.event === 'model_loaded', 30_000);
      expect(loaded).toMatchObject({ release_id: made.id, version: '3.0.0' });
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  }, 120_000);

  it('a manifest signed by a revoked release key: ReleaseKeyRevoked, nothing downloaded', async () => {
    const HW = 'cam-rv';
    const k = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const kid = await registerKey(k);
    const made = await makePackage(SMALL, { hw: HW, key: k });
    await publish(made); // accepted while the key was active
    const r = await s.api(`/v1/release-keys/${kid}/revoke`, { method: 'POST', token: s.adminToken });
    expect(r.status).toBe(200);
    const dev = await device(HW);
    const agent = runAgent(dev.state, ['--telemetry-interval', '1']);
    try {
      const refused = await agent.waitFor((l) => l.event === 'model_refused', 30_000);
      expect(refused).toMatchObject({ release_id: made.id, code: 'ReleaseKeyRevoked', stage: 'manifest' });
      await agent.waitFor((l) => l.event === 'key_released' || l.event === 'telemetry_queued', 30_000);
      expect(agent.events('model_download_started')).toEqual([]);
      expect(agent.events('model_loaded')).toEqual([]);
      expect(readdirSync(join(dev.state, 'packages'))).toEqual([]);
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  }, 90_000);

  it('the version floor: a release whose counter is not above the installed one is ModelDowngrade; the running model keeps running', async () => {
    const HW = 'cam-dg';
    const current = await makePackage(SMALL, {
      hw: HW,
      version: '5.0.0',
      release_counter: 5,
      chunkSize: 4096,
    });
    await publish(current);
    const dev = await device(HW);
    const agent = runAgent(dev.state, [
      '--sensor',
      'looseness',
      '--window-interval',
      '0.1',
      '--telemetry-interval',
      '1',
    ]);
    try {
      const loaded = await agent.waitFor((l) => l.event === 'model_loaded', 60_000);
      console.log(
        `model_loaded (${(SMALL.length / 1024).toFixed(1)} KiB): decrypt ${loaded.decrypt_ms} ms, create ${loaded.create_ms} ms, load ${loaded.load_ms} ms`,
      );
      // a newer release (the latest for this hardware model) of another model line, with a lower counter
      const older = await makePackage(SMALL, {
        hw: HW,
        model_id: 'vibration-legacy',
        version: '4.9.0',
        release_counter: 3,
      });
      await publish(older);
      await agent.waitFor((l) => l.event === 'subscribed' && l.topic === `devices/${dev.id}/cmd`, 30_000);
      const from = agent.lines.length;
      await sendTo(`devices/${dev.id}/cmd`, '{"type":"update"}');
      const refused = await agent.waitFor((l) => l.event === 'model_refused', 20_000, from);
      expect(refused).toMatchObject({
        level: 'warn',
        release_id: older.id,
        code: 'ModelDowngrade',
        release_counter: 3,
        installed_counter: 5,
        installed_release_id: current.id,
      });
      expect(agent.events('model_download_started').filter((l) => l.release_id === older.id)).toEqual([]);
      // still running release 5: more windows inferred and labelled after the refusal
      const after = await agent.waitFor(
        (l) => l.event === 'telemetry_queued' && Number(l.windows) > 0,
        20_000,
        agent.lines.indexOf(refused),
      );
      expect(after.label).toBe('looseness');
      expect(JSON.parse(readFileSync(join(dev.state, 'model.json'), 'utf8')).release_id).toBe(current.id);

      // its firmware is deny-listed: the next result is contraindicated, the key goes and the
      // session with it; inference stops
      await denyFirmware(s, sec, dev.firmwareSha256);
      const at = agent.lines.length;
      const attested = await agent.waitFor(
        (l) => l.event === 'attested' && l.status !== 'affirming',
        20_000,
        at,
      );
      expect(attested.status).toBe('contraindicated');
      const unloaded = await agent.waitFor((l) => l.event === 'model_unloaded', 5000, at);
      expect(unloaded).toMatchObject({
        level: 'warn',
        release_id: current.id,
        reason: 'attestation_contraindicated',
      });
      const quiet = agent.lines.length;
      await new Promise((r) => setTimeout(r, 1500));
      expect(agent.lines.slice(quiet).filter((l) => l.event === 'telemetry_queued')).toEqual([]);
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  }, 120_000);

  describe('from a control plane that serves what the real one would not (a stub over mTLS)', () => {
    // The real control plane lists releases by the device's hardware model and checks every
    // package at upload, so it never serves a foreign or tampered package: a stub standing for
    // a compromised or buggy one does, with a server certificate from the fleet's CA.
    let stub: Server;
    let stubUrl: string;
    let serve: { latest: Record<string, unknown>; bytes: Buffer; cutAt?: number } | undefined;
    const ranges: (string | undefined)[] = [];

    beforeAll(async () => {
      const id = await s.cp.local.serverIdentity({ dns: ['localhost'], ips: ['127.0.0.1'] });
      stub = createServer(
        {
          key: id.keyPem,
          cert: id.certChainPem,
          ca: readFileSync(rootOf(s)),
          requestCert: true,
          rejectUnauthorized: true,
        },
        (req, res) => {
          const url = req.url ?? '';
          if (url === '/v1/release-keys') {
            res.setHeader('content-type', 'application/json');
            res.end(
              JSON.stringify({
                items: [
                  {
                    kid: releaseKeyId(signer),
                    jwk: createPublicKey(signer).export({ format: 'jwk' }),
                    status: 'active',
                  },
                ],
              }),
            );
          } else if (url === '/v1/releases/latest' && serve) {
            res.setHeader('content-type', 'application/json');
            res.end(JSON.stringify(serve.latest));
          } else if (serve && url === `/v1/releases/${serve.latest.id}/package`) {
            ranges.push(req.headers.range);
            const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
            const start = m ? Number(m[1]) : 0;
            res.statusCode = start ? 206 : 200;
            if (start)
              res.setHeader(
                'content-range',
                `bytes ${start}-${serve.bytes.length - 1}/${serve.bytes.length}`,
              );
            res.setHeader('content-length', String(serve.bytes.length - start));
            const cut = serve.cutAt;
            if (cut !== undefined && start < cut) {
              serve.cutAt = undefined; // once
              res.write(serve.bytes.subarray(start, cut));
              setTimeout(() => res.destroy(), 300); // the bytes reach the device, then the connection drops
            } else res.end(serve.bytes.subarray(start));
          } else {
            res.statusCode = 503;
            res.setHeader('content-type', 'application/problem+json');
            res.end(JSON.stringify({ title: 'stub', detail: 'not served by the stub' }));
          }
        },
      );
      await new Promise<void>((r) => stub.listen(0, '127.0.0.1', r));
      stubUrl = `https://127.0.0.1:${(stub.address() as { port: number }).port}`;
    });
    afterAll(() => new Promise<void>((r) => stub?.close(() => r())));

    const latestOf = (made: Made, counter: number) => ({
      id: made.id,
      model_id: 'vibration',
      version: `9.${counter}.0`,
      release_counter: counter,
      content_key_id: `ck_${made.id}`,
      manifest: made.bytes.toString('latin1', 12, 12 + made.bytes.readUInt32BE(8)),
      package_url: `/v1/releases/${made.id}/package`,
      package_size: made.bytes.length,
    });

    it('an interrupted download resumes from the bytes on disk (Range); then another hardware model is HardwareModelNotAllowed and a flipped payload byte PayloadDigestMismatch', async () => {
      const HW = 'cam-st';
      const dev = await device(HW);
      const good = await makePackage(SMALL, {
        hw: HW,
        release_counter: 1,
        version: '9.1.0',
        chunkSize: 1024,
      });
      serve = { latest: latestOf(good, 1), bytes: good.bytes, cutAt: Math.floor(good.bytes.length * 0.4) };
      const agent = runAgent(dev.state, ['--control-plane', stubUrl]);
      try {
        const downloaded = await agent.waitFor((l) => l.event === 'model_downloaded', 30_000);
        expect(agent.events('model_check_failed').length).toBeGreaterThan(0); // the cut
        const resumed = Number(downloaded.resumed_from);
        expect(downloaded.release_id).toBe(good.id);
        expect(resumed).toBeGreaterThan(0);
        expect(resumed).toBeLessThanOrEqual(Math.floor(good.bytes.length * 0.4));
        expect(ranges).toEqual([undefined, `bytes=${resumed}-`]);
        await agent.waitFor((l) => l.event === 'model_verified', 10_000);
        expect(readFileSync(join(dev.state, 'packages', `${good.id}.pkg`)).equals(good.bytes)).toBe(true);

        // another hardware model's release, signed by an active release key
        const foreign = await makePackage(SMALL, { hw: 'cam-other', release_counter: 7 });
        serve = { latest: latestOf(foreign, 7), bytes: foreign.bytes };
        let from = agent.lines.length;
        await sendTo(`devices/${dev.id}/ota`, '{"release":"any"}'); // a notice makes it check (ota is granted unattested)
        let refused = await agent.waitFor((l) => l.event === 'model_refused', 20_000, from);
        expect(refused).toMatchObject({
          release_id: foreign.id,
          code: 'HardwareModelNotAllowed',
          stage: 'manifest',
        });

        // a payload with one flipped byte: caught by its digest before anything is decrypted
        const flipped = await makePackage(SMALL, { hw: HW, release_counter: 8 });
        flipped.bytes[flipped.bytes.length - 500]! ^= 0x80;
        serve = { latest: latestOf(flipped, 8), bytes: flipped.bytes };
        from = agent.lines.length;
        await sendTo(`devices/${dev.id}/ota`, '{"release":"any"}');
        refused = await agent.waitFor((l) => l.event === 'model_refused', 20_000, from);
        expect(refused).toMatchObject({
          release_id: flipped.id,
          code: 'PayloadDigestMismatch',
          stage: 'package',
        });
        expect(readdirSync(join(dev.state, 'packages')).sort()).toEqual([`${good.id}.pkg`]);
        expect(agent.events('model_loaded')).toEqual([]);
      } finally {
        expect(await agent.stop()).toBe(0);
      }
    }, 90_000);
  });
});
