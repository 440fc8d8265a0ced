// Labelled feature sets generated from the signal generator: perClass windows of each class,
// interleaved, each turned into its feature vector. Windows the extractor refuses (too many
// dropped samples) are counted and left out.

import { extractFeatures, FEATURE_COUNT, FeatureError } from './features.ts';
import type { Rng } from './prng.ts';
import { CLASSES, generateWindow, type SignalOptions } from './signal.ts';

export interface Dataset {
  /** n × FEATURE_COUNT raw features, row-major. */
  x: Float32Array;
  /** Class index into CLASSES. */
  y: Int32Array;
  n: number;
  /** Windows refused by the feature extractor. */
  refused: number;
}

/** Signal options for one window: fixed, or drawn per window (field conditions vary). */
export type SignalSpec = SignalOptions | ((rng: Rng) => SignalOptions);

export function makeDataset(rng: Rng, perClass: number, spec: SignalSpec = {}): Dataset {
  const total = perClass * CLASSES.length;
  const x = new Float32Array(total * FEATURE_COUNT);
  const y = new Int32Array(total);
  let n = 0;
  let refused = 0;
  for (let i = 0; i < perClass; i++) {
    for (let c = 0; c < CLASSES.length; c++) {
      const options = typeof spec === 'function' ? spec(rng) : spec;
      const window = generateWindow(CLASSES[c]!, rng, options);
      try {
        x.set(
          extractFeatures(window, { sampleRate: options.sampleRate ?? 2048 }).features,
          n * FEATURE_COUNT,
        );
        y[n++] = c;
      } catch (e) {
        if (!(e instanceof FeatureError)) throw e;
        refused++;
      }
    }
  }
  return { x: x.subarray(0, n * FEATURE_COUNT), y: y.subarray(0, n), n, refused };
}
