// PSI against what a device should have seen: vectors, smoothing, the decayed sums of
// histograms and labels, the per-class baseline a manifest carries, and simulated sensors
// (ml/signal.ts + ml/features.ts, binned by the shipped model's training deciles, labelled by
// the shipped model itself): healthy machines in each state and a machine changing state are
// not drifting, sensors that drift are; a manifest without per-class proportions falls back to
// the training mix.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { extractFeatures } from '../../ml/features.ts';
import { forward } from '../../ml/mlp.ts';
import { METADATA_KEYS } from '../../ml/model-metadata.ts';
import { readOnnx } from '../../ml/onnx-export.ts';
import { createRng, type Rng } from '../../ml/prng.ts';
import { CLASSES, type DriftOptions, type FaultClass, generateWindow } from '../../ml/signal.ts';
import {
  accumulate,
  binOf,
  type ClassBaseline,
  classBaselineOf,
  DEFAULT_DRIFT_THRESHOLD,
  type DriftState,
  driftSettingsOf,
  expectedProportions,
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

  it('smooths the expected proportions like counts of the same windows: an exact match is 0', () => {
    const e = [0.5, 0.3, 0.2, 0, 0, 0, 0, 0, 0, 0];
    // 100 windows exactly as expected, seven bins empty on both sides
    expect(psi([50, 30, 20, 0, 0, 0, 0, 0, 0, 0], e)).toBe(0);
    // proportions are normalised
    expect(
      psi(
        [50, 30, 20, 0, 0, 0, 0, 0, 0, 0],
        e.map((x) => x * 4),
      ),
    ).toBeCloseTo(0, 12);
    // a hand computation: both sides with a pseudo-count of 0.5 per bin, 105 in all
    const counts = [40, 30, 20, 10, 0, 0, 0, 0, 0, 0];
    const a = counts.map((c) => (c + 0.5) / 105);
    const x = e.map((p) => (100 * p + 0.5) / 105);
    expect(psi(counts, e)).toBeCloseTo(
      a.reduce((s, ai, i) => s + (ai - x[i]!) * Math.log(ai / x[i]!), 0),
      12,
    );
    // windows where the expectation has none: finite, and large
    expect(psi([0, 0, 0, 0, 0, 0, 0, 0, 0, 100], e)).toBeGreaterThan(5);
    // uniform expected proportions are the default
    expect(psi(counts, new Array(10).fill(0.1))).toBeCloseTo(psi(counts), 12);
  });

  it('refuses what is not a histogram', () => {
    expect(() => psi([1])).toThrow(TypeError);
    expect(() => psi([1, -1])).toThrow(TypeError);
    expect(() => psi([1, Number.NaN])).toThrow(TypeError);
    expect(() => psi([1, 1], [0.5])).toThrow(TypeError);
    expect(() => psi([1, 1], [0.5, -0.5])).toThrow(TypeError);
    expect(() => psi([1, 1], [0, 0])).toThrow(TypeError);
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

  it('sums the labels like the histograms, and starts afresh from a state saved without them', () => {
    let s = accumulate(undefined, ['f'], uniform(1), 10, { normal: 10 });
    s = accumulate(s, ['f'], uniform(1), 10, { normal: 4, bearing_wear: 6, imbalance: 0 });
    expect(s.labels).toEqual({ normal: 10 * 0.9 + 4, bearing_wear: 6 });
    expect(s.windows).toBeCloseTo(10 * 0.9 + 10, 12);
    s = accumulate(s, ['f'], uniform(1), 10); // a message without inference: labels only decay
    expect(s.labels.normal).toBeCloseTo(13 * 0.9, 12);
    // labels the device stopped naming are forgotten once negligible; ever new ones stay bounded
    let t = accumulate(undefined, ['f'], uniform(1), 2, { gone: 1 });
    for (let i = 0; i < 10; i++) t = accumulate(t, ['f'], uniform(1), 2, { normal: 10 });
    expect(Object.keys(t.labels)).toEqual(['normal']);
    for (let i = 0; i < 100; i++) t = accumulate(t, ['f'], uniform(1), 1000, { [`l${i}`]: 1 });
    expect(Object.keys(t.labels)).toHaveLength(64);
    expect(t.labels.normal).toBeDefined();
    const saved = { features: ['f'], sums: [new Array(10).fill(30)], windows: 300, messages: 30 };
    const next = accumulate(saved as unknown as DriftState, ['f'], uniform(1), 30, { normal: 10 });
    expect(next).toMatchObject({ windows: 10, messages: 1, labels: { normal: 10 } });
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

describe('the per-class baseline', () => {
  const two: ClassBaseline = {
    features: ['f', 'g'],
    classes: [
      {
        name: 'a',
        proportions: [
          [1, 0],
          [0.5, 0.5],
        ],
      },
      {
        name: 'b',
        proportions: [
          [0, 1],
          [0.5, 0.5],
        ],
      },
    ],
  };
  const state = (labels: Record<string, number>, features = ['f', 'g']): DriftState => ({
    features,
    sums: features.map(() => [100, 100]),
    windows: 200,
    messages: 20,
    labels,
  });

  it("mixes the classes by the device's label shares", () => {
    const m = expectedProportions(state({ a: 150, b: 50, other: 1000 }), two)!;
    expect(m.shares).toEqual({ a: 0.75, b: 0.25 }); // a label the baseline lacks does not count
    expect(m.perFeature).toEqual([
      [0.75, 0.25],
      [0.5, 0.5],
    ]);
    expect(judge(state({ a: 100, b: 100 }), 0.25, two)).toMatchObject({
      score: 0,
      drifting: false,
      expected: 'labelled_classes',
      classShares: { a: 0.5, b: 0.5 },
    });
    expect(judge(state({ a: 200 }), 0.25, two)).toMatchObject({ drifting: true, topFeature: 'f' });
  });

  it('falls back to the training mix without a baseline, without labels, or per feature it lacks', () => {
    expect(expectedProportions(state({ a: 1 }), null)).toBeNull();
    expect(expectedProportions(state({}), two)).toBeNull();
    expect(expectedProportions(state({ other: 5 }), two)).toBeNull();
    expect(judge(state({}), 0.25, two)).toMatchObject({ expected: 'training_mix', classShares: null });
    expect(expectedProportions(state({ a: 1 }, ['g', 'h']), two)!.perFeature).toEqual([[0.5, 0.5], null]);
  });

  it("is read from a manifest's drift section, or is null when it is absent or does not add up", () => {
    const section = (byClass: unknown, features: unknown = [{ name: 'f' }, { name: 'g' }]) => ({
      statistic: 'psi',
      threshold: 0.3,
      training_distribution: { n: 4, features, byClass },
    });
    const good = [
      {
        name: 'a',
        n: 2,
        proportions: [
          [2, 0],
          [1, 1],
        ],
      },
      {
        name: 'b',
        n: 2,
        proportions: [
          [0, 1],
          [0.5, 0.5],
        ],
      },
    ];
    expect(classBaselineOf(section(good))).toEqual(two); // rows normalised
    expect(driftSettingsOf(section(good))).toEqual({ threshold: 0.3, baseline: two });
    // older models: the threshold, no baseline
    expect(
      driftSettingsOf({ statistic: 'psi', threshold: 0.3, training_distribution: { n: 4, features: [] } }),
    ).toEqual({ threshold: 0.3, baseline: null });
    expect(driftSettingsOf(undefined)).toEqual({ threshold: DEFAULT_DRIFT_THRESHOLD, baseline: null });
    for (const bad of [
      [],
      [{ name: 'a', proportions: [[1, 0]] }], // a row short
      [
        {
          name: 'a',
          proportions: [
            [1, 0],
            [0, 0],
          ],
        },
      ], // a row of zeros
      [
        {
          name: 'a',
          proportions: [
            [1, -1],
            [1, 0],
          ],
        },
      ],
      [
        {
          name: 'a',
          proportions: [
            [1, Number.NaN],
            [1, 0],
          ],
        },
      ],
      [{ name: 'a', proportions: [[1], [1]] }],
      [
        {
          proportions: [
            [1, 0],
            [1, 0],
          ],
        },
      ],
      [good[0], good[0]], // a class twice
      'byClass',
    ])
      expect(classBaselineOf(section(bad))).toBeNull();
    expect(classBaselineOf(section(good, [{ name: 'f' }, {}]))).toBeNull();
  });
});

// The shipped model: its decile edges, its per-class baseline as `edgeseal model package`
// puts it into the manifest (the drift section built from the ONNX metadata, as cli/model.ts
// builds it), and its classifier (the TypeScript forward pass onnxruntime is tested against)
// to label the windows as the device's agent would.
const onnxBytes = new Uint8Array(readFileSync(new URL('../../ml/models/vibration.onnx', import.meta.url)));
const { model, metadata } = readOnnx(onnxBytes);
const distribution = JSON.parse(metadata[METADATA_KEYS.trainingDistribution]!) as {
  features: { name: string; deciles: number[] }[];
};
const FEATURES = distribution.features.map((f) => f.name);
const EDGES = distribution.features.map((f) => f.deciles);
const manifestDrift = {
  statistic: 'psi',
  threshold: DEFAULT_DRIFT_THRESHOLD,
  training_distribution: distribution,
  features: JSON.parse(metadata[METADATA_KEYS.features]!) as unknown,
};
const BASELINE = classBaselineOf(manifestDrift)!;

type Machine = FaultClass | ((rng: Rng, m: number) => FaultClass);

/** One message: 10 windows of a machine through a sensor, their histograms and the model's labels. */
function message(rng: Rng, machine: Machine, m: number, drift?: DriftOptions) {
  const x = new Float32Array(10 * FEATURES.length);
  const rows = [];
  for (let w = 0; w < 10; w++) {
    const cls = typeof machine === 'function' ? machine(rng, m) : machine;
    const f = extractFeatures(generateWindow(cls, rng, drift ? { drift } : {})).features;
    rows.push(f);
    x.set(f, w * FEATURES.length);
  }
  const labels: Record<string, number> = {};
  for (const l of forward(model, x, 10).labels) labels[CLASSES[l]!] = (labels[CLASSES[l]!] ?? 0) + 1;
  return { hist: histograms(rows, EDGES), labels };
}

/** A device's messages folded as the control plane folds them (K = 30); the verdict after each. */
function simulate(seed: number, machine: Machine, messages: number, drift?: (m: number) => DriftOptions) {
  const rng = createRng(seed);
  let s: DriftState | undefined;
  const verdicts = [];
  for (let m = 1; m <= messages; m++) {
    const { hist, labels } = message(rng, machine, m, drift?.(m));
    s = accumulate(s, FEATURES, hist, 30, labels);
    verdicts.push({ labelled: judge(s, DEFAULT_DRIFT_THRESHOLD, BASELINE), mix: judge(s) });
  }
  return { state: s!, verdicts, last: verdicts.at(-1)! };
}

const scores = (vs: ReturnType<typeof simulate>['verdicts'], k: 'labelled' | 'mix') =>
  vs.map((v) => v[k].score).filter((x): x is number => x !== null);

describe("the shipped model's per-class baseline", () => {
  it('travels in the ONNX metadata: every class, every feature, ten proportions summing to 1', () => {
    expect(BASELINE.classes.map((c) => c.name)).toEqual([...CLASSES]);
    expect(BASELINE.features).toEqual(FEATURES);
    for (const c of BASELINE.classes) {
      expect(c.proportions).toHaveLength(FEATURES.length);
      for (const row of c.proportions) {
        expect(row).toHaveLength(10);
        expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
      }
    }
    // the training set is an even mix: its classes mixed evenly give the deciles' 10 % per bin
    const even = expectedProportions(
      {
        features: FEATURES,
        sums: FEATURES.map(() => new Array(10).fill(0)),
        windows: 0,
        messages: 0,
        labels: { normal: 1, bearing_wear: 1, imbalance: 1, looseness: 1 },
      },
      BASELINE,
    )!;
    for (const row of even.perFeature) for (const p of row!) expect(p).toBeCloseTo(0.1, 2);
  });
});

describe('a simulated device', () => {
  it.each(CLASSES)(
    'on a healthy machine that is only ever %s is not drifting (against the mix it would be)',
    (cls) => {
      const { verdicts, last } = simulate(101 + CLASSES.indexOf(cls), cls, 40);
      const labelled = scores(verdicts, 'labelled');
      expect(labelled.length).toBeGreaterThanOrEqual(20); // a verdict from message 21 on
      expect(Math.max(...labelled)).toBeLessThan(0.15);
      expect(verdicts.every((v) => !v.labelled.drifting)).toBe(true);
      expect(last.labelled).toMatchObject({ expected: 'labelled_classes', warmingUp: false });
      expect(last.labelled.classShares![cls]).toBeGreaterThan(0.95);
      // the problem this solves: the training mix is no healthy machine's distribution
      expect(last.mix).toMatchObject({ expected: 'training_mix', drifting: true });
      expect(last.mix.score!).toBeGreaterThan(2.5);
    },
  );

  it('on a machine whose state changes (normal, then bearing wear, both labelled so) is not drifting', () => {
    const { verdicts, last } = simulate(303, (_rng, m) => (m <= 25 ? 'normal' : 'bearing_wear'), 60);
    const labelled = scores(verdicts, 'labelled');
    expect(labelled.length).toBeGreaterThanOrEqual(40); // verdicts before, through and after it
    // through the change and after it: the labels move the expectation with the inputs
    expect(Math.max(...labelled)).toBeLessThan(0.15);
    expect(last.labelled.classShares!.bearing_wear).toBeGreaterThan(0.6);
    expect(Math.max(...scores(verdicts, 'mix'))).toBeGreaterThan(1);
  });

  it('drawing from the training mix is not drifting either way', () => {
    const { verdicts } = simulate(404, (rng) => CLASSES[rng.int(CLASSES.length)]!, 30);
    expect(Math.max(...scores(verdicts, 'labelled'))).toBeLessThan(DEFAULT_DRIFT_THRESHOLD);
    expect(Math.max(...scores(verdicts, 'mix'))).toBeLessThan(DEFAULT_DRIFT_THRESHOLD);
  });

  // the sensor is sound for 25 messages (the device has a verdict from message 21), then drifts
  // for 20 messages and stays there (90 messages in all: most of the decayed sum is then drifted)
  const ramp = (m: number) => Math.min(20, Math.max(0, m - 25));
  const drifts: [string, (m: number) => DriftOptions, string][] = [
    // a loosening mount: the DC offset creeps up 1 mg per message, to 20 mg
    ['an offset', (m) => ({ offset: 0.001 * ramp(m) }), 'mean_g'],
    // sensitivity falling 1 % per message, to −20 %
    ['a gain', (m) => ({ gain: -0.01 * ramp(m) }), 'log_band_128_256hz'],
    // the sample clock running 0.25 % further off per message, to 5 %
    ['a spectral shift', (m) => ({ spectralShift: 0.0025 * ramp(m) }), 'dominant_frequency_hz'],
  ];
  it.each(drifts)(
    'on a healthy machine whose sensor drifts (%s) is drifting, on the feature that moved',
    (_, drift, feature) => {
      const { verdicts, last } = simulate(505, 'normal', 90, drift);
      const flaggedAt = verdicts.findIndex((v) => v.labelled.drifting) + 1;
      expect(verdicts.slice(20, 25).every((v) => v.labelled.score !== null && !v.labelled.drifting)).toBe(
        true,
      );
      expect(flaggedAt).toBeGreaterThan(25);
      expect(last.labelled).toMatchObject({
        drifting: true,
        expected: 'labelled_classes',
        topFeature: feature,
      });
      expect(last.labelled.score!).toBeGreaterThan(DEFAULT_DRIFT_THRESHOLD);
    },
  );

  it('falls back to the training mix for a model without per-class proportions: a drifting sensor still stands out', () => {
    // the fallback, as before: a device drawing from the training mix, one steady, one drifting
    const older = driftSettingsOf({
      statistic: 'psi',
      threshold: DEFAULT_DRIFT_THRESHOLD,
      training_distribution: { features: distribution.features },
    });
    expect(older.baseline).toBeNull();
    const mix = (rng: Rng) => CLASSES[rng.int(CLASSES.length)]!;
    const steady = simulate(101, mix, 60);
    const drifting = simulate(202, mix, 60, (m) => ({ offset: 0.001 * m, gain: 0.005 * m }));
    expect(judge(steady.state, older.threshold, older.baseline)).toMatchObject({
      expected: 'training_mix',
      drifting: false,
    });
    expect(Math.max(...scores(steady.verdicts, 'mix'))).toBeLessThan(DEFAULT_DRIFT_THRESHOLD);
    expect(steady.verdicts.every((v) => !v.mix.drifting)).toBe(true);
    const v = judge(drifting.state, older.threshold, older.baseline);
    expect(v).toMatchObject({ drifting: true, expected: 'training_mix', topFeature: 'mean_g' });
    expect(drifting.verdicts.findIndex((x) => x.mix.drifting)).toBeGreaterThan(0);
  });
});
