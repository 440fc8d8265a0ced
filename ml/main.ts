// The model's command line (the only file in ml/ that touches the disk or the clock).
//
//   npm run model:train [-- --out-dir ml/models]
//     trains with the fixed seed, evaluates, writes vibration.onnx and vibration.stats.json,
//     prints the metrics.
//   npm run model:large [-- --size-mb 100] [--model ml/models/vibration.onnx] [--out FILE]
//     writes the committed model padded to ≥ size-mb MiB (same outputs) for benchmarks;
//     default <tmpdir>/edgeseal-models/vibration-<N>mb.onnx (never committed; not under
//     .edgeseal/, which `edgeseal up` creates 0700 as the control plane's data directory).

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { FEATURE_EXTRACTOR, FEATURE_NAMES } from './features.ts';
import type { Metrics } from './metrics.ts';
import { encodeMetadata } from './model-metadata.ts';
import { exportOnnx, padModel } from './onnx-export.ts';
import { CLASSES, SIGNAL_DEFAULTS } from './signal.ts';
import { runTraining } from './train.ts';

function train(outDir: string): void {
  const started = performance.now();
  const r = runTraining({}, () => performance.now());
  const { seed, trainPerClass, testPerClass, fieldPerClass, hidden, epochs, batchSize, learningRate } =
    r.options;
  const training = {
    seed,
    trainPerClass,
    testPerClass,
    fieldPerClass,
    hidden,
    epochs,
    batchSize,
    learningRate,
    weightDecay: r.options.weightDecay,
    ignoredFeatures: r.options.ignoredFeatures,
    optimizer: 'adam',
  };
  const metadata = {
    classes: [...CLASSES],
    features: [...FEATURE_NAMES],
    trainingDistribution: r.distribution,
    window: {
      sampleRate: SIGNAL_DEFAULTS.sampleRate,
      length: SIGNAL_DEFAULTS.length,
      extractor: FEATURE_EXTRACTOR,
    },
    training,
  };
  const onnx = exportOnnx(r.model, encodeMetadata(metadata));
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'vibration.onnx'), onnx);
  // No timings in this file: the same seed writes the same bytes, so a retrain shows no diff.
  const stats = {
    model: 'vibration.onnx',
    sha256: createHash('sha256').update(onnx).digest('hex'),
    bytes: onnx.length,
    ...metadata,
    counts: r.counts,
    finalTrainingLoss: r.losses.at(-1),
    metrics: { heldOut: r.heldOut, field: r.field },
  };
  writeFileSync(join(outDir, 'vibration.stats.json'), `${JSON.stringify(stats, null, 2)}\n`);

  printMetrics('held-out (clean, seed+1)', r.heldOut);
  for (const f of r.field) printMetrics(`field: ${f.name} — ${f.description}`, f.metrics);
  const s = r.seconds;
  console.log(
    `\n${r.counts.train} training windows, ${r.counts.heldOut} held out; generate ${s.generate.toFixed(1)} s, ` +
      `train ${s.train.toFixed(1)} s, evaluate ${s.evaluate.toFixed(1)} s, total ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  console.log(`wrote ${join(outDir, 'vibration.onnx')} (${onnx.length} bytes) and vibration.stats.json`);
}

function printMetrics(title: string, m: Metrics): void {
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`.padStart(7);
  console.log(`\n${title}: accuracy ${pct(m.accuracy)}, macro recall ${pct(m.macroRecall)} (n = ${m.n})`);
  console.log(`  ${'class'.padEnd(14)} precision  recall   confusion (predicted: ${CLASSES.join(', ')})`);
  m.perClass.forEach((c, i) => {
    const row = m.confusion[i]!.map((v) => String(v).padStart(5)).join('');
    console.log(`  ${c.name.padEnd(14)} ${pct(c.precision)}  ${pct(c.recall)}  ${row}`);
  });
}

function large(modelPath: string, sizeMb: number, out: string, seed: number): void {
  const started = performance.now();
  const bytes = padModel(readFileSync(modelPath), sizeMb, seed);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, bytes);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `wrote ${out}: ${bytes.length} bytes (${(bytes.length / 2 ** 20).toFixed(1)} MiB) in ${seconds} s`,
  );
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    'out-dir': { type: 'string', default: 'ml/models' },
    'size-mb': { type: 'string', default: '100' },
    model: { type: 'string', default: 'ml/models/vibration.onnx' },
    out: { type: 'string' },
    seed: { type: 'string', default: '1' },
  },
});

const command = positionals[0];
if (command === 'train') {
  train(values['out-dir']);
} else if (command === 'large') {
  const sizeMb = Number(values['size-mb']);
  if (!(sizeMb > 0)) throw new TypeError('--size-mb must be a positive number');
  large(
    values.model,
    sizeMb,
    values.out ?? join(tmpdir(), 'edgeseal-models', `vibration-${sizeMb}mb.onnx`),
    Number(values.seed),
  );
} else {
  console.error('usage: node --import tsx ml/main.ts train [--out-dir DIR]');
  console.error(
    '       node --import tsx ml/main.ts large [--size-mb N] [--model FILE] [--out FILE] [--seed N]',
  );
  process.exit(2);
}
