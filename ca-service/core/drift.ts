// Input drift, pure: the population stability index (PSI) of each feature between what a
// device has seen lately and what its model's training data says it should have seen.
//
// Devices report, per feature, a histogram over the training set's decile edges (ten bins
// that held 10 % of the training windows each). A device's recent picture is an exponentially
// decayed sum of its histograms: each new message's counts are added after the previous sum
// is multiplied by λ = 1 − 1/K, so a message's weight halves every ~0.69·K messages and the
// sum holds about K messages' worth of windows (K = EDGESEAL_DRIFT_WINDOW_MESSAGES). Unlike
// "the last K messages" this needs no history: one vector per feature is the whole state.
// The labels the model gave those windows (the message's `inference.counts`) are summed the
// same way, so the sums and the label counts always describe the same decayed window.
//
// What the device is compared with. The training set is an even mix of the machine states
// (normal, bearing_wear, imbalance, looseness), and its deciles describe that mix; a healthy
// machine is in one state, and against the mix it scores a PSI above 3 on some feature —
// every device would be "drifting". So a model that ships per-class bin proportions (its
// manifest's `drift.training_distribution.byClass`: the share of each class's training
// windows in each decile bin) is compared with the mixture its own inferences imply:
//
//   e(bin) = Σ_c w_c · p_c(bin),   w_c = the device's (decayed) share of windows labelled c
//
// A device whose inputs look like training data of the states its model says it saw scores
// near 0 whichever states those are, and a state change (normal → bearing_wear, labelled so)
// moves the expected histogram with the observed one. A sensor that drifts moves its inputs
// away from what its labels imply (an offset moves mean_g, which the classifier ignores; a
// gain or a frequency shift moves amplitudes and bands within the labelled class). What this
// cannot see: a drift that turns one state's inputs into another state's so completely that
// the model labels them as that state, all features included. A model without per-class
// proportions (exported before them), or a device that has sent no labels yet, is compared
// with the training mix itself: 10 % per bin, the behaviour before.
//
//   PSI = Σ_bins (a − e) · ln(a / e)
//
// with a the device's proportion, e the expected one. An empty bin would make ln(a/e)
// infinite, so every bin gets a pseudo-count of SMOOTHING windows (additive smoothing) before
// the proportions are taken, on both sides: the expected proportions are smoothed as the
// expected counts of the same number of windows would be, so a bin no training window of the
// labelled classes reached costs nothing while the device has none there either, and a
// device exactly on its expectation scores 0. (For 10 % per bin this changes nothing.) With n
// windows the PSI of a device that matches its expectation is about (B − 1)/n per feature at
// most (it behaves like χ²/n, with fewer degrees of freedom when a class fills fewer bins),
// and the verdict takes the largest of 16, so none is given before MIN_WINDOWS windows
// (decayed) back it: measured on the generator's training mixture against 10 % per bin, the
// largest of 16 PSIs over 150 windows has median 0.12 and 99th percentile 0.21, under the
// customary 0.25 (over 100 windows, 6 % passed it); against the labelled classes (the shipped
// model's own labels), 100 devices in each single state and 100 on the training mix have
// medians 0.10–0.11 and maxima 0.16–0.21 over 150 windows. The window count is decayed like
// the sums, which understates the evidence (the effective sample size of a decayed sum is
// larger than its weight), so this errs on the quiet side.
//
// Reading PSI (the credit-scoring convention the threshold comes from): < 0.1 no shift,
// 0.1–0.25 a moderate one, > 0.25 a significant one.

export const DEFAULT_DRIFT_THRESHOLD = 0.25;
export const DEFAULT_DRIFT_WINDOW_MESSAGES = 30;
/** pseudo-count added to every bin (windows) */
export const SMOOTHING = 0.5;
/** windows of evidence (decayed) before a device can be called drifting */
export const MIN_WINDOWS = 150;
/** the most classes a manifest's per-class proportions, or a state's label sums, may name */
const MAX_CLASSES = 64;
/** a label whose decayed count falls below this (windows) is dropped from the state */
const FORGOTTEN = 1e-3;

export interface DriftState {
  /** feature names, in the order of `sums` */
  readonly features: readonly string[];
  /** decayed histogram sums, one row of B bins per feature */
  readonly sums: readonly (readonly number[])[];
  /** decayed number of windows behind the sums (the same for every feature) */
  readonly windows: number;
  /** messages folded in */
  readonly messages: number;
  /** decayed number of windows the model gave each label (the messages' `inference.counts`) */
  readonly labels: Readonly<Record<string, number>>;
}

/**
 * Each class's training windows over the decile bins, from a release's manifest: per class,
 * per feature (in `features` order), the proportion in each bin.
 */
export interface ClassBaseline {
  readonly features: readonly string[];
  readonly classes: readonly {
    readonly name: string;
    readonly proportions: readonly (readonly number[])[];
  }[];
}

/** What a release's manifest says about drift. */
export interface DriftSettings {
  readonly threshold: number;
  /** per-class bin proportions, or null (an older model): compare with the training mix */
  readonly baseline: ClassBaseline | null;
}

/**
 * What the device was compared with: the mixture of the classes its model labelled
 * (`labelled_classes`), or the training set's own mix, 10 % per decile bin (`training_mix`:
 * no per-class proportions in the manifest, or no labels from the device yet).
 */
export type DriftExpectation = 'labelled_classes' | 'training_mix';

export interface DriftVerdict {
  readonly statistic: 'psi';
  /** the largest per-feature PSI, or null while there is too little evidence */
  readonly score: number | null;
  readonly drifting: boolean;
  readonly threshold: number;
  /** the feature with the largest PSI */
  readonly topFeature: string | null;
  /** per-feature PSI, in `features` order */
  readonly perFeature: readonly number[];
  readonly windows: number;
  /** too few windows for a verdict */
  readonly warmingUp: boolean;
  readonly expected: DriftExpectation;
  /** the class shares w_c the expected histograms were mixed with (labelled_classes only) */
  readonly classShares: Readonly<Record<string, number>> | null;
}

/**
 * PSI of observed bin counts against expected proportions (default: uniform). Both sides get
 * `smoothing` pseudo-windows per bin: the expected proportions as the expected counts of the
 * same number of windows would, so a bin empty on both sides adds nothing and an exact match
 * scores 0. Expected proportions are normalised to sum to 1.
 */
export function psi(counts: readonly number[], expected?: readonly number[], smoothing = SMOOTHING): number {
  const b = counts.length;
  if (b < 2) throw new TypeError('psi needs at least two bins');
  if (expected && expected.length !== b) throw new TypeError('expected proportions need one per bin');
  let total = 0;
  for (const c of counts) {
    if (!(c >= 0) || !Number.isFinite(c)) throw new TypeError('bin counts must be finite and non-negative');
    total += c;
  }
  let mass = 1;
  if (expected) {
    mass = 0;
    for (const e of expected) {
      if (!(e >= 0) || !Number.isFinite(e))
        throw new TypeError('expected proportions must be finite and non-negative');
      mass += e;
    }
    if (!(mass > 0)) throw new TypeError('expected proportions must not all be zero');
  }
  const denom = total + smoothing * b;
  if (denom <= 0) return 0;
  let sum = 0;
  for (let i = 0; i < b; i++) {
    const a = (counts[i]! + smoothing) / denom;
    const p = expected ? expected[i]! / mass : 1 / b;
    const e = (total * p + smoothing) / denom;
    if (a === e) continue;
    sum += e > 0 ? (a - e) * Math.log(a / e) : Number.POSITIVE_INFINITY;
  }
  return sum;
}

/** The bin of `value` among ascending `edges` (B − 1 edges make B bins; an edge opens its bin). */
export function binOf(value: number, edges: readonly number[]): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (value >= edges[mid]!) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Histograms of `rows` (one feature vector each) over per-feature `edges`. */
export function histograms(
  rows: readonly ArrayLike<number>[],
  edges: readonly (readonly number[])[],
): number[][] {
  const out = edges.map((e) => new Array<number>(e.length + 1).fill(0));
  for (const r of rows) {
    for (let j = 0; j < edges.length; j++) {
      const v = r[j]!;
      if (Number.isFinite(v)) out[j]![binOf(v, edges[j]!)]! += 1;
    }
  }
  return out;
}

/** λ for a window of K messages */
export const decayFor = (windowMessages: number): number => {
  if (!(windowMessages >= 1)) throw new TypeError('the drift window is at least one message');
  return 1 - 1 / windowMessages;
};

/**
 * Folds one message's histograms, and the labels its model gave the same windows (its
 * `inference.counts`; none when it carried no inference), into the state. A different feature
 * list or bin count (another model), or a state saved before labels were summed, starts a
 * fresh state: the sums and the label counts must cover the same windows.
 */
export function accumulate(
  prev: DriftState | undefined,
  features: readonly string[],
  hist: readonly (readonly number[])[],
  windowMessages: number,
  labels: Readonly<Record<string, number>> = {},
): DriftState {
  const lambda = decayFor(windowMessages);
  const same =
    prev !== undefined &&
    (prev as { labels?: unknown }).labels !== undefined &&
    prev.features.length === features.length &&
    prev.features.every((f, i) => f === features[i]) &&
    prev.sums.every((row, i) => row.length === hist[i]!.length);
  const windows = hist[0]?.reduce((s, c) => s + c, 0) ?? 0;
  const fresh: Record<string, number> = {};
  for (const [k, v] of Object.entries(labels)) if (v > 0 && Number.isFinite(v)) fresh[k] = v;
  if (!same)
    return { features: [...features], sums: hist.map((r) => [...r]), windows, messages: 1, labels: fresh };
  let decayed: Record<string, number> = {};
  for (const [k, v] of Object.entries(prev.labels)) if (v * lambda >= FORGOTTEN) decayed[k] = v * lambda;
  for (const [k, v] of Object.entries(fresh)) decayed[k] = (decayed[k] ?? 0) + v;
  // a device that names ever new labels cannot grow its state: the heaviest MAX_CLASSES stay
  const entries = Object.entries(decayed);
  if (entries.length > MAX_CLASSES)
    decayed = Object.fromEntries(entries.sort((a, b) => b[1] - a[1]).slice(0, MAX_CLASSES));
  return {
    features: prev.features,
    sums: prev.sums.map((row, i) => row.map((s, k) => s * lambda + hist[i]![k]!)),
    windows: prev.windows * lambda + windows,
    messages: prev.messages + 1,
    labels: decayed,
  };
}

/**
 * The expected bin proportions of each of the state's features: the baseline's classes mixed
 * by the device's label shares. Null when there is nothing to mix (no baseline, or no label
 * of a baseline class yet); a feature the baseline lacks, or bins it counts differently, gets
 * null (compared with the training mix).
 */
export function expectedProportions(
  state: DriftState,
  baseline: ClassBaseline | null | undefined,
): { shares: Record<string, number>; perFeature: (number[] | null)[] } | null {
  if (!baseline) return null;
  let total = 0;
  for (const c of baseline.classes) total += state.labels?.[c.name] ?? 0;
  if (!(total > 0)) return null;
  const shares: Record<string, number> = {};
  for (const c of baseline.classes) shares[c.name] = (state.labels?.[c.name] ?? 0) / total;
  const at = new Map(baseline.features.map((f, j) => [f, j]));
  const perFeature = state.features.map((f, i) => {
    const j = at.get(f);
    const bins = state.sums[i]!.length;
    if (j === undefined || baseline.classes.some((c) => c.proportions[j]?.length !== bins)) return null;
    const e = new Array<number>(bins).fill(0);
    for (const c of baseline.classes) {
      const w = shares[c.name]!;
      if (w > 0) for (let k = 0; k < bins; k++) e[k]! += w * c.proportions[j]![k]!;
    }
    return e.some((x) => x > 0) ? e : null;
  });
  return { shares, perFeature };
}

/**
 * The verdict on a state: the largest per-feature PSI against the threshold. With a
 * per-class `baseline` (and labels to weigh it by), each feature is compared with the mixture
 * of its classes the device's labels imply; otherwise with 10 % per decile bin.
 */
export function judge(
  state: DriftState,
  threshold = DEFAULT_DRIFT_THRESHOLD,
  baseline?: ClassBaseline | null,
): DriftVerdict {
  const mix = expectedProportions(state, baseline);
  const perFeature = state.sums.map((row, i) => psi(row, mix?.perFeature[i] ?? undefined));
  let top = -1;
  for (let i = 0; i < perFeature.length; i++) if (top < 0 || perFeature[i]! > perFeature[top]!) top = i;
  const warmingUp = state.windows < MIN_WINDOWS || top < 0;
  const score = warmingUp ? null : perFeature[top]!;
  return {
    statistic: 'psi',
    score,
    drifting: score !== null && score > threshold,
    threshold,
    topFeature: top < 0 ? null : state.features[top]!,
    perFeature,
    windows: state.windows,
    warmingUp,
    expected: mix ? 'labelled_classes' : 'training_mix',
    classShares: mix ? mix.shares : null,
  };
}

/**
 * The threshold a release's manifest sets (`drift: { statistic: "psi", threshold }`), or the
 * default when it names none, names another statistic, or names a nonsensical value.
 */
export function thresholdOf(drift: unknown): number {
  if (!drift || typeof drift !== 'object') return DEFAULT_DRIFT_THRESHOLD;
  const d = drift as { statistic?: unknown; threshold?: unknown };
  if (d.statistic !== undefined && d.statistic !== 'psi') return DEFAULT_DRIFT_THRESHOLD;
  const t = d.threshold;
  return typeof t === 'number' && Number.isFinite(t) && t > 0 ? t : DEFAULT_DRIFT_THRESHOLD;
}

/**
 * The per-class bin proportions of a manifest's drift section
 * (`training_distribution: { features: [{ name, … }], byClass: [{ name, proportions }] }`, as
 * `edgeseal model package` copies it from the model), or null when it has none or they do not
 * add up (one row of ≥ 2 finite, non-negative proportions with a positive sum per feature per
 * class, distinct class names): the check then falls back to the training mix.
 */
export function classBaselineOf(drift: unknown): ClassBaseline | null {
  if (!drift || typeof drift !== 'object') return null;
  const td = (drift as { training_distribution?: unknown }).training_distribution;
  if (!td || typeof td !== 'object') return null;
  const { features, byClass } = td as { features?: unknown; byClass?: unknown };
  if (!Array.isArray(features) || !features.length || !Array.isArray(byClass)) return null;
  if (!byClass.length || byClass.length > MAX_CLASSES) return null;
  const names = features.map((f) =>
    f && typeof f === 'object' ? (f as { name?: unknown }).name : undefined,
  );
  if (!names.every((n): n is string => typeof n === 'string')) return null;
  const classes: { name: string; proportions: number[][] }[] = [];
  for (const c of byClass) {
    if (!c || typeof c !== 'object') return null;
    const { name, proportions } = c as { name?: unknown; proportions?: unknown };
    if (typeof name !== 'string' || !name || classes.some((x) => x.name === name)) return null;
    if (!Array.isArray(proportions) || proportions.length !== names.length) return null;
    const rows: number[][] = [];
    for (const row of proportions) {
      if (!Array.isArray(row) || row.length < 2) return null;
      if (!row.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0)) return null;
      const sum = (row as number[]).reduce((s, x) => s + x, 0);
      if (!(sum > 0)) return null;
      rows.push((row as number[]).map((x) => x / sum));
    }
    classes.push({ name, proportions: rows });
  }
  return { features: names, classes };
}

/** Everything a release's manifest says about drift (its threshold, its per-class baseline). */
export function driftSettingsOf(drift: unknown): DriftSettings {
  return { threshold: thresholdOf(drift), baseline: classBaselineOf(drift) };
}
