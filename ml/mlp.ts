// The classifier: standardisation, then a two-layer perceptron
//   probabilities = softmax(relu(((x − mean) / std)·W1 + b1)·W2 + b2)
// Weights are float32, the same numbers the ONNX file carries, so this forward pass is the
// reference the exported model is checked against. W1 is [inputs × hidden] and W2 is
// [hidden × outputs], row-major: ONNX Gemm's B without transB.

export interface Mlp {
  inputs: number;
  hidden: number;
  outputs: number;
  mean: Float32Array;
  std: Float32Array;
  w1: Float32Array;
  b1: Float32Array;
  w2: Float32Array;
  b2: Float32Array;
}

export interface Prediction {
  /** n × outputs, row-major. */
  probabilities: Float64Array;
  /** Index of the largest probability (the first on a tie, as ONNX ArgMax). */
  labels: Int32Array;
}

/** Forward pass over n rows of `x` (n × inputs, row-major, raw features). */
export function forward(m: Mlp, x: ArrayLike<number>, n: number): Prediction {
  if (x.length !== n * m.inputs)
    throw new TypeError(`expected ${n} × ${m.inputs} features, got ${x.length} values`);
  const probabilities = new Float64Array(n * m.outputs);
  const labels = new Int32Array(n);
  const z = new Float64Array(m.inputs);
  const h = new Float64Array(m.hidden);
  const o = new Float64Array(m.outputs);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < m.inputs; i++) z[i] = (x[r * m.inputs + i]! - m.mean[i]!) / m.std[i]!;
    hiddenLayer(m, z, h);
    outputLayer(m, h, o);
    softmaxInto(o, probabilities, r * m.outputs);
    const at = r * m.outputs;
    let best = 0;
    for (let k = 1; k < m.outputs; k++) if (probabilities[at + k]! > probabilities[at + best]!) best = k;
    labels[r] = best;
  }
  return { probabilities, labels };
}

export function hiddenLayer(m: Mlp, z: Float64Array, h: Float64Array): void {
  for (let j = 0; j < m.hidden; j++) h[j] = m.b1[j]!;
  for (let i = 0; i < m.inputs; i++) {
    const zi = z[i]!;
    const row = i * m.hidden;
    for (let j = 0; j < m.hidden; j++) h[j]! += zi * m.w1[row + j]!;
  }
  for (let j = 0; j < m.hidden; j++) if (h[j]! < 0) h[j] = 0;
}

export function outputLayer(m: Mlp, h: Float64Array, o: Float64Array): void {
  for (let k = 0; k < m.outputs; k++) o[k] = m.b2[k]!;
  for (let j = 0; j < m.hidden; j++) {
    const hj = h[j]!;
    if (hj === 0) continue;
    const row = j * m.outputs;
    for (let k = 0; k < m.outputs; k++) o[k]! += hj * m.w2[row + k]!;
  }
}

/** Numerically stable softmax of `o` written to out[at..at+o.length). */
export function softmaxInto(o: Float64Array, out: Float64Array, at: number): void {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of o) if (v > max) max = v;
  let sum = 0;
  for (let k = 0; k < o.length; k++) {
    const e = Math.exp(o[k]! - max);
    out[at + k] = e;
    sum += e;
  }
  for (let k = 0; k < o.length; k++) out[at + k]! /= sum;
}
