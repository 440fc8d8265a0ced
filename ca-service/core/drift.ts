// Input drift, pure: the population stability index (PSI) of each feature between what a
// device has seen lately and its model's training distribution.
//
// Devices report, per feature, a histogram over the training set's decile edges (ten bins
// that held 10 % of the training windows each), so the expected proportion of every bin is
// 1/B. A device's recent picture is an exponentially decayed sum of its histograms: each new
// message's counts are added after the previous sum is multiplied by λ = 1 − 1/K, so a
// message's weight halves every ~0.69·K messages and the sum holds about K messages' worth
// of windows (K = EDGESEAL_DRIFT_WINDOW_MESSAGES). Unlike "the last K messages" this needs
// no history: one vector per feature is the whole state.
//
//   PSI = Σ_bins (a − e) · ln(a / e)
//
// with a the device's proportion, e the training's. An empty bin would make ln(a/e) infinite,
// so every bin gets a pseudo-count of SMOOTHING windows (additive smoothing) before the
// proportions are taken. With n windows the PSI of a device that matches the training
// distribution is about (B − 1)/n per feature (it behaves like χ²/n), and the verdict takes
// the largest of 16, so none is given before MIN_WINDOWS windows (decayed) back it: measured
// on the generator's training mixture, the largest of 16 PSIs over 150 windows has median
// 0.12 and 99th percentile 0.21, under the customary 0.25 (over 100 windows, 6 % passed it).
// The window count is decayed like the sums, which understates the evidence (the effective
// sample size of a decayed sum is larger than its weight), so this errs on the quiet side.
//
// Reading PSI (the credit-scoring convention the threshold comes from): < 0.1 no shift,
// 0.1–0.25 a moderate one, > 0.25 a significant one.

export const DEFAULT_DRIFT_THRESHOLD = 0.25;
export const DEFAULT_DRIFT_WINDOW_MESSAGES = 30;
/** pseudo-count added to every bin (windows) */
export const SMOOTHING = 0.5;
/** windows of evidence (decayed) before a device can be called drifting */
export const MIN_WINDOWS = 150;

export interface DriftState {
  /** feature names, in the order of `sums` */
  readonly features: readonly string[];
  /** decayed histogram sums, one row of B bins per feature */
  readonly sums: readonly (readonly number[])[];
  /** decayed number of windows behind the sums (the same for every feature) */
  readonly windows: number;
  /** messages folded in */
  readonly messages: number;
}

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
}

/** PSI of observed bin counts against expected proportions (default: uniform). */
export function psi(counts: readonly number[], expected?: readonly number[], smoothing = SMOOTHING): number {
  const b = counts.length;
  if (b < 2) throw new TypeError('psi needs at least two bins');
  if (expected && expected.length !== b) throw new TypeError('expected proportions need one per bin');
  let total = 0;
  for (const c of counts) {
    if (!(c >= 0) || !Number.isFinite(c)) throw new TypeError('bin counts must be finite and non-negative');
    total += c;
  }
  const denom = total + smoothing * b;
  if (denom <= 0) return 0;
  let sum = 0;
  for (let i = 0; i < b; i++) {
    const a = (counts[i]! + smoothing) / denom;
    const e = expected ? expected[i]! : 1 / b;
    if (!(e > 0)) throw new TypeError('expected proportions must be positive');
    sum += (a - e) * Math.log(a / e);
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
 * Folds one message's histograms into the state. A different feature list or bin count
 * (another model) starts a fresh state.
 */
export function accumulate(
  prev: DriftState | undefined,
  features: readonly string[],
  hist: readonly (readonly number[])[],
  windowMessages: number,
): DriftState {
  const lambda = decayFor(windowMessages);
  const same =
    prev !== undefined &&
    prev.features.length === features.length &&
    prev.features.every((f, i) => f === features[i]) &&
    prev.sums.every((row, i) => row.length === hist[i]!.length);
  const windows = hist[0]?.reduce((s, c) => s + c, 0) ?? 0;
  if (!same) return { features: [...features], sums: hist.map((r) => [...r]), windows, messages: 1 };
  return {
    features: prev.features,
    sums: prev.sums.map((row, i) => row.map((s, k) => s * lambda + hist[i]![k]!)),
    windows: prev.windows * lambda + windows,
    messages: prev.messages + 1,
  };
}

/** The verdict on a state: the largest per-feature PSI against the threshold. */
export function judge(state: DriftState, threshold = DEFAULT_DRIFT_THRESHOLD): DriftVerdict {
  const perFeature = state.sums.map((row) => psi(row));
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
