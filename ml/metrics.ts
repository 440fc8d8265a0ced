// Classification metrics: confusion matrix (rows = true class, columns = predicted), and
// precision, recall and F1 per class.

export interface ClassMetrics {
  name: string;
  support: number;
  precision: number;
  recall: number;
  f1: number;
}

export interface Metrics {
  n: number;
  accuracy: number;
  macroRecall: number;
  macroF1: number;
  /** confusion[true][predicted] */
  confusion: number[][];
  perClass: ClassMetrics[];
}

export function classificationMetrics(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
  names: readonly string[],
): Metrics {
  const k = names.length;
  if (truth.length !== predicted.length) throw new TypeError('truth and predictions differ in length');
  const confusion = names.map(() => new Array<number>(k).fill(0));
  for (let i = 0; i < truth.length; i++) confusion[truth[i]!]![predicted[i]!]!++;
  let correct = 0;
  const perClass = names.map((name, c) => {
    const tp = confusion[c]![c]!;
    correct += tp;
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predictedAs = confusion.reduce((a, row) => a + row[c]!, 0);
    const precision = predictedAs > 0 ? tp / predictedAs : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { name, support, precision, recall, f1 };
  });
  const mean = (f: (m: ClassMetrics) => number) => perClass.reduce((a, m) => a + f(m), 0) / k;
  return {
    n: truth.length,
    accuracy: truth.length > 0 ? correct / truth.length : 0,
    macroRecall: mean((m) => m.recall),
    macroF1: mean((m) => m.f1),
    confusion,
    perClass,
  };
}
