// PSI against the training deciles: vectors, smoothing, the decayed sum, and a simulated
// sensor (ml/signal.ts + ml/features.ts, binned by the shipped model's training deciles)
// that drifts, beside one that does not.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { extractFeatures } from '../../ml/features.ts';
import { createRng, type Rng } from '../../ml/prng.ts';
import { CLASSES, type DriftOptions, generateWindow } from '../../ml/signal.ts';
import {
  accumulate,
  binOf,
  DEFAULT_DRIFT_THRESHOLD,
  type DriftState,
  histograms,
  judge,
  MIN_WINDOWS,
  psi,
  thresholdOf,
} from './drift.ts';

describe('psi', () => {
  it('is 0 for a sample spread like the training deciles (10 % a bin)', () => {
    expect(psi(new Array(10).fill(100))).toBeCloseTo(0, 12);
    expect(psi(new Array(10).fill(1))).toBeCloseTo(0, 12);
    // sampling noise of 1000 windows stays far below the threshold
    expect(psi([95, 104, 99, 102, 97, 101, 103, 98, 100, 101])).toBeLessThan(0.01);
  });

  it('passes 0.25 for a shifted distribution', () => {
    // half the mass moved up by two deciles
    expect(psi([50, 50, 50, 50, 50, 100, 150, 150, 200, 150])).toBeGreaterThan(0.25);
    // everything above the training's 70th percentile
    expect(psi([0, 0, 0, 0, 0, 0, 0, 300, 400, 300])).toBeGreaterThan(2);
  });

  it('smooths empty bins instead of dividing by zero', () => {
    const v = psi([0, 0, 0, 0, 0, 0, 0, 0, 0, 1000]);
    expect(Number.isFinite(v)).toBe(true);
    expect(v).toBeGreaterThan(5);
    // a hand computation: pseudo-count 0.5 per bin, 1005 in all
    const a = [...new Array(9).fill(0.5 / 1005), 1000.5 / 1005];
    expect(v).toBeCloseTo(
      a.reduce((s, x) => s + (x - 0.1) * Math.log(x / 0.1), 0),
      12,
    );
    expect(psi(new Array(10).fill(0))).toBe(0); // no evidence, no shift
  });

  it('refuses what is not a histogram', () => {
    expect(() => psi([1])).toThrow(TypeError);
    expect(() => psi([1, -1])).toThrow(TypeError);
    expect(() => psi([1, Number.NaN])).toThrow(TypeError);
  });
});

describe('binning by decile edges', () => {
  it('puts an edge into the bin it opens, and the tails into the first and last bins', () => {
    const edges = [1, 2, 3];
    expect([-5, 0.99, 1, 1.5, 2, 3, 99].map((v) => binOf(v, edges))).toEqual([0, 0, 1, 1, 2, 3, 3]);
    expect(histograms([[0.5], [1.5], [Number.NaN], [7]], [edges])).toEqual([[1, 1, 0, 1]]);
  });
});

describe('the decayed sum and its verdict', () => {
  const uniform = (k: number) => [new Array(10).fill(k)];

  it('gives no verdict before MIN_WINDOWS windows', () => {
    let s: DriftState | undefined;
    s = accumulate(s, ['f'], [[0, 0, 0, 0, 0, 0, 0, 0, 0, 10]], 30);
    expect(judge(s)).toMatchObject({ score: null, drifting: false, warmingUp: true, topFeature: 'f' });
    for (let i = 0; i < 30; i++) s = accumulate(s, ['f'], [[0, 0, 0, 0, 0, 0, 0, 0, 0, 10]], 30);
    expect(s.windows).toBeGreaterThanOrEqual(MIN_WINDOWS);
    expect(judge(s)).toMatchObject({ drifting: true, warmingUp: false });
  });

  it('forgets: a device that comes back to the training distribution stops drifting', () => {
    let s: DriftState | undefined;
    for (let i = 0; i < 60; i++) s = accumulate(s, ['f'], [[0, 0, 0, 0, 0, 0, 0, 0, 5, 5]], 30);
    expect(judge(s!).drifting).toBe(true);
    for (let i = 0; i < 200; i++) s = accumulate(s, ['f'], uniform(1), 30);
    expect(judge(s!).drifting).toBe(false);
    // steady state: K messages' worth of windows
    expect(s!.windows).toBeCloseTo(300, 0);
  });

  it('starts afresh when the features change (another model)', () => {
    let s = accumulate(undefined, ['a'], uniform(5), 30);
    s = accumulate(s, ['b'], uniform(1), 30);
    expect(s).toMatchObject({ features: ['b'], windows: 10, messages: 1 });
  });

  it('takes the threshold from the manifest, 0.25 otherwise', () => {
    expect(thresholdOf({ statistic: 'psi', threshold: 0.1 })).toBe(0.1);
    expect(thresholdOf({ statistic: 'psi' })).toBe(DEFAULT_DRIFT_THRESHOLD);
    expect(thresholdOf({ statistic: 'ks', threshold: 0.1 })).toBe(DEFAULT_DRIFT_THRESHOLD);
    expect(thresholdOf({ threshold: -1 })).toBe(DEFAULT_DRIFT_THRESHOLD);
    expect(thresholdOf(undefined)).toBe(DEFAULT_DRIFT_THRESHOLD);
    const s = accumulate(undefined, ['f'], [[20, 20, 10, 10, 10, 10, 10, 10, 0, 100]], 30);
    expect(judge(s, 0.1).drifting).toBe(true);
    expect(judge(s, 10).drifting).toBe(false);
  });
});

// The shipped model's training distribution: decile edges per feature.
const stats = JSON.parse(
  readFileSync(new URL('../../ml/models/vibration.stats.json', import.meta.url), 'utf8'),
) as { features: string[]; trainingDistribution: { features: { name: string; deciles: number[] }[] } };
const EDGES = stats.trainingDistribution.features.map((f) => f.deciles);

/** One message's histograms: 10 windows of a sensor on a machine, classes drawn as in training. */
function message(rng: Rng, drift?: DriftOptions): number[][] {
  const rows = [];
  for (let w = 0; w < 10; w++) {
    const cls = CLASSES[rng.int(CLASSES.length)]!;
    rows.push(extractFeatures(generateWindow(cls, rng, drift ? { drift } : {})).features);
  }
  return histograms(rows, EDGES);
}

describe('a simulated sensor', () => {
  it('that drifts is flagged, on the feature that moved; a steady one is not', () => {
    const rngSteady = createRng(101);
    const rngDrift = createRng(202);
    let steady: DriftState | undefined;
    let drifting: DriftState | undefined;
    const steadyScores: number[] = [];
    let flaggedAt: number | undefined;
    for (let m = 1; m <= 60; m++) {
      steady = accumulate(steady, stats.features, message(rngSteady), 30);
      // a loosening mount: the DC offset creeps up 1 mg per message, the gain 0.5 % per message
      drifting = accumulate(
        drifting,
        stats.features,
        message(rngDrift, { offset: 0.001 * m, gain: 0.005 * m }),
        30,
      );
      const s = judge(steady);
      if (s.score !== null) steadyScores.push(s.score);
      expect(s.drifting).toBe(false);
      if (flaggedAt === undefined && judge(drifting).drifting) flaggedAt = m;
    }
    expect(steadyScores.length).toBeGreaterThan(30);
    expect(Math.max(...steadyScores)).toBeLessThan(DEFAULT_DRIFT_THRESHOLD);
    const v = judge(drifting!);
    expect(flaggedAt).toBeDefined();
    expect(v.drifting).toBe(true);
    expect(v.score!).toBeGreaterThan(DEFAULT_DRIFT_THRESHOLD);
    expect(v.topFeature).toBe('mean_g');
  });
});
