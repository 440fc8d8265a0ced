// The training distribution of each feature, as the control plane's drift check needs it:
// mean and standard deviation (also the model's standardisation constants), min/max, the
// decile edges (10th..90th percentiles), which split the training set into ten equal-mass bins
// for a population stability index or a binned KS distance, and — given the labels — the
// share of each class's training windows in each of those ten bins. JSON-serialisable as it
// stands.
//
// Why per class: the training set is an even mix of the classes, so its deciles describe that
// mix, not any one machine. A healthy device sees one state (a normal machine, or one with a
// bearing fault), and against the mix it looks shifted on every feature. The drift check
// instead builds each device's expected histogram from the classes its model says it saw:
// Σ_c w_c · p_c(bin). The bins stay the global decile edges, so devices bin as before.

export interface FeatureSummary {
  name: string;
  mean: number;
  /** Population standard deviation. */
  std: number;
  min: number;
  max: number;
  /** 9 edges: the 10th, 20th, …, 90th percentiles (linear interpolation between order statistics). */
  deciles: number[];
}

/** One class's training windows over the decile bins. */
export interface ClassBins {
  /** The class name (as in `edgeseal.classes`). */
  name: string;
  /** Training windows of this class. */
  n: number;
  /**
   * Per feature (in `features` order), 10 proportions summing to 1: the share of this class's
   * windows in each bin of that feature's decile edges (bin k holds edge[k−1] ≤ x < edge[k]).
   */
  proportions: number[][];
}

export interface TrainingDistribution {
  /** Windows the summary was computed on. */
  n: number;
  features: FeatureSummary[];
  /** Per class, its windows' proportions in each decile bin; absent from models exported before. */
  byClass?: ClassBins[];
}

/** The bin of `value` among ascending `edges`: the number of edges ≤ value (the device's rule). */
export function decileBin(value: number, edges: readonly number[]): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (value >= edges[mid]!) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** ~9 significant digits: exact for shares of a few thousand windows, and a shorter file. */
const share = (count: number, n: number): number => (n > 0 ? Number((count / n).toPrecision(9)) : 0);

/**
 * Summary of `rows` (n × names.length, row-major). With `labels` (a class index per row) and
 * `classNames`, also the per-class bin proportions (`byClass`).
 */
export function summarizeFeatures(
  rows: ArrayLike<number>,
  names: readonly string[],
  labels?: ArrayLike<number>,
  classNames?: readonly string[],
): TrainingDistribution {
  const d = names.length;
  const n = Math.floor(rows.length / d);
  if (n < 2 || rows.length !== n * d)
    throw new TypeError('rows must hold at least two complete feature vectors');
  if ((labels === undefined) !== (classNames === undefined))
    throw new TypeError('labels and classNames come together');
  if (labels && labels.length !== n) throw new TypeError('labels need one class index per row');
  const col = new Float64Array(n);
  const features = names.map((name, j) => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      col[i] = rows[i * d + j]!;
      sum += col[i]!;
    }
    const mean = sum / n;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += (col[i]! - mean) ** 2;
    const sorted = col.slice().sort();
    const at = (q: number): number => {
      const pos = q * (n - 1);
      const lo = Math.floor(pos);
      const hi = Math.min(n - 1, lo + 1);
      return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
    };
    return {
      name,
      mean,
      std: Math.sqrt(ss / n),
      min: sorted[0]!,
      max: sorted[n - 1]!,
      deciles: [1, 2, 3, 4, 5, 6, 7, 8, 9].map((k) => at(k / 10)),
    };
  });
  if (!labels || !classNames) return { n, features };
  const counts = classNames.map(() => features.map((f) => new Array<number>(f.deciles.length + 1).fill(0)));
  const perClass = classNames.map(() => 0);
  for (let i = 0; i < n; i++) {
    const c = labels[i]!;
    if (!Number.isInteger(c) || c < 0 || c >= classNames.length)
      throw new TypeError(`label ${c} is not an index into classNames`);
    perClass[c]!++;
    for (let j = 0; j < d; j++) counts[c]![j]![decileBin(rows[i * d + j]!, features[j]!.deciles)]!++;
  }
  const byClass = classNames.map((name, c) => ({
    name,
    n: perClass[c]!,
    proportions: counts[c]!.map((row) => row.map((k) => share(k, perClass[c]!))),
  }));
  return { n, features, byClass };
}
