// Continuous inference: one window every --window-interval from the sensor, its 16 features
// (ml/features.ts), the loaded session on a batch of one, the label and probabilities handed
// to the telemetry period. Runs only while a model is loaded; the loader triggers it. A window
// the feature extractor refuses (too many dropped samples) is counted as skipped.
import { extractFeatures, FeatureError } from '../../ml/features.ts';
import type { AgentLog } from '../log.ts';
import type { LoadedModel, ModelState } from '../model/model-state.ts';
import type { RunResult } from '../schedule.ts';
import type { Sensor } from './sensor.ts';

export const DEFAULT_WINDOW_INTERVAL_MS = 1000;

export interface InferenceSink {
  record(loaded: LoadedModel, label: number, probabilities: Float32Array, features: Float32Array): void;
  skipped(reason: 'too_few_samples' | 'no_samples' | 'not_finite'): void;
}

export interface InferenceDeps {
  readonly state: ModelState;
  readonly sensor: Sensor;
  readonly intervalMs: number;
  readonly sink: InferenceSink;
  readonly log: AgentLog;
}

export class InferenceLoop {
  private current: Promise<unknown> | undefined;
  private nextAt = 0;
  private saidEnded = false;
  private running: string | undefined;
  private paused = false;

  constructor(private readonly d: InferenceDeps) {}

  /** No window starts until resume(); resolves once the one in progress (if any) is done. */
  async pause(): Promise<void> {
    this.paused = true;
    await this.quiesce();
  }

  resume(): void {
    this.paused = false;
  }

  /** A Job run: one window, then the time to the next. */
  run = async (): Promise<RunResult> => {
    const p = this.step();
    this.current = p;
    try {
      return await p;
    } finally {
      this.current = undefined;
    }
  };

  /** Resolves once no window is being inferred (before a session is released). */
  async quiesce(): Promise<void> {
    await this.current?.catch(() => undefined);
  }

  private async step(): Promise<RunResult> {
    const loaded = this.d.state.loaded;
    const { sensor, log } = this.d;
    if (!loaded || this.paused) {
      this.running = undefined;
      return 'idle';
    }
    const w = loaded.model.metadata.window;
    if (this.running !== loaded.release.id) {
      this.running = loaded.release.id;
      this.nextAt = performance.now();
      log.info('inference_started', {
        release_id: loaded.release.id,
        sensor: sensor.name,
        sample_rate: w.sampleRate,
        window_length: w.length,
        interval_ms: this.d.intervalMs,
      });
    }
    // a steady cadence; a loop that fell behind (a suspended machine) does not try to catch up
    this.nextAt = Math.max(this.nextAt + this.d.intervalMs, performance.now());
    const wait = () => Math.max(0, Math.round(this.nextAt - performance.now()));
    const samples = sensor.next(w.length, w.sampleRate);
    if (!samples) {
      if (sensor.ended) {
        if (!this.saidEnded) log.info('sensor_ended', { sensor: sensor.name });
        this.saidEnded = true;
        return 'idle';
      }
      this.d.sink.skipped('no_samples');
      return wait();
    }
    let features: Float32Array;
    try {
      features = extractFeatures(samples, { sampleRate: w.sampleRate }).features;
    } catch (e) {
      if (!(e instanceof FeatureError)) throw e;
      this.d.sink.skipped('too_few_samples');
      return wait();
    }
    if (!features.every(Number.isFinite)) {
      this.d.sink.skipped('not_finite');
      return wait();
    }
    const out = await loaded.model.run(features, 1);
    // the session may have been swapped or released while it ran: the result is still its own
    this.d.sink.record(loaded, out.labels[0]!, out.probabilities, features);
    return wait();
  }
}
