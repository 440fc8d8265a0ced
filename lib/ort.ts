// onnxruntime-node, with Microsoft's telemetry off. onnxruntime-node 1.30 on Linux records each
// session's model graph name and metadata_props (for our models: feature names, the training
// distribution and settings — part of the model) in ~/.cache/Microsoft/DeveloperTools/
// .onnxruntime/onnxruntime.db and tries to upload them; the agent's no-plaintext test found
// it. The variable is read when the runtime's environment is first created, at the first
// session: every module that makes sessions imports onnxruntime through this file.
import * as ort from 'onnxruntime-node';

process.env.ORT_DISABLE_TELEMETRY = '1';

export default ort;
export const { InferenceSession, Tensor } = ort;
export type { InferenceSession as InferenceSessionType } from 'onnxruntime-node';
