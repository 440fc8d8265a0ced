import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDataset } from './dataset.ts';
import { FEATURE_NAMES } from './features.ts';
import { FIELD_SCENARIOS } from './field.ts';
import { loadModel, type VibrationModel } from './infer.ts';
import { forward, type Mlp } from './mlp.ts';
import { METADATA_KEYS } from './model-metadata.ts';
import { exportOnnx, padModel, readMetadataProps, readOnnx } from './onnx-export.ts';
import { createRng } from './prng.ts';
import { CLASSES } from './signal.ts';

const committed = new URL('./models/vibration.onnx', import.meta.url);
const stats = new URL('./models/vibration.stats.json', import.meta.url);

/** Inputs the device would feed: clean windows and windows under every field scenario. */
function inputs(): { x: Float32Array; n: number } {
  const parts = [
    makeDataset(createRng(1234), 16),
    ...FIELD_SCENARIOS.map((s, i) => makeDataset(createRng(2000 + i), 4, s.spec)),
  ];
  const x = new Float32Array(parts.reduce((a, p) => a + p.x.length, 0));
  let at = 0;
  for (const p of parts) {
    x.set(p.x, at);
    at += p.x.length;
  }
  return { x, n: x.length / FEATURE_NAMES.length };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

describe('the committed model, ml/models/vibration.onnx', () => {
  const bytes = new Uint8Array(readFileSync(committed));
  let session: VibrationModel;
  let reference: Mlp;
  const { x, n } = inputs();

  beforeAll(async () => {
    reference = readOnnx(bytes).model;
    session = await loadModel(bytes);
  });
  afterAll(() => session.release());

  it('loads from a buffer and matches the TypeScript forward pass to 1e-5', async () => {
    const out = await session.run(x, n);
    const ts = forward(reference, x, n);
    expect(maxAbsDiff(out.probabilities, ts.probabilities)).toBeLessThan(1e-5);
    expect(Array.from(out.labels)).toEqual(Array.from(ts.labels));
    for (let r = 0; r < n; r++) {
      const row = out.probabilities.subarray(r * 4, r * 4 + 4);
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    }
  });

  it('refuses a batch whose size does not match n × 16', async () => {
    await expect(session.run(x.subarray(0, 20), 1)).rejects.toThrow(TypeError);
  });

  it('carries its classes, feature names and training distribution in metadata_props', () => {
    const m = session.metadata;
    expect(m.classes).toEqual([...CLASSES]);
    expect(m.features).toEqual([...FEATURE_NAMES]);
    expect(m.window).toMatchObject({ sampleRate: 2048, length: 2048 });
    expect(m.trainingDistribution.features.map((f) => f.name)).toEqual([...FEATURE_NAMES]);
    for (const f of m.trainingDistribution.features) expect(f.deciles).toHaveLength(9);
    // per class, its training windows' share of each decile bin of each feature (the drift
    // check compares a device with the classes its inferences name, mixed by their shares)
    const byClass = m.trainingDistribution.byClass!;
    expect(byClass.map((c) => c.name)).toEqual([...CLASSES]);
    for (const c of byClass) {
      expect(c.n).toBe(2000);
      expect(c.proportions).toHaveLength(FEATURE_NAMES.length);
      for (const row of c.proportions) {
        expect(row).toHaveLength(10);
        expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
      }
    }
    // the training set is an even mix of the classes: their mean is the deciles' 10 % per bin
    for (let j = 0; j < FEATURE_NAMES.length; j++)
      for (let k = 0; k < 10; k++)
        expect(byClass.reduce((a, c) => a + c.proportions[j]![k]!, 0) / byClass.length).toBeCloseTo(0.1, 3);
    expect(m.padding).toBeUndefined();
    // the standardisation constants in the graph are the distribution's mean and std
    expect(Array.from(reference.mean)).toEqual(
      m.trainingDistribution.features.map((f) => Math.fround(f.mean)),
    );
  });

  it('is the model vibration.stats.json describes', () => {
    const s = JSON.parse(readFileSync(stats, 'utf8'));
    expect(s.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(s.metrics.heldOut.perClass.map((c: { name: string }) => c.name)).toEqual([...CLASSES]);
  });

  it('the size option pads the file (2 MiB here) and changes no output', async () => {
    const large = padModel(bytes, 2);
    expect(large.length).toBeGreaterThanOrEqual(2 * 1024 * 1024);
    const props = readMetadataProps(large);
    expect(JSON.parse(props[METADATA_KEYS.padding]!)).toMatchObject({ sizeMb: 2, width: 512 });
    expect(props[METADATA_KEYS.trainingDistribution]).toBe(
      readMetadataProps(bytes)[METADATA_KEYS.trainingDistribution],
    );
    const padded = await loadModel(large);
    try {
      const a = await session.run(x, n);
      const b = await padded.run(x, n);
      // the padding adds exact zeros to the logits: identical, not merely close
      expect(Array.from(b.probabilities)).toEqual(Array.from(a.probabilities));
      expect(Array.from(b.labels)).toEqual(Array.from(a.labels));
    } finally {
      await padded.release();
    }
  });
});

describe('exportOnnx / readOnnx', () => {
  it('round-trips the weights exactly', () => {
    const { model, metadata } = readOnnx(new Uint8Array(readFileSync(committed)));
    const again = readOnnx(exportOnnx(model, metadata));
    expect(again.model).toEqual(model);
    expect(again.metadata).toEqual(metadata);
  });

  it('refuses a file that is not one of its models', () => {
    expect(() => readOnnx(new Uint8Array(0))).toThrow(/no initializer W1/);
  });
});
