// "Noisy field" conditions the model was not trained on, one effect at a time and all
// together, to show how it degrades. Training data use the generator's defaults (noise 0.05 g,
// shaft speed ±10 %, no drift, no dropped samples). A data table, not a switch: add a row.

import type { SignalSpec } from './dataset.ts';
import type { Rng } from './prng.ts';
import type { SignalOptions } from './signal.ts';

export interface FieldScenario {
  name: string;
  description: string;
  spec: SignalSpec;
}

const drift = (rng: Rng): SignalOptions['drift'] => ({
  gain: rng.uniform(-0.2, 0.2),
  offset: rng.uniform(-0.1, 0.1),
  spectralShift: rng.uniform(-0.05, 0.05),
});

const dropout = (rng: Rng): SignalOptions['dropout'] => ({
  fraction: 0.1,
  meanRun: 32,
  fill: rng.next() < 0.5 ? 'nan' : 'zero',
});

export const FIELD_SCENARIOS: readonly FieldScenario[] = Object.freeze([
  { name: 'noise_x3', description: 'white noise 0.15 g (3× training)', spec: { noise: 0.15 } },
  {
    name: 'drift',
    description: 'gain ±20 %, offset ±0.1 g, spectral shift ±5 % (uniform per window)',
    spec: (rng: Rng) => ({ drift: drift(rng) }),
  },
  {
    name: 'dropouts',
    description: '10 % of samples dropped in runs of ~32 (NaN or zeros, half each)',
    spec: (rng: Rng) => ({ dropout: dropout(rng) }),
  },
  { name: 'speed_25pct', description: 'shaft speed ±25 % (training: ±10 %)', spec: { speedVariation: 0.25 } },
  {
    name: 'combined',
    description: 'all four at once',
    spec: (rng: Rng) => ({ noise: 0.15, speedVariation: 0.25, drift: drift(rng), dropout: dropout(rng) }),
  },
]);
