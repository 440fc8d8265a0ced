// What inference saw over one telemetry period, kept as running sums so memory does not grow
// with the period: labels counted per class, class probabilities summed, and for each input
// feature its mean and standard deviation (Welford) and a histogram over the model's training
// decile edges (9 edges → 10 bins: bin k holds edge[k-1] ≤ x < edge[k]), which is what a drift
// statistic (PSI, a binned KS distance) compares with the training set's 10% per bin.

export interface InferenceReport {
  readonly label: string;
  readonly counts: Record<string, number>;
  readonly probabilities: Record<string, number>;
  readonly anomaly: boolean;
}

export interface InputStats {
  readonly features: readonly string[];
  readonly n: number;
  readonly mean: number[];
  readonly std: number[];
  readonly histograms: number[][];
}

/** ~7 significant digits: a float32's worth, and a shorter message. */
const round = (v: number): number => (Number.isFinite(v) ? Number(v.toPrecision(7)) : 0);

/** Bin of `x` among ascending `edges`: the number of edges ≤ x. */
export function binOf(x: number, edges: readonly number[]): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x >= edges[mid]!) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class WindowSummary {
  private n = 0;
  private readonly counts: number[];
  private readonly probSums: Float64Array;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;
  private readonly hist: number[][];

  constructor(
    readonly classes: readonly string[],
    readonly features: readonly string[],
    /** per feature, 9 ascending decile edges of the training set */
    private readonly edges: readonly (readonly number[])[],
  ) {
    this.counts = classes.map(() => 0);
    this.probSums = new Float64Array(classes.length);
    this.mean = new Float64Array(features.length);
    this.m2 = new Float64Array(features.length);
    this.hist = features.map((_, j) => new Array<number>((edges[j]?.length ?? 9) + 1).fill(0));
  }

  get count(): number {
    return this.n;
  }

  /** One inferred window: its label index, its class probabilities, its raw features. */
  add(label: number, probabilities: ArrayLike<number>, features: ArrayLike<number>): void {
    this.n++;
    if (label >= 0 && label < this.counts.length) this.counts[label]!++;
    for (let c = 0; c < this.probSums.length; c++) this.probSums[c]! += probabilities[c] ?? 0;
    for (let j = 0; j < this.mean.length; j++) {
      const x = features[j]!;
      const d = x - this.mean[j]!;
      this.mean[j]! += d / this.n;
      this.m2[j]! += d * (x - this.mean[j]!);
      this.hist[j]![binOf(x, this.edges[j] ?? [])]!++;
    }
  }

  /** The most frequent label (ties: the higher mean probability, then the class order). */
  inference(): InferenceReport | null {
    if (this.n === 0) return null;
    let best = 0;
    for (let c = 1; c < this.counts.length; c++) {
      const more = this.counts[c]! > this.counts[best]!;
      const tie = this.counts[c] === this.counts[best] && this.probSums[c]! > this.probSums[best]!;
      if (more || tie) best = c;
    }
    const counts: Record<string, number> = {};
    const probabilities: Record<string, number> = {};
    this.classes.forEach((name, c) => {
      counts[name] = this.counts[c]!;
      probabilities[name] = round(this.probSums[c]! / this.n);
    });
    const normal = this.classes.indexOf('normal');
    return {
      label: this.classes[best]!,
      counts,
      probabilities,
      anomaly: this.counts.some((k, c) => c !== normal && k > 0),
    };
  }

  inputStats(): InputStats | null {
    if (this.n === 0) return null;
    return {
      features: this.features,
      n: this.n,
      mean: [...this.mean].map(round),
      std: [...this.m2].map((m2) => round(Math.sqrt(m2 / this.n))),
      histograms: this.hist.map((h) => [...h]),
    };
  }
}
