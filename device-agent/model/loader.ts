// Loading the target release once attestation has released its content key: the payload is
// decrypted from the package file into one buffer (decryptReader: positioned reads put each
// chunk's ciphertext in its place in the output two chunks ahead, on the thread pool, while
// this thread decrypts the one before; every chunk's tag checked before its plaintext is
// used; the plaintext SHA-256, on a worker thread of this process, checked at the end), the
// onnxruntime session is created from that buffer (never from a file), and then the plaintext
// and the key are overwritten (fill(0)): onnxruntime has copied the weights. The output buffer
// is made (its pages touched) while the key is being released: it holds nothing until then.
// A refusal (any PackageError, an incompatible model) is logged with its code and the model
// that was running keeps running.
import { open, rm } from 'node:fs/promises';
import {
  allocateOutput,
  decryptReader,
  HashThread,
  type PayloadReader,
} from '../../lib/model-package/index.ts';
import { FEATURE_EXTRACTOR, FEATURE_NAMES } from '../../ml/features.ts';
import { loadModel, type VibrationModel } from '../../ml/infer.ts';
import type { Standing } from '../attest/attester.ts';
import type { ContentKeyStore } from '../keys/content-keys.ts';
import type { AgentLog } from '../log.ts';
import type { RunResult } from '../schedule.ts';
import { type Installed, writeInstalled } from './installed.ts';
import type { LoadedModel, ModelState, Release } from './model-state.ts';
import { readLayout } from './package-file.ts';
import { type ModelRefused, refusalFields, refusalOf, refuse } from './refusal.ts';

/**
 * onnxruntime-node 1.30 on Linux ships Microsoft's 1DS telemetry: at session creation it
 * records the model's graph name and metadata_props (for our models: feature names, the
 * training distribution, the training settings) in ~/.cache/Microsoft/DeveloperTools/
 * .onnxruntime/onnxruntime.db and tries to upload them. That is part of the plaintext model
 * reaching a disk (and a third party): the no-plaintext test found it. The library reads this
 * variable when its environment is first created, i.e. at the first session; it is set before
 * every session the agent makes.
 */
export function disableRuntimeTelemetry(): void {
  process.env['ORT_DISABLE_TELEMETRY'] = '1';
}

/** One thread each: inference is a 16→32→4 network on one window a second; the device has other work. */
export const SESSION_OPTIONS = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  logSeverityLevel: 3,
} as const;

export interface LoaderDeps {
  readonly state: ModelState;
  readonly keys: ContentKeyStore;
  readonly standing: () => Standing;
  readonly modelFile: string;
  readonly log: AgentLog;
  readonly now: () => Date;
  /** the key of the target is not held: ask for it */
  readonly needKey: () => void;
  /** before a new session takes over: inference pauses, the telemetry period of the old model closes */
  readonly beforeSwap: () => Promise<void>;
  /** after: inference runs on the new session */
  readonly afterSwap: () => void;
  /** a release was refused and nothing runs: the installed one may (the acquirer falls back to it) */
  readonly onRefused: () => void;
  /** for tests: how the session is made from the plaintext (default ml/infer.ts loadModel) */
  readonly load?: (plaintext: Uint8Array) => Promise<VibrationModel>;
}

/** The model must fit this agent's features and window; anything else is refused, not guessed at. */
export function checkCompatible(m: VibrationModel): void {
  const md = m.metadata;
  if (JSON.stringify(md.features) !== JSON.stringify(FEATURE_NAMES))
    refuse('ModelIncompatible', 'the model takes other features than this agent computes');
  if (md.window?.extractor !== FEATURE_EXTRACTOR)
    refuse(
      'ModelIncompatible',
      `the model's features come from ${String(md.window?.extractor).slice(0, 64)}`,
    );
  const { sampleRate, length } = md.window;
  if (
    !(sampleRate > 0) ||
    !Number.isInteger(length) ||
    length < 16 ||
    length > 65_536 ||
    length & (length - 1)
  )
    refuse('ModelIncompatible', 'the model window is not a power of two between 16 and 65536 samples');
  if (!Array.isArray(md.classes) || !md.classes.includes('normal'))
    refuse('ModelIncompatible', 'the model has no "normal" class');
  const dist = md.trainingDistribution?.features;
  if (
    !Array.isArray(dist) ||
    dist.length !== FEATURE_NAMES.length ||
    dist.some((f) => f.deciles?.length !== 9)
  )
    refuse('ModelIncompatible', 'the model lacks the training deciles of its features');
}

export class ModelLoader {
  private hashThread: Promise<HashThread | undefined> | undefined;
  /** the output buffer of the target, made while its key is on the way (zeros, no secret) */
  private prepared: { target: Release; output: Promise<Buffer | undefined> } | undefined;

  constructor(private readonly d: LoaderDeps) {}

  /** Ahead of the key: the hash worker (once per process) and the target's output buffer. */
  private prepare(t: Release): void {
    this.hashThread ??= HashThread.start().catch(() => undefined); // without it the hash runs inline
    if (this.prepared?.target !== t)
      this.prepared = { target: t, output: allocateOutput(t.manifest).catch(() => undefined) };
  }

  async close(): Promise<void> {
    this.prepared = undefined;
    await (await this.hashThread)?.close();
  }

  /** A Job run: triggered when a target is set, a key arrives, attestation turns affirming. */
  run = async (): Promise<RunResult> => {
    const { state } = this.d;
    const t = state.target;
    if (!t || this.d.standing() !== 'affirming') return 'idle';
    this.prepare(t);
    const key = this.d.keys.take(t.manifest.content_key_id);
    if (!key) {
      this.d.needKey();
      return 'idle';
    }
    try {
      await this.load(t, key);
    } catch (e) {
      const r = refusalOf(e);
      if (!r) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
          // the package went away under us: forget the target; the next check downloads it again
          if (state.target === t) state.target = undefined;
          this.d.log.warn('model_missing', { release_id: t.id, path: t.path });
          return 'idle';
        }
        throw e;
      }
      await this.refused(t, r);
    } finally {
      key.fill(0);
    }
    return state.target && state.target !== t ? 0 : 'idle';
  };

  private async load(t: Release, key: Uint8Array): Promise<void> {
    const started = performance.now();
    const layout = await readLayout(t.path, t.manifestJws, t.manifest);
    const output = this.prepared?.target === t ? await this.prepared.output : undefined;
    this.prepared = undefined;
    const hashThread = await this.hashThread;
    // every chunk's tag before its plaintext is used, then the plaintext digest; on failure the
    // buffer is zeroed. No second pass over the payload digest: the package was checked on
    // arrival, and the tags (bound to this package id, index and count) catch any later change.
    const fh = await open(t.path, 'r');
    let plaintext: Buffer;
    try {
      const base = layout.head.payloadOffset;
      const read: PayloadReader = async (buffers, position) =>
        (await fh.readv(buffers, base + position)).bytesRead;
      plaintext = await decryptReader(t.manifest, read, key, {
        ...(output ? { output } : {}),
        ...(hashThread ? { hashThread } : {}),
      });
    } finally {
      await fh.close();
    }
    const decrypted = performance.now();
    let model: VibrationModel;
    try {
      disableRuntimeTelemetry();
      model = await (this.d.load ?? ((b) => loadModel(b, SESSION_OPTIONS)))(plaintext);
    } finally {
      plaintext.fill(0); // onnxruntime copied the weights at create
    }
    key.fill(0);
    const created = performance.now();
    try {
      checkCompatible(model);
    } catch (e) {
      await model.release();
      throw e;
    }
    if (this.d.standing() === 'contraindicated') {
      // attestation failed while we were loading: this session is not to be used
      await model.release();
      return;
    }
    const { state } = this.d;
    const loaded: LoadedModel = { release: t, model, loadedAt: this.d.now() };
    const previous = state.loaded;
    try {
      await this.d.beforeSwap();
      state.loaded = loaded;
      if (state.target === t) state.target = undefined;
    } finally {
      this.d.afterSwap();
    }
    if (previous) await previous.model.release();
    const m = t.manifest;
    if (state.installed?.release_id !== t.id) {
      const installed: Installed = {
        version: 1,
        release_id: t.id,
        model_id: m.model_id,
        model_version: m.version,
        release_counter: m.release_counter,
        content_key_id: m.content_key_id,
        plaintext_sha256: m.plaintext_sha256,
        installed_at: this.d.now().toISOString(),
      };
      await writeInstalled(this.d.modelFile, installed);
      state.installed = installed;
      if (previous && previous.release.id !== t.id) await rm(previous.release.path, { force: true });
    }
    this.d.log.info('model_loaded', {
      release_id: t.id,
      model_id: m.model_id,
      version: m.version,
      release_counter: m.release_counter,
      plaintext_sha256: m.plaintext_sha256,
      plaintext_bytes: m.plaintext_size,
      decrypt_ms: round(decrypted - started),
      create_ms: round(created - decrypted),
      load_ms: round(created - started),
      classes: model.metadata.classes,
      window: { sample_rate: model.metadata.window.sampleRate, length: model.metadata.window.length },
      ...(previous ? { previous_release_id: previous.release.id } : {}),
    });
  }

  private async refused(t: Release, r: ModelRefused): Promise<void> {
    const { state } = this.d;
    if (state.target === t) state.target = undefined;
    state.refused.set(t.id, r.code);
    // ciphertext that does not decrypt as signed is of no use; a new check downloads it afresh
    await rm(t.path, { force: true });
    this.d.log.warn('model_refused', {
      release_id: t.id,
      version: t.manifest.version,
      release_counter: t.manifest.release_counter,
      stage: r.code === 'ModelIncompatible' ? 'load' : 'decrypt',
      ...refusalFields(r),
      ...(state.loaded ? { running_release_id: state.loaded.release.id } : {}),
    });
    if (!state.loaded) this.d.onRefused();
  }
}

const round = (ms: number): number => Math.round(ms * 10) / 10;
