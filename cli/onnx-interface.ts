// What a model's manifest says about it, read from the .onnx file (onnx-proto): its inputs
// and outputs (name, element type, shape), and the training distribution the drift check
// compares devices' inputs with (metadata `edgeseal.training_distribution`, when present).
import onnxProto from 'onnx-proto';
import type { ModelIo, TensorSpec } from '../lib/model-package/index.ts';

const { onnx } = onnxProto;

// onnx.TensorProto.DataType → the names onnxruntime uses
const ELEM: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  9: 'bool',
  10: 'float16',
  11: 'float64',
};

export interface OnnxFacts {
  readonly io: ModelIo;
  readonly metadata: Record<string, string>;
}

export function onnxFacts(bytes: Uint8Array): OnnxFacts {
  let proto: InstanceType<typeof onnx.ModelProto>;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new TypeError(`not an ONNX model: ${(e as Error).message}`);
  }
  if (!proto.graph) throw new TypeError('not an ONNX model: it has no graph');
  const initializers = new Set((proto.graph.initializer ?? []).map((t) => t.name));
  const spec = (v: onnxProto.onnx.IValueInfoProto): TensorSpec => {
    const t = v.type?.tensorType;
    return {
      name: v.name ?? '',
      type: ELEM[t?.elemType ?? 0] ?? `onnx-type-${t?.elemType ?? 0}`,
      shape: (t?.shape?.dim ?? []).map((d) =>
        d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null ? Number(d.dimValue) : '?',
      ),
    };
  };
  const metadata: Record<string, string> = {};
  for (const p of proto.metadataProps ?? []) metadata[p.key ?? ''] = p.value ?? '';
  return {
    io: {
      // older exporters list initializers among the inputs
      inputs: (proto.graph.input ?? []).filter((i) => !initializers.has(i.name ?? '')).map(spec),
      outputs: (proto.graph.output ?? []).map(spec),
    },
    metadata,
  };
}
