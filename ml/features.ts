// The feature vector computed on the device from one window of raw samples. The model takes
// these 16 numbers, raw (standardisation is the model's first two ops), in this order:
//
//  0 mean_g                 DC level of the valid samples (moves with an offset drift)
//  1 rms_g                  RMS about the mean (AC RMS; for a sine of amplitude A, A/√2)
//  2 peak_g                 max |x − mean|
//  3 crest_factor           peak / rms
//  4 kurtosis               m4 / m2² (not excess: sine 1.5, Gaussian 3, impacts ≫ 3)
//  5 skewness               m3 / m2^1.5
//  6 spectral_centroid_hz   power-weighted mean frequency (bins 1..N/2)
//  7 dominant_frequency_hz  frequency of the strongest bin, parabolic-interpolated
//  8–15 log_band_<lo>_<hi>hz  log10 of the signal power (g²) in 8 log-spaced (octave) bands:
//                           1–8, 8–16, 16–32, 32–64, 64–128, 128–256, 256–512, 512–1024 Hz
//
// Dropped samples: NaN, and runs of ≥ ZERO_RUN_MIN exact zeros (a live accelerometer never
// reads exactly 0.0 four times running), are dropped. The time-domain statistics (0–5) skip
// them; the spectrum (6–15) is taken over the window with each gap linearly interpolated
// between its valid neighbours (edges hold the nearest valid sample), so a gap adds no
// broadband step. A window with less than `minValidFraction` valid samples is refused.
//
// Spectrum: Hann window, one-sided power scaled so Σ_k P[k] = Σ(w·x)² / Σw² (Parseval): the
// band powers of a stationary signal sum to its variance.

import { fft, isPowerOfTwo } from './fft.ts';
import { ZERO_RUN_MIN } from './signal.ts';

export {
  type ClassBins,
  type FeatureSummary,
  summarizeFeatures,
  type TrainingDistribution,
} from './feature-stats.ts';

/** Band k covers BAND_EDGES_HZ[k] ≤ f < BAND_EDGES_HZ[k+1] (the last band includes its top edge). */
export const BAND_EDGES_HZ = Object.freeze([1, 8, 16, 32, 64, 128, 256, 512, 1024]);

export const FEATURE_NAMES: readonly string[] = Object.freeze([
  'mean_g',
  'rms_g',
  'peak_g',
  'crest_factor',
  'kurtosis',
  'skewness',
  'spectral_centroid_hz',
  'dominant_frequency_hz',
  ...BAND_EDGES_HZ.slice(0, -1).map((lo, k) => `log_band_${lo}_${BAND_EDGES_HZ[k + 1]}hz`),
]);

export const FEATURE_COUNT = 16;

/** Names this extractor in model metadata: change it when a feature's definition changes. */
export const FEATURE_EXTRACTOR = 'edgeseal ml/features.ts v1';

/** Floor under a band power before its log (g²), far below any sensor's noise floor. */
const LOG_FLOOR = 1e-10;

export interface WindowQuality {
  samples: number;
  /** Samples dropped (NaN, or inside a run of ≥ ZERO_RUN_MIN zeros). */
  dropped: number;
  nan: number;
  zeroRuns: number;
  validFraction: number;
}

export interface WindowFeatures {
  features: Float32Array;
  quality: WindowQuality;
  /** Linear band powers (g²), the same 8 bands as features 8–15. */
  bandPower: Float64Array;
}

export class FeatureError extends Error {
  readonly code: 'ERR_TOO_FEW_SAMPLES';
  constructor(code: 'ERR_TOO_FEW_SAMPLES', message: string) {
    super(message);
    this.name = 'FeatureError';
    this.code = code;
  }
}

export interface FeatureOptions {
  /** Hz; default 2048 (the generator's default). */
  sampleRate?: number;
  /** Default 0.5. */
  minValidFraction?: number;
}

/** Marks dropped samples: 1 where NaN/±Infinity or inside a run of ≥ ZERO_RUN_MIN exact zeros. */
export function droppedMask(x: ArrayLike<number>): { mask: Uint8Array; nan: number; zeroRuns: number } {
  const n = x.length;
  const mask = new Uint8Array(n);
  let nan = 0;
  let zeroRuns = 0;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(x[i]!)) {
      mask[i] = 1;
      nan++;
    }
  }
  for (let i = 0; i < n; ) {
    if (x[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < n && x[j] === 0) j++;
    if (j - i >= ZERO_RUN_MIN) {
      mask.fill(1, i, j);
      zeroRuns++;
    }
    i = j;
  }
  return { mask, nan, zeroRuns };
}

export function extractFeatures(window: ArrayLike<number>, options: FeatureOptions = {}): WindowFeatures {
  const n = window.length;
  if (!isPowerOfTwo(n)) throw new TypeError(`window length must be a power of two, got ${n}`);
  const fs = options.sampleRate ?? 2048;
  const { mask, nan, zeroRuns } = droppedMask(window);
  let dropped = 0;
  for (let i = 0; i < n; i++) dropped += mask[i]!;
  const valid = n - dropped;
  const quality = { samples: n, dropped, nan, zeroRuns, validFraction: valid / n };
  if (valid < 2 || quality.validFraction < (options.minValidFraction ?? 0.5)) {
    throw new FeatureError('ERR_TOO_FEW_SAMPLES', `only ${valid} of ${n} samples are valid`);
  }

  let sum = 0;
  for (let i = 0; i < n; i++) if (!mask[i]) sum += window[i]!;
  const mean = sum / valid;
  let m2 = 0;
  let m3 = 0;
  let m4 = 0;
  let peak = 0;
  for (let i = 0; i < n; i++) {
    if (mask[i]) continue;
    const d = window[i]! - mean;
    const d2 = d * d;
    m2 += d2;
    m3 += d2 * d;
    m4 += d2 * d2;
    if (Math.abs(d) > peak) peak = Math.abs(d);
  }
  m2 /= valid;
  m3 /= valid;
  m4 /= valid;
  const rms = Math.sqrt(m2);

  const p = powerSpectrum(interpolateGaps(window, mask, mean));
  const df = fs / n;
  const bandPower = new Float64Array(BAND_EDGES_HZ.length - 1);
  let total = 0;
  let moment = 0;
  let best = 1;
  for (let k = 1; k < p.length; k++) {
    const f = k * df;
    total += p[k]!;
    moment += f * p[k]!;
    if (p[k]! > p[best]!) best = k;
    const b = band(f);
    if (b >= 0) bandPower[b]! += p[k]!;
  }

  const features = new Float32Array(FEATURE_COUNT);
  features[0] = mean;
  features[1] = rms;
  features[2] = peak;
  features[3] = rms > 0 ? peak / rms : 0;
  features[4] = m2 > 0 ? m4 / (m2 * m2) : 0;
  features[5] = m2 > 0 ? m3 / m2 ** 1.5 : 0;
  features[6] = total > 0 ? moment / total : 0;
  features[7] = (best + parabolicOffset(p, best)) * df;
  for (let b = 0; b < bandPower.length; b++) features[8 + b] = Math.log10(bandPower[b]! + LOG_FLOOR);
  return { features, quality, bandPower };
}

function band(f: number): number {
  const last = BAND_EDGES_HZ.length - 1;
  if (f < BAND_EDGES_HZ[0]! || f > BAND_EDGES_HZ[last]!) return -1;
  for (let b = 0; b < last - 1; b++) if (f < BAND_EDGES_HZ[b + 1]!) return b;
  return last - 1;
}

/** The window with dropped samples filled linearly between valid neighbours, minus `mean`. */
function interpolateGaps(x: ArrayLike<number>, mask: Uint8Array, mean: number): Float64Array {
  const n = x.length;
  const out = new Float64Array(n);
  let prev = -1;
  for (let i = 0; i <= n; i++) {
    if (i < n && mask[i]) continue;
    const right = i < n ? x[i]! - mean : undefined;
    const left = prev >= 0 ? x[prev]! - mean : undefined;
    for (let j = prev + 1; j < i; j++) {
      if (left === undefined) out[j] = right!;
      else if (right === undefined) out[j] = left;
      else out[j] = left + ((right - left) * (j - prev)) / (i - prev);
    }
    if (i < n) out[i] = right!;
    prev = i;
  }
  return out;
}

const hannCache = new Map<number, { w: Float64Array; sumSq: number }>();

function hann(n: number): { w: Float64Array; sumSq: number } {
  let h = hannCache.get(n);
  if (!h) {
    const w = new Float64Array(n);
    let sumSq = 0;
    for (let i = 0; i < n; i++) {
      w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
      sumSq += w[i]! * w[i]!;
    }
    h = { w, sumSq };
    hannCache.set(n, h);
  }
  return h;
}

/**
 * One-sided power spectrum P[0..N/2] of a Hann-windowed signal, scaled so that
 * Σ P = Σ(w·x)² / Σw² (Parseval: Σ|X|² = N·Σ(w·x)²).
 */
export function powerSpectrum(x: Float64Array): Float64Array {
  const n = x.length;
  const { w, sumSq } = hann(n);
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  for (let i = 0; i < n; i++) re[i] = x[i]! * w[i]!;
  fft(re, im);
  const p = new Float64Array(n / 2 + 1);
  const scale = 1 / (n * sumSq);
  for (let k = 0; k <= n / 2; k++) {
    const mag = re[k]! * re[k]! + im[k]! * im[k]!;
    p[k] = (k === 0 || k === n / 2 ? 1 : 2) * mag * scale;
  }
  return p;
}

function parabolicOffset(p: Float64Array, k: number): number {
  if (k <= 0 || k >= p.length - 1) return 0;
  const a = p[k - 1]!;
  const b = p[k]!;
  const c = p[k + 1]!;
  const den = a - 2 * b + c;
  return den < 0 ? (0.5 * (a - c)) / den : 0;
}
