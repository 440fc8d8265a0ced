// Synthetic vibration windows for predictive maintenance: one accelerometer on a rotating
// machine, in g. Shared by the trainer and the device agent's simulated sensor, so it has no
// dependencies and no I/O; randomness comes in as an Rng (ml/prng.ts).
//
// What each class puts in the signal (f1 = shaft rate, ~25 Hz by default):
// - every class: a small 1×/2×/3× line (residual imbalance, alignment), a narrow-band
//   structural resonance excited by broadband noise, white sensor noise;
// - imbalance: a strong 1× line (centrifugal force rotates once per revolution);
// - looseness: harmonics 1×–5×, sub-harmonics 0.5×/1.5×/2.5×, and one impact per revolution
//   ringing at a mid-frequency mode (150–400 Hz);
// - bearing_wear: impacts at a bearing defect frequency (3.0–5.5 × f1, an outer/inner race
//   ratio), each ringing a high-frequency resonance (500–900 Hz) and amplitude-modulated by
//   shaft rotation (the defect passes through the load zone once per revolution).
//
// Field effects, all optional: noise level, sensor drift (gain, DC offset, and a spectral shift
// that moves every frequency by a fraction, as a drifting sample clock or a mounting resonance
// that moves would), dropped samples (NaN or zero runs) and shaft speed variation.

import type { Rng } from './prng.ts';

export const CLASSES = ['normal', 'bearing_wear', 'imbalance', 'looseness'] as const;
export type FaultClass = (typeof CLASSES)[number];

export interface DriftOptions {
  /** Sensitivity error: the signal is multiplied by (1 + gain). */
  gain?: number;
  /** DC offset added to every sample, in g. */
  offset?: number;
  /** Every frequency in the signal is multiplied by (1 + spectralShift). */
  spectralShift?: number;
}

export interface DropoutOptions {
  /** Fraction of the window's samples to drop, in runs. */
  fraction: number;
  /** Mean run length in samples (runs are 0.5–1.5 × this, at least 4). Default 32. */
  meanRun?: number;
  /** What a dropped sample reads as. Default 'nan'. */
  fill?: 'nan' | 'zero';
}

export interface SignalOptions {
  sampleRate?: number;
  length?: number;
  /** Nominal shaft rate in Hz. */
  shaftHz?: number;
  /** Per-window shaft rate uniform in shaftHz × (1 ± speedVariation), plus an in-window wobble of 5 % of it. */
  speedVariation?: number;
  /** Standard deviation of the white sensor noise, in g. */
  noise?: number;
  drift?: DriftOptions;
  dropout?: DropoutOptions;
}

type Settings = Required<Omit<SignalOptions, 'drift' | 'dropout'>>;

export const SIGNAL_DEFAULTS: Readonly<Settings> = Object.freeze({
  sampleRate: 2048,
  length: 2048,
  shaftHz: 25,
  speedVariation: 0.1,
  noise: 0.05,
});

/** Minimum length of a run of exact zeros that counts as dropped (ml/features.ts reads this too). */
export const ZERO_RUN_MIN = 4;

/** History synthesised before the window so impacts that started earlier ring into it. */
const PRE_SECONDS = 0.05;

/** One window of `length` samples of class `cls`. */
export function generateWindow(cls: FaultClass, rng: Rng, options: SignalOptions = {}): Float32Array {
  const o = { ...SIGNAL_DEFAULTS, ...options };
  if (!CLASSES.includes(cls)) throw new TypeError(`unknown class ${String(cls)}`);
  const shift = o.drift?.spectralShift ?? 0;
  // Scaling every frequency by (1 + shift) is synthesising on a clock that runs (1 + shift) fast.
  const fs = o.sampleRate / (1 + shift);
  const pre = Math.ceil(PRE_SECONDS * fs);
  const m = pre + o.length;
  const x = new Float64Array(m);
  const theta = shaftAngle(m, fs, o.shaftHz * (1 + rng.uniform(-o.speedVariation, o.speedVariation)), o, rng);

  addHarmonics(x, theta, 1, [rng.uniform(0.05, 0.3), rng.uniform(0.02, 0.1), rng.uniform(0, 0.04)], rng);
  addResonantNoise(x, fs, rng.uniform(250, 950), rng.uniform(0.01, 0.04), rng);

  if (cls === 'imbalance') {
    addHarmonics(x, theta, 1, [rng.uniform(0.35, 1.5), rng.uniform(0, 0.08)], rng);
  } else if (cls === 'looseness') {
    const a = rng.uniform(0.12, 0.4);
    addHarmonics(
      x,
      theta,
      1,
      [1, 2, 3, 4, 5].map((k) => (a * rng.uniform(0.4, 1)) / Math.sqrt(k)),
      rng,
    );
    addHarmonics(
      x,
      theta,
      0.5,
      [a * rng.uniform(0.2, 0.6), 0, a * rng.uniform(0.1, 0.4), 0, a * rng.uniform(0.05, 0.3)],
      rng,
    );
    const ring = {
      freq: rng.uniform(150, 400),
      tau: rng.uniform(0.004, 0.008),
      amp: rng.uniform(0.2, 0.8),
      depth: 0,
    };
    addImpacts(x, theta, fs, 1, rng.next(), ring, 0.02, rng);
  } else if (cls === 'bearing_wear') {
    const ratio = rng.uniform(3, 5.5);
    const ring = {
      freq: rng.uniform(500, 900),
      tau: rng.uniform(0.0015, 0.004),
      amp: rng.uniform(0.2, 1),
      depth: rng.uniform(0.2, 0.8),
    };
    addImpacts(x, theta, fs, ratio, rng.next(), ring, 0.01, rng);
  }

  const gain = 1 + (o.drift?.gain ?? 0);
  const offset = o.drift?.offset ?? 0;
  const out = new Float32Array(o.length);
  for (let i = 0; i < o.length; i++) out[i] = gain * (x[pre + i]! + o.noise * rng.gauss()) + offset;
  if (o.dropout && o.dropout.fraction > 0) dropSamples(out, o.dropout, rng);
  return out;
}

/** Shaft angle in radians at each sample: rate f0 with a slow sinusoidal wobble. */
function shaftAngle(m: number, fs: number, f0: number, o: Settings, rng: Rng): Float64Array {
  const wobble = 0.05 * o.speedVariation;
  const fw = rng.uniform(0.5, 2);
  const pw = rng.uniform(0, 2 * Math.PI);
  const theta = new Float64Array(m);
  let th = rng.uniform(0, 2 * Math.PI);
  for (let n = 0; n < m; n++) {
    theta[n] = th;
    th += (2 * Math.PI * f0 * (1 + wobble * Math.sin((2 * Math.PI * fw * n) / fs + pw))) / fs;
  }
  return theta;
}

/** Adds Σ amps[k-1]·sin(k·scale·θ + φk) with random phases, sin/cos of kθ by recurrence. */
function addHarmonics(x: Float64Array, theta: Float64Array, scale: number, amps: number[], rng: Rng): void {
  const cosP = amps.map(() => 0);
  const sinP = amps.map(() => 0);
  for (let k = 0; k < amps.length; k++) {
    const p = rng.uniform(0, 2 * Math.PI);
    cosP[k] = Math.cos(p) * amps[k]!;
    sinP[k] = Math.sin(p) * amps[k]!;
  }
  for (let n = 0; n < x.length; n++) {
    const a = scale * theta[n]!;
    const s1 = Math.sin(a);
    const c1 = Math.cos(a);
    let s = s1;
    let c = c1;
    let acc = 0;
    for (let k = 0; k < amps.length; k++) {
      acc += s * cosP[k]! + c * sinP[k]!;
      const s2 = s * c1 + c * s1;
      c = c * c1 - s * s1;
      s = s2;
    }
    x[n]! += acc;
  }
}

/** Broadband noise through a two-pole resonator at `freq`, scaled to standard deviation `std`. */
function addResonantNoise(x: Float64Array, fs: number, freq: number, std: number, rng: Rng): void {
  const r = 0.98;
  const a1 = 2 * r * Math.cos((2 * Math.PI * freq) / fs);
  const a2 = -r * r;
  const y = new Float64Array(x.length);
  let y1 = 0;
  let y2 = 0;
  let sumSq = 0;
  for (let n = -200; n < x.length; n++) {
    const v = a1 * y1 + a2 * y2 + rng.gauss();
    y2 = y1;
    y1 = v;
    if (n >= 0) {
      y[n] = v;
      sumSq += v * v;
    }
  }
  const k = std / Math.sqrt(sumSq / x.length || 1);
  for (let n = 0; n < x.length; n++) x[n]! += k * y[n]!;
}

interface Ring {
  freq: number;
  tau: number;
  amp: number;
  /** Amplitude modulation depth by shaft angle (0 = none). */
  depth: number;
}

/**
 * Impacts whenever the shaft has turned another 1/ratio of a revolution (offset by `phase`,
 * jittered by `jitter` of a period, as rolling elements slip), each a decaying ring.
 */
function addImpacts(
  x: Float64Array,
  theta: Float64Array,
  fs: number,
  ratio: number,
  phase: number,
  ring: Ring,
  jitter: number,
  rng: Rng,
): void {
  const len = Math.ceil(6 * ring.tau * fs);
  const w = (2 * Math.PI * ring.freq) / fs;
  const decay = 1 / (ring.tau * fs);
  const t0 = theta[0]!;
  let count = Math.floor(phase);
  for (let n = 1; n < x.length; n++) {
    const c = Math.floor(((theta[n]! - t0) * ratio) / (2 * Math.PI) + phase);
    if (c === count) continue;
    count = c;
    const period = (2 * Math.PI) / ratio / (theta[n]! - theta[n - 1]!);
    const start = n + jitter * period * rng.uniform(-1, 1);
    const amp = ring.amp * (1 + ring.depth * Math.cos(theta[n]!)) * rng.uniform(0.8, 1.2);
    const first = Math.max(0, Math.ceil(start));
    for (let i = first; i < Math.min(x.length, first + len); i++) {
      const dt = i - start;
      x[i]! += amp * Math.exp(-dt * decay) * Math.sin(w * dt);
    }
  }
}

/** Replaces runs of samples with NaN or 0 until at least `fraction` of the window is dropped. */
function dropSamples(out: Float32Array, d: DropoutOptions, rng: Rng): void {
  const fill = d.fill === 'zero' ? 0 : Number.NaN;
  const mean = d.meanRun ?? 32;
  const target = Math.min(out.length, Math.round(d.fraction * out.length));
  const dropped = new Uint8Array(out.length);
  let count = 0;
  while (count < target) {
    const run = Math.min(out.length, Math.max(ZERO_RUN_MIN, Math.round(mean * rng.uniform(0.5, 1.5))));
    const start = rng.int(out.length - run + 1);
    for (let i = start; i < start + run; i++) {
      if (!dropped[i]) count++;
      dropped[i] = 1;
      out[i] = fill;
    }
  }
}
