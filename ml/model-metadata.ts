// The metadata_props an edgeseal vibration model carries, so a manifest (issue 9 item 3) and
// the drift check (item 6) can be built from the .onnx file alone. Values are JSON strings.

import type { TrainingDistribution } from './feature-stats.ts';

export const METADATA_KEYS = Object.freeze({
  /** JSON array: class names, in output column order. */
  classes: 'edgeseal.classes',
  /** JSON array: feature names, in input column order. */
  features: 'edgeseal.features',
  /**
   * JSON: TrainingDistribution (mean, std, min, max, deciles per feature; n; byClass: per class,
   * the share of its training windows in each decile bin of each feature).
   */
  trainingDistribution: 'edgeseal.training_distribution',
  /** JSON: the window the features are computed on ({ sampleRate, length, extractor }). */
  window: 'edgeseal.window',
  /** JSON: how the model was trained (seed, sizes, epochs, ignored features). */
  training: 'edgeseal.training',
  /** JSON, large models only: { sizeMb, layers, width, seed } of the no-op padding branch. */
  padding: 'edgeseal.padding',
});

export interface ModelMetadata {
  classes: string[];
  features: string[];
  trainingDistribution: TrainingDistribution;
  window: { sampleRate: number; length: number; extractor: string };
  training: Record<string, unknown>;
  padding?: { sizeMb: number; layers: number; width: number; seed: number };
}

export function encodeMetadata(m: ModelMetadata): Record<string, string> {
  const out: Record<string, string> = {
    [METADATA_KEYS.classes]: JSON.stringify(m.classes),
    [METADATA_KEYS.features]: JSON.stringify(m.features),
    [METADATA_KEYS.trainingDistribution]: JSON.stringify(m.trainingDistribution),
    [METADATA_KEYS.window]: JSON.stringify(m.window),
    [METADATA_KEYS.training]: JSON.stringify(m.training),
  };
  if (m.padding) out[METADATA_KEYS.padding] = JSON.stringify(m.padding);
  return out;
}

export function decodeMetadata(props: Record<string, string>): ModelMetadata {
  const read = (key: string): unknown => {
    const v = props[key];
    if (v === undefined) throw new TypeError(`model metadata lacks ${key}`);
    return JSON.parse(v);
  };
  const m: ModelMetadata = {
    classes: read(METADATA_KEYS.classes) as string[],
    features: read(METADATA_KEYS.features) as string[],
    trainingDistribution: read(METADATA_KEYS.trainingDistribution) as TrainingDistribution,
    window: read(METADATA_KEYS.window) as ModelMetadata['window'],
    training: read(METADATA_KEYS.training) as Record<string, unknown>,
  };
  if (props[METADATA_KEYS.padding] !== undefined)
    m.padding = read(METADATA_KEYS.padding) as ModelMetadata['padding'];
  return m;
}
