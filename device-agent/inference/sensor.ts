// Where samples come from: the simulated accelerometer (ml/signal.ts, one machine state, an
// optional slow sensor drift) or a file / stdin of samples. A sensor hands out windows of the
// length and sample rate the loaded model asks for (its edgeseal.window metadata).
import { randomInt } from 'node:crypto';
import { createRng, type Rng } from '../../ml/prng.ts';
import { CLASSES, type DriftOptions, type FaultClass, generateWindow } from '../../ml/signal.ts';

export type SensorSpec =
  | {
      readonly kind: 'generator';
      readonly state: FaultClass;
      readonly drift: boolean;
      readonly seed?: number;
    }
  | { readonly kind: 'file'; readonly path: string };

export interface Sensor {
  /** for the log: `generator:imbalance`, `generator:normal+drift`, `file:/path`, `file:-` */
  readonly name: string;
  /** The next window, or undefined when none is ready (a file not read that far yet, or ended). */
  next(length: number, sampleRate: number): Float32Array | undefined;
  /** no window will come any more (the file ended) */
  readonly ended: boolean;
  close(): void;
}

export const isFaultClass = (s: string): s is FaultClass => (CLASSES as readonly string[]).includes(s);

/**
 * The slow drift of --sensor-drift, full after DRIFT_RAMP_WINDOWS windows and held there:
 * sensitivity +40 %, DC offset +0.25 g, every frequency +8 % (a sample clock running fast or a
 * mounting resonance moving). Each is well outside what the model was trained on (ml/field.ts
 * tests ±20 %, ±0.1 g, ±5 % per window), so the input statistics move visibly.
 */
export const DRIFT_RAMP_WINDOWS = 60;
export const DRIFT_FULL: Readonly<Required<DriftOptions>> = Object.freeze({
  gain: 0.4,
  offset: 0.25,
  spectralShift: 0.08,
});

export function driftAt(window: number): Required<DriftOptions> {
  const f = Math.min(1, window / DRIFT_RAMP_WINDOWS);
  return {
    gain: DRIFT_FULL.gain * f,
    offset: DRIFT_FULL.offset * f,
    spectralShift: DRIFT_FULL.spectralShift * f,
  };
}

export class GeneratorSensor implements Sensor {
  readonly name: string;
  readonly ended = false;
  private readonly rng: Rng;
  private windows = 0;

  constructor(private readonly spec: Extract<SensorSpec, { kind: 'generator' }>) {
    this.name = `generator:${spec.state}${spec.drift ? '+drift' : ''}`;
    this.rng = createRng(spec.seed ?? randomInt(2 ** 31));
  }

  next(length: number, sampleRate: number): Float32Array {
    const drift = this.spec.drift ? driftAt(this.windows) : undefined;
    this.windows++;
    return generateWindow(this.spec.state, this.rng.fork(), {
      length,
      sampleRate,
      ...(drift ? { drift } : {}),
    });
  }

  close(): void {}
}
