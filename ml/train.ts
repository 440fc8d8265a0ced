// Trains the vibration classifier on generated data and evaluates it: standardisation
// constants from the training set (its distribution summary), then the MLP of ml/mlp.ts by
// mini-batch Adam on softmax cross-entropy, then precision/recall on a held-out set generated
// from another seed, and on the field scenarios of ml/field.ts. Pure: the seed fixes every
// number, and the clock comes in as an argument only to report durations.

import { type Dataset, makeDataset } from './dataset.ts';
import { FEATURE_COUNT, FEATURE_NAMES, summarizeFeatures, type TrainingDistribution } from './features.ts';
import { FIELD_SCENARIOS } from './field.ts';
import { classificationMetrics, type Metrics } from './metrics.ts';
import { forward, type Mlp, softmaxInto } from './mlp.ts';
import { createRng, type Rng } from './prng.ts';
import { CLASSES } from './signal.ts';

export interface TrainOptions {
  seed: number;
  trainPerClass: number;
  testPerClass: number;
  /** Windows per class in each field scenario; 0 skips them. */
  fieldPerClass: number;
  hidden: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  weightDecay: number;
  /**
   * Features the classifier must not use (their first-layer weights are held at zero). They stay
   * in the vector for the drift check. Default mean_g: an accelerometer's DC level says nothing
   * about the machine, and an offset drift would otherwise move every prediction.
   */
  ignoredFeatures: readonly string[];
}

export const TRAIN_DEFAULTS: Readonly<TrainOptions> = Object.freeze({
  seed: 20261202,
  trainPerClass: 2000,
  testPerClass: 500,
  fieldPerClass: 250,
  hidden: 32,
  epochs: 40,
  batchSize: 64,
  learningRate: 0.003,
  weightDecay: 1e-4,
  ignoredFeatures: Object.freeze(['mean_g']),
});

export interface TrainingResult {
  model: Mlp;
  distribution: TrainingDistribution;
  heldOut: Metrics;
  field: { name: string; description: string; metrics: Metrics }[];
  /** Training loss (mean cross-entropy) after each epoch. */
  losses: number[];
  options: TrainOptions;
  counts: { train: number; heldOut: number; refused: number };
  seconds: { generate: number; train: number; evaluate: number };
}

export function runTraining(
  partial: Partial<TrainOptions> = {},
  now: () => number = () => 0,
): TrainingResult {
  const options = { ...TRAIN_DEFAULTS, ...partial };
  // Separate streams (seed, seed+1, …) so the held-out set never shares a window with training.
  const t0 = now();
  const train = makeDataset(createRng(options.seed), options.trainPerClass);
  const test = makeDataset(createRng(options.seed + 1), options.testPerClass);
  const t1 = now();
  // with the labels: each class's share of every decile bin, the drift check's per-class baseline
  const distribution = summarizeFeatures(train.x, FEATURE_NAMES, train.y, CLASSES);
  const { model, losses } = trainMlp(train, distribution, options, createRng(options.seed + 2));
  const t2 = now();
  const heldOut = evaluate(model, test);
  let refused = train.refused + test.refused;
  const field = options.fieldPerClass
    ? FIELD_SCENARIOS.map((s, i) => {
        const data = makeDataset(createRng(options.seed + 10 + i), options.fieldPerClass, s.spec);
        refused += data.refused;
        return { name: s.name, description: s.description, metrics: evaluate(model, data) };
      })
    : [];
  const t3 = now();
  return {
    model,
    distribution,
    heldOut,
    field,
    losses,
    options,
    counts: { train: train.n, heldOut: test.n, refused },
    seconds: { generate: (t1 - t0) / 1000, train: (t2 - t1) / 1000, evaluate: (t3 - t2) / 1000 },
  };
}

export function evaluate(model: Mlp, data: Dataset): Metrics {
  return classificationMetrics(data.y, forward(model, data.x, data.n).labels, CLASSES);
}

/** Mini-batch Adam on softmax cross-entropy with L2 weight decay; cosine learning-rate decay. */
export function trainMlp(
  data: Dataset,
  distribution: TrainingDistribution,
  o: TrainOptions,
  rng: Rng,
): { model: Mlp; losses: number[] } {
  const d = FEATURE_COUNT;
  const h = o.hidden;
  const k = CLASSES.length;
  const mean = Float32Array.from(distribution.features, (f) => f.mean);
  // A feature constant over the training set would divide by zero: leave it unscaled.
  const std = Float32Array.from(distribution.features, (f) => (f.std > 1e-9 ? f.std : 1));
  const z = new Float64Array(data.n * d);
  for (let i = 0; i < z.length; i++) z[i] = (data.x[i]! - mean[i % d]!) / std[i % d]!;

  const ignored = new Set(o.ignoredFeatures.map((name) => FEATURE_NAMES.indexOf(name)));
  if (ignored.has(-1))
    throw new TypeError(`unknown feature in ignoredFeatures: ${o.ignoredFeatures.join(', ')}`);
  for (let i = 0; i < z.length; i++) if (ignored.has(i % d)) z[i] = 0;
  // An ignored input's row starts at zero and its gradient is zero (its input is), so it stays zero.
  const w1 = Float64Array.from({ length: d * h }, (_, i) =>
    ignored.has(Math.floor(i / h)) ? 0 : rng.gauss() * Math.sqrt(2 / d),
  );
  const b1 = new Float64Array(h);
  const w2 = Float64Array.from({ length: h * k }, () => rng.gauss() * Math.sqrt(1 / h));
  const b2 = new Float64Array(k);
  const params = [w1, b1, w2, b2];
  const decay = [true, false, true, false];
  const grads = params.map((p) => new Float64Array(p.length));
  const m1 = params.map((p) => new Float64Array(p.length));
  const m2 = params.map((p) => new Float64Array(p.length));
  const [gw1, gb1, gw2, gb2] = grads as [Float64Array, Float64Array, Float64Array, Float64Array];

  const order = Int32Array.from({ length: data.n }, (_, i) => i);
  const pre = new Float64Array(h);
  const act = new Float64Array(h);
  const logits = new Float64Array(k);
  const p = new Float64Array(k);
  const dh = new Float64Array(h);
  const losses: number[] = [];
  let step = 0;
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const lr = o.learningRate * 0.5 * (1 + Math.cos((Math.PI * epoch) / o.epochs));
    let loss = 0;
    for (let start = 0; start < order.length; start += o.batchSize) {
      const end = Math.min(order.length, start + o.batchSize);
      for (const g of grads) g.fill(0);
      for (let b = start; b < end; b++) {
        const r = order[b]!;
        const zr = r * d;
        for (let j = 0; j < h; j++) {
          let s = b1[j]!;
          for (let i = 0; i < d; i++) s += z[zr + i]! * w1[i * h + j]!;
          pre[j] = s;
          act[j] = Math.max(s, 0);
        }
        for (let c = 0; c < k; c++) {
          let s = b2[c]!;
          for (let j = 0; j < h; j++) s += act[j]! * w2[j * k + c]!;
          logits[c] = s;
        }
        softmaxInto(logits, p, 0);
        const y = data.y[r]!;
        loss -= Math.log(Math.max(p[y]!, 1e-12));
        p[y]! -= 1; // p is now dLoss/dlogits
        for (let c = 0; c < k; c++) gb2[c]! += p[c]!;
        for (let j = 0; j < h; j++) {
          let s = 0;
          for (let c = 0; c < k; c++) {
            gw2[j * k + c]! += act[j]! * p[c]!;
            s += w2[j * k + c]! * p[c]!;
          }
          dh[j] = pre[j]! > 0 ? s : 0;
        }
        for (let j = 0; j < h; j++) {
          if (dh[j] === 0) continue;
          gb1[j]! += dh[j]!;
          for (let i = 0; i < d; i++) gw1[i * h + j]! += z[zr + i]! * dh[j]!;
        }
      }
      step++;
      const scale = 1 / (end - start);
      const c1 = 1 - 0.9 ** step;
      const c2 = 1 - 0.999 ** step;
      for (let q = 0; q < params.length; q++) {
        const w = params[q]!;
        const g = grads[q]!;
        const a = m1[q]!;
        const v = m2[q]!;
        for (let i = 0; i < w.length; i++) {
          const gi = g[i]! * scale + (decay[q] ? o.weightDecay * w[i]! : 0);
          a[i] = 0.9 * a[i]! + 0.1 * gi;
          v[i] = 0.999 * v[i]! + 0.001 * gi * gi;
          w[i]! -= (lr * (a[i]! / c1)) / (Math.sqrt(v[i]! / c2) + 1e-8);
        }
      }
    }
    losses.push(loss / data.n);
  }
  const f32 = (a: Float64Array) => Float32Array.from(a);
  return {
    model: {
      inputs: d,
      hidden: h,
      outputs: k,
      mean,
      std,
      w1: f32(w1),
      b1: f32(b1),
      w2: f32(w2),
      b2: f32(b2),
    },
    losses,
  };
}
