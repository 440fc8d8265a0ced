import { describe, expect, it } from 'vitest';
import {
  BAND_EDGES_HZ,
  droppedMask,
  extractFeatures,
  FEATURE_COUNT,
  FEATURE_NAMES,
  FeatureError,
  powerSpectrum,
  summarizeFeatures,
} from './features.ts';
import { fft } from './fft.ts';
import { createRng } from './prng.ts';

const N = 2048;
const FS = 2048;
const sine = (amp: number, hz: number, offset = 0) =>
  Float32Array.from({ length: N }, (_, n) => offset + amp * Math.sin((2 * Math.PI * hz * n) / FS + 0.3));
const feature = (f: Float32Array, name: string) => f[FEATURE_NAMES.indexOf(name)]!;

describe('fft', () => {
  it('matches a direct DFT', () => {
    const rng = createRng(1);
    const n = 64;
    const x = Float64Array.from({ length: n }, () => rng.gauss());
    const re = x.slice();
    const im = new Float64Array(n);
    fft(re, im);
    for (let k = 0; k < n; k++) {
      let sr = 0;
      let si = 0;
      for (let t = 0; t < n; t++) {
        sr += x[t]! * Math.cos((2 * Math.PI * k * t) / n);
        si -= x[t]! * Math.sin((2 * Math.PI * k * t) / n);
      }
      expect(re[k]).toBeCloseTo(sr, 9);
      expect(im[k]).toBeCloseTo(si, 9);
    }
  });

  it('refuses a length that is not a power of two', () => {
    expect(() => fft(new Float64Array(100), new Float64Array(100))).toThrow(TypeError);
  });
});

describe('extractFeatures', () => {
  it('has 16 named features, in a fixed order', () => {
    expect(FEATURE_NAMES).toHaveLength(FEATURE_COUNT);
    expect(FEATURE_NAMES.slice(0, 8)).toEqual([
      'mean_g',
      'rms_g',
      'peak_g',
      'crest_factor',
      'kurtosis',
      'skewness',
      'spectral_centroid_hz',
      'dominant_frequency_hz',
    ]);
    expect(FEATURE_NAMES[8]).toBe('log_band_1_8hz');
    expect(FEATURE_NAMES[15]).toBe('log_band_512_1024hz');
  });

  it('a pure sine: RMS A/√2, peak A, crest √2, kurtosis 1.5, skewness 0, its frequency', () => {
    const { features: f, bandPower } = extractFeatures(sine(2, 100, 0.25));
    expect(feature(f, 'mean_g')).toBeCloseTo(0.25, 6);
    expect(feature(f, 'rms_g')).toBeCloseTo(2 / Math.SQRT2, 6);
    expect(feature(f, 'peak_g')).toBeCloseTo(2, 4);
    expect(feature(f, 'crest_factor')).toBeCloseTo(Math.SQRT2, 4);
    expect(feature(f, 'kurtosis')).toBeCloseTo(1.5, 5);
    expect(Math.abs(feature(f, 'skewness'))).toBeLessThan(1e-5);
    expect(feature(f, 'dominant_frequency_hz')).toBeCloseTo(100, 3);
    expect(feature(f, 'spectral_centroid_hz')).toBeCloseTo(100, 1);
    // all the power in the 64–128 Hz band
    expect(bandPower[4]! / bandPower.reduce((a, b) => a + b, 0)).toBeGreaterThan(0.999);
  });

  it('white Gaussian noise: kurtosis ≈ 3, skewness ≈ 0, power spread over the bands by width', () => {
    const rng = createRng(2);
    const kurt: number[] = [];
    for (let i = 0; i < 10; i++) {
      const { features: f, bandPower } = extractFeatures(
        Float32Array.from({ length: N }, () => 0.5 * rng.gauss()),
      );
      kurt.push(feature(f, 'kurtosis'));
      expect(Math.abs(feature(f, 'skewness'))).toBeLessThan(0.25);
      // the top band is half the spectrum: about half the power
      expect(bandPower[7]! / bandPower.reduce((a, b) => a + b, 0)).toBeCloseTo(0.5, 1);
    }
    // standard error of one window's kurtosis is √(24/N) ≈ 0.11; of the mean of ten, ≈ 0.034
    expect(Math.abs(kurt.reduce((a, b) => a + b, 0) / kurt.length - 3)).toBeLessThan(0.12);
  });

  it('Parseval: the spectrum sums to the windowed energy; the bands sum to the variance', () => {
    const rng = createRng(3);
    const x = Float64Array.from({ length: N }, () => rng.gauss());
    const p = powerSpectrum(x);
    let num = 0;
    let den = 0;
    for (let n = 0; n < N; n++) {
      const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / N);
      num += (w * x[n]!) ** 2;
      den += w * w;
    }
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(num / den, 9);

    for (const signal of [sine(1, 37.3), Float32Array.from(x, (v) => 0.2 * v)]) {
      const { features: f, bandPower } = extractFeatures(signal);
      const total = bandPower.reduce((a, b) => a + b, 0);
      expect(total / feature(f, 'rms_g') ** 2).toBeGreaterThan(0.95);
      expect(total / feature(f, 'rms_g') ** 2).toBeLessThan(1.05);
      for (const [b, e] of bandPower.entries()) {
        expect(feature(f, FEATURE_NAMES[8 + b]!)).toBeCloseTo(Math.log10(e + 1e-10), 5);
      }
    }
  });

  it('band edges are octaves from 8 Hz to 1024 Hz, the first band down to 1 Hz', () => {
    expect(BAND_EDGES_HZ).toEqual([1, 8, 16, 32, 64, 128, 256, 512, 1024]);
  });

  it('NaN runs: time statistics skip them, the spectrum interpolates across them', () => {
    const clean = extractFeatures(sine(1, 40));
    const gappy = sine(1, 40);
    gappy.fill(Number.NaN, 100, 140);
    gappy.fill(Number.NaN, 1000, 1010);
    gappy[2047] = Number.NaN;
    const { features: f, quality } = extractFeatures(gappy);
    expect(quality).toMatchObject({ samples: N, dropped: 51, nan: 51, zeroRuns: 0 });
    expect(f.every(Number.isFinite)).toBe(true);
    expect(feature(f, 'rms_g')).toBeCloseTo(1 / Math.SQRT2, 2);
    expect(feature(f, 'kurtosis')).toBeCloseTo(1.5, 1);
    expect(feature(f, 'dominant_frequency_hz')).toBeCloseTo(40, 1);
    expect(feature(f, 'log_band_32_64hz')).toBeCloseTo(feature(clean.features, 'log_band_32_64hz'), 1);
  });

  it('zero runs of 4 or more samples count as dropped; a lone zero is a sample', () => {
    const x = sine(1, 40);
    x[10] = 0;
    x.fill(0, 500, 532);
    x.fill(0, 700, 703);
    const { mask, zeroRuns } = droppedMask(x);
    expect(zeroRuns).toBe(1);
    expect(mask[10]).toBe(0);
    expect(mask.slice(500, 532).every((v) => v === 1)).toBe(true);
    expect(mask[700]).toBe(0);
    const { quality } = extractFeatures(x);
    expect(quality.dropped).toBe(32);
  });

  it('refuses a window with too few valid samples, with a code', () => {
    const x = sine(1, 40);
    x.fill(Number.NaN, 0, 1200);
    expect(() => extractFeatures(x)).toThrow(FeatureError);
    try {
      extractFeatures(x);
    } catch (e) {
      expect((e as FeatureError).code).toBe('ERR_TOO_FEW_SAMPLES');
    }
    expect(extractFeatures(x, { minValidFraction: 0.2 }).quality.validFraction).toBeCloseTo(848 / N, 9);
  });
});

describe('summarizeFeatures', () => {
  it('mean, std, min, max and decile edges per feature, JSON round-trippable', () => {
    const rows = new Float32Array(101 * 2);
    for (let i = 0; i <= 100; i++) {
      rows[2 * i] = i;
      rows[2 * i + 1] = 7;
    }
    const s = summarizeFeatures(rows, ['ramp', 'constant']);
    expect(s.n).toBe(101);
    expect(s.features[0]).toMatchObject({ name: 'ramp', mean: 50, min: 0, max: 100 });
    expect(s.features[0]!.deciles).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect(s.features[0]!.std).toBeCloseTo(Math.sqrt((101 * 101 - 1) / 12), 9);
    expect(s.features[1]).toMatchObject({ mean: 7, std: 0, min: 7, max: 7 });
    expect(s.byClass).toBeUndefined();
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });

  it("with labels, each class's share of every decile bin (the drift check's per-class baseline)", () => {
    // 0..99: class 'low' below 50, 'high' from 50; deciles 9.9, 19.8, …, 89.1
    const rows = Float32Array.from({ length: 100 }, (_, i) => i);
    const labels = Int32Array.from({ length: 100 }, (_, i) => (i < 50 ? 0 : 1));
    const s = summarizeFeatures(rows, ['ramp'], labels, ['low', 'high']);
    expect(s.features[0]!.deciles[4]).toBeCloseTo(49.5, 9);
    // bin k holds edge[k−1] ≤ x < edge[k]: 0–9, 10–19, …, 90–99, ten values each
    expect(s.byClass).toEqual([
      { name: 'low', n: 50, proportions: [[0.2, 0.2, 0.2, 0.2, 0.2, 0, 0, 0, 0, 0]] },
      { name: 'high', n: 50, proportions: [[0, 0, 0, 0, 0, 0.2, 0.2, 0.2, 0.2, 0.2]] },
    ]);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    expect(() => summarizeFeatures(rows, ['ramp'], labels)).toThrow(TypeError);
    expect(() => summarizeFeatures(rows, ['ramp'], labels.subarray(1), ['low', 'high'])).toThrow(TypeError);
    expect(() => summarizeFeatures(rows, ['ramp'], labels, ['low'])).toThrow(/not an index/);
  });
});
