// The model side of the agent, wired: the acquirer (latest release → verified package on
// disk), the loader (key → decrypted in memory → onnxruntime session), inference on the
// sensor, each in its own Job. main.ts tells it what happens around it: attestation results,
// update requests, stop.
//
// Attestation decides whether protected weights may be used at all: on a contraindicated
// result the session is released and inference stops (a device that fails attestation does
// not keep using the model); the release stays the target, loaded again (with a new key
// release) once the device is affirming. A warning or an expired result keeps the session
// (the key is dropped as always, so nothing new is decrypted): a device that merely lost the
// control plane for a while keeps working.
import type { Standing } from '../attest/attester.ts';
import { failureFields } from '../errors.ts';
import { InferenceLoop, type InferenceSink } from '../inference/inference-loop.ts';
import type { Sensor } from '../inference/sensor.ts';
import type { ContentKeyStore } from '../keys/content-keys.ts';
import type { AgentLog } from '../log.ts';
import type { ControlPlane } from '../net/control-plane.ts';
import { Job } from '../schedule.ts';
import { Acquirer, type CheckReason } from './acquire.ts';
import type { Installed } from './installed.ts';
import { ModelLoader } from './loader.ts';
import { ModelState } from './model-state.ts';
import { ReleaseKeyCache } from './release-keys.ts';

export interface ModelRuntimeDeps {
  readonly cp: Pick<ControlPlane, 'latestRelease' | 'packageFrom' | 'releaseKeys'>;
  readonly keys: ContentKeyStore;
  readonly installed: Installed | undefined;
  readonly paths: { readonly packages: string; readonly model: string };
  readonly hardwareModel: string;
  readonly sensor: Sensor;
  readonly windowIntervalMs: number;
  readonly sink: InferenceSink & { closePeriod(): Promise<void> };
  readonly standing: () => Standing;
  /** a model key is wanted (the key release job should run) */
  readonly wantKey: () => void;
  readonly log: AgentLog;
  readonly now: () => Date;
}

export class ModelRuntime {
  readonly state: ModelState;
  private readonly acquirer: Acquirer;
  private readonly inference: InferenceLoop;
  private readonly acquireJob: Job;
  private readonly loadJob: Job;
  private readonly inferenceJob: Job;
  private readonly loader: ModelLoader;

  constructor(private readonly d: ModelRuntimeDeps) {
    const { log } = d;
    this.state = new ModelState(d.installed);
    const retrying = (event: string) => (e: unknown, retryInMs: number, attempt: number) =>
      log.warn(event, { ...failureFields(e), attempt, retry_in_ms: retryInMs });
    this.acquirer = new Acquirer({
      cp: d.cp,
      state: this.state,
      releaseKeys: new ReleaseKeyCache(
        () => d.cp.releaseKeys(),
        () => d.now().getTime(),
      ),
      packagesDir: d.paths.packages,
      hardwareModel: d.hardwareModel,
      log,
      now: d.now,
      onTarget: () => {
        this.loadJob.trigger();
        d.wantKey();
      },
    });
    this.acquireJob = new Job(this.acquirer.run, { onError: retrying('model_check_failed') });
    this.inference = new InferenceLoop({
      state: this.state,
      sensor: d.sensor,
      intervalMs: d.windowIntervalMs,
      sink: d.sink,
      log,
    });
    this.inferenceJob = new Job(this.inference.run, { onError: retrying('inference_failed') });
    const loader = new ModelLoader({
      state: this.state,
      keys: d.keys,
      standing: d.standing,
      modelFile: d.paths.model,
      log,
      now: d.now,
      needKey: d.wantKey,
      beforeSwap: async () => {
        await this.inference.pause();
        await d.sink.closePeriod();
      },
      afterSwap: () => {
        this.inference.resume();
        this.inferenceJob.trigger();
      },
      onRefused: () => this.acquireJob.trigger(),
    });
    this.loader = loader;
    this.loadJob = new Job(loader.run, { onError: retrying('model_load_failed') });
  }

  start(): void {
    this.acquireJob.start();
  }

  /** An update request (`{"type":"update"}` on cmd) or an OTA notice: check the latest release now. */
  check(reason: CheckReason): void {
    this.acquirer.request(reason);
    this.acquireJob.trigger();
  }

  /** The content key ids a waiting release needs. */
  wantedKeys(): string[] {
    return this.state.wantedKeys();
  }

  /** A key arrived. */
  keyReleased(): void {
    this.loadJob.trigger();
  }

  async standingChanged(standing: Standing): Promise<void> {
    if (standing === 'affirming') {
      this.loadJob.trigger();
      return;
    }
    if (standing === 'contraindicated') await this.unload('attestation_contraindicated');
  }

  private async unload(reason: string): Promise<void> {
    const l = this.state.loaded;
    if (!l) return;
    await this.inference.pause();
    try {
      if (this.state.loaded !== l) return;
      this.state.loaded = undefined;
      this.state.target ??= l.release; // loaded again, with a fresh key, once affirming
      await l.model.release();
      this.d.log.warn('model_unloaded', {
        release_id: l.release.id,
        version: l.release.manifest.version,
        reason,
      });
    } finally {
      this.inference.resume();
    }
  }

  async stop(): Promise<void> {
    await Promise.all([this.acquireJob.stop(), this.loadJob.stop(), this.inferenceJob.stop()]);
    const l = this.state.loaded;
    this.state.loaded = undefined;
    if (l) await l.model.release();
    await this.loader.close();
    this.d.sensor.close();
  }
}
