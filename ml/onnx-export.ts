// Writes the classifier as an ONNX model (IR 8, opset 17) with onnx-proto, and reads one back.
//
//   features [N,16] float ─ Sub(feature_mean) ─ Div(feature_std) ─ Gemm(W1,b1) ─ Relu ─ Gemm(W2,b2)
//     ─ logits ─ Softmax(axis 1) → probabilities [N,4] float
//               └ ArgMax(axis 1, keepdims 0) → label [N] int64
//
// `sizeMb` pads the file to at least that many MiB for load-time benchmarks with a part that
// works and changes nothing: a side branch from the standardised features through
// `layers` dense ReLU layers of `width` units (random weights, so they compress like real ones
// and cost real compute), ending in a Gemm with all-zero weights whose output is added to the
// logits. x + 0 = x exactly, so the padded model's outputs equal the small one's.

import onnxProto from 'onnx-proto';
import { createRng } from './prng.ts';
import type { Mlp } from './mlp.ts';
import { METADATA_KEYS } from './model-metadata.ts';

const { onnx } = onnxProto;
type ValueInfo = InstanceType<typeof onnx.ValueInfoProto>;
type Node = NonNullable<Parameters<typeof onnx.NodeProto.create>[0]>;

export const IR_VERSION = 8;
export const OPSET = 17;
export const INPUT_NAME = 'features';
export const OUTPUT_PROBABILITIES = 'probabilities';
export const OUTPUT_LABEL = 'label';
/** Width of the padding branch's layers: 1 MiB of weights per layer. */
export const PAD_WIDTH = 512;
const MIB = 1024 * 1024;

export interface ExportOptions {
  /** Pad the file to at least this many MiB (2^20 bytes). */
  sizeMb?: number;
  /** Seed of the padding weights. */
  padSeed?: number;
  producerVersion?: string;
}

export function exportOnnx(
  model: Mlp,
  metadata: Record<string, string>,
  options: ExportOptions = {},
): Uint8Array {
  const small = encode(model, metadata, 0);
  const target = (options.sizeMb ?? 0) * MIB;
  if (small.length >= target) return small;
  const perLayer = PAD_WIDTH * PAD_WIDTH * 4 + PAD_WIDTH * 4;
  let layers = Math.max(1, Math.ceil((target - small.length) / perLayer));
  for (;;) {
    const padding = { sizeMb: options.sizeMb, layers, width: PAD_WIDTH, seed: options.padSeed ?? 1 };
    const bytes = encode(
      model,
      { ...metadata, [METADATA_KEYS.padding]: JSON.stringify(padding) },
      layers,
      padding.seed,
    );
    if (bytes.length >= target) return bytes;
    layers++;
  }
}

function encode(model: Mlp, metadata: Record<string, string>, padLayers: number, padSeed = 1): Uint8Array {
  const initializer = [
    floatTensor('feature_mean', [model.inputs], model.mean),
    floatTensor('feature_std', [model.inputs], model.std),
    floatTensor('W1', [model.inputs, model.hidden], model.w1),
    floatTensor('b1', [model.hidden], model.b1),
    floatTensor('W2', [model.hidden, model.outputs], model.w2),
    floatTensor('b2', [model.outputs], model.b2),
  ];
  const node: Node[] = [
    op('Sub', [INPUT_NAME, 'feature_mean'], ['centered']),
    op('Div', ['centered', 'feature_std'], ['standardized']),
    op('Gemm', ['standardized', 'W1', 'b1'], ['hidden_linear']),
    op('Relu', ['hidden_linear'], ['hidden']),
    op('Gemm', ['hidden', 'W2', 'b2'], [padLayers ? 'logits_model' : 'logits']),
  ];
  if (padLayers) padBranch(model, padLayers, padSeed, node, initializer);
  node.push(op('Softmax', ['logits'], [OUTPUT_PROBABILITIES], { axis: 1 }));
  node.push(op('ArgMax', [OUTPUT_PROBABILITIES], [OUTPUT_LABEL], { axis: 1, keepdims: 0 }));
  const proto = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'edgeseal',
    producerVersion: '0.1.0',
    graph: {
      name: 'vibration_classifier',
      node,
      initializer,
      input: [valueInfo(INPUT_NAME, onnx.TensorProto.DataType.FLOAT, ['N', model.inputs])],
      output: [
        valueInfo(OUTPUT_PROBABILITIES, onnx.TensorProto.DataType.FLOAT, ['N', model.outputs]),
        valueInfo(OUTPUT_LABEL, onnx.TensorProto.DataType.INT64, ['N']),
      ],
    },
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(proto).finish();
}

function padBranch(model: Mlp, layers: number, seed: number, node: Node[], initializer: unknown[]): void {
  const rng = createRng(seed);
  const w = PAD_WIDTH;
  let input = 'standardized';
  let fanIn = model.inputs;
  for (let l = 0; l < layers; l++) {
    // He-uniform weights keep the activations O(1) through the stack: no overflow to Inf, whose
    // product with the zero output weights would be NaN.
    const a = Math.sqrt(6 / fanIn);
    const weights = new Float32Array(fanIn * w);
    for (let i = 0; i < weights.length; i++) weights[i] = a * (2 * rng.next() - 1);
    initializer.push(
      floatTensor(`pad_W${l}`, [fanIn, w], weights),
      floatTensor(`pad_b${l}`, [w], new Float32Array(w)),
    );
    node.push(op('Gemm', [input, `pad_W${l}`, `pad_b${l}`], [`pad_linear${l}`]));
    node.push(op('Relu', [`pad_linear${l}`], [`pad_hidden${l}`]));
    input = `pad_hidden${l}`;
    fanIn = w;
  }
  initializer.push(floatTensor('pad_out', [w, model.outputs], new Float32Array(w * model.outputs)));
  node.push(op('MatMul', [input, 'pad_out'], ['logits_pad']));
  node.push(op('Add', ['logits_model', 'logits_pad'], ['logits']));
}

/**
 * The model in `small` (an ONNX file this module wrote) padded to at least `sizeMb` MiB, for
 * benchmarks: same metadata plus edgeseal.padding, same outputs.
 */
export function padModel(small: Uint8Array, sizeMb: number, padSeed = 1): Uint8Array {
  const { model, metadata } = readOnnx(small);
  delete metadata[METADATA_KEYS.padding];
  return exportOnnx(model, metadata, { sizeMb, padSeed });
}

/** metadata_props of an ONNX file, as a plain object. */
export function readMetadataProps(bytes: Uint8Array): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const p of onnx.ModelProto.decode(bytes).metadataProps ?? []) metadata[p.key ?? ''] = p.value ?? '';
  return metadata;
}

/** The classifier and metadata of an ONNX file this module wrote (the padding is dropped). */
export function readOnnx(bytes: Uint8Array): { model: Mlp; metadata: Record<string, string> } {
  const proto = onnx.ModelProto.decode(bytes);
  const tensors = new Map((proto.graph?.initializer ?? []).map((t) => [t.name, t]));
  const get = (name: string): { dims: number[]; data: Float32Array } => {
    const t = tensors.get(name);
    if (!t) throw new TypeError(`not an edgeseal vibration model: no initializer ${name}`);
    const data = t.rawData?.length ? fromRaw(t.rawData) : Float32Array.from(t.floatData ?? []);
    return { dims: (t.dims ?? []).map(Number), data };
  };
  const w1 = get('W1');
  const w2 = get('W2');
  const metadata: Record<string, string> = {};
  for (const p of proto.metadataProps ?? []) metadata[p.key ?? ''] = p.value ?? '';
  return {
    model: {
      inputs: w1.dims[0]!,
      hidden: w1.dims[1]!,
      outputs: w2.dims[1]!,
      mean: get('feature_mean').data,
      std: get('feature_std').data,
      w1: w1.data,
      b1: get('b1').data,
      w2: w2.data,
      b2: get('b2').data,
    },
    metadata,
  };
}

// ONNX raw_data is little-endian; a Float32Array's bytes are in host order.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function floatTensor(name: string, dims: number[], data: Float32Array) {
  if (!LITTLE_ENDIAN) throw new Error('ONNX export assumes a little-endian host');
  if (data.length !== dims.reduce((a, b) => a * b, 1))
    throw new TypeError(`${name}: data does not match ${dims}`);
  return onnx.TensorProto.create({
    name,
    dims,
    dataType: onnx.TensorProto.DataType.FLOAT,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  });
}

function fromRaw(raw: Uint8Array): Float32Array {
  if (!LITTLE_ENDIAN) throw new Error('ONNX import assumes a little-endian host');
  // raw_data may sit at any offset of the decoded buffer: copy to an aligned one.
  return new Float32Array(new Uint8Array(raw).buffer);
}

function op(opType: string, input: string[], output: string[], ints: Record<string, number> = {}): Node {
  return {
    opType,
    input,
    output,
    name: `${opType}_${output[0]}`,
    attribute: Object.entries(ints).map(([name, i]) => ({
      name,
      i,
      type: onnx.AttributeProto.AttributeType.INT,
    })),
  };
}

function valueInfo(name: string, elemType: number, dims: (number | string)[]): ValueInfo {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
}
