// The training distribution of each feature, as the control plane's drift check will need it:
// mean and standard deviation (also the model's standardisation constants), min/max, and the
// decile edges (10th..90th percentiles), which split the training set into ten equal-mass bins
// for a population stability index or a binned KS distance. JSON-serialisable as it stands.

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

export interface TrainingDistribution {
  /** Windows the summary was computed on. */
  n: number;
  features: FeatureSummary[];
}

/** Summary of `rows` (n × names.length, row-major). */
export function summarizeFeatures(rows: ArrayLike<number>, names: readonly string[]): TrainingDistribution {
  const d = names.length;
  const n = Math.floor(rows.length / d);
  if (n < 2 || rows.length !== n * d)
    throw new TypeError('rows must hold at least two complete feature vectors');
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
  return { n, features };
}
