// Runs an exported vibration model with onnxruntime-node, from bytes in memory (the device
// agent decrypts the model into a buffer and never writes it to a file). onnxruntime copies
// the weights during create, so the caller may wipe `bytes` as soon as loadModel resolves.

import ort from '../lib/ort.ts';
import { decodeMetadata, type ModelMetadata } from './model-metadata.ts';
import { INPUT_NAME, OUTPUT_LABEL, OUTPUT_PROBABILITIES, readMetadataProps } from './onnx-export.ts';

export interface InferenceResult {
  /** n × classes, row-major. */
  probabilities: Float32Array;
  /** Index into metadata.classes per row. */
  labels: Int32Array;
}

export interface VibrationModel {
  metadata: ModelMetadata;
  /** n rows of raw features (n × features, row-major). */
  run(features: Float32Array, n: number): Promise<InferenceResult>;
  release(): Promise<void>;
}

export async function loadModel(
  bytes: Uint8Array,
  options: ort.InferenceSession.SessionOptions = {},
): Promise<VibrationModel> {
  const metadata = decodeMetadata(readMetadataProps(bytes));
  const session = await ort.InferenceSession.create(bytes, options);
  const width = metadata.features.length;
  return {
    metadata,
    async run(features, n) {
      if (features.length !== n * width)
        throw new TypeError(`expected ${n} × ${width} features, got ${features.length}`);
      const out = await session.run({ [INPUT_NAME]: new ort.Tensor('float32', features, [n, width]) });
      const probabilities = out[OUTPUT_PROBABILITIES]!.data as Float32Array;
      const labels = Int32Array.from(out[OUTPUT_LABEL]!.data as BigInt64Array, Number);
      return { probabilities, labels };
    },
    release: () => session.release(),
  };
}
