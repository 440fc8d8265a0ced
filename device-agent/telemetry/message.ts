// The telemetry message, the contract the control plane's consumer reads (after decrypting
// the JWE). One per --telemetry-interval while affirming:
//
//   {"v":1, "message_id", "device_id", "sent_at", "release_id", "model_id", "model_version",
//    "window": {"count", "from", "to"},
//    "inference": {"label", "counts", "probabilities", "anomaly"} | null,
//    "input_stats": {"features", "n", "mean", "std", "histograms"} | null}
//
// window.from/to bound the telemetry period (consecutive messages tile time; a gap is a
// period without telemetry) and count is the windows inferred in it. With no model loaded, or
// no window inferred, the message is a heartbeat: the model fields (release, model) as they
// are, inference and input_stats null. sent_at is when the message was made; it may leave
// the outbox later.
import type { InferenceReport, InputStats } from '../inference/window-summary.ts';

export const TELEMETRY_CTY = 'application/vnd.edgeseal.telemetry+json';
export const TELEMETRY_VERSION = 1;

export interface TelemetryMessage {
  readonly v: 1;
  readonly message_id: string;
  readonly device_id: string;
  readonly sent_at: string;
  readonly release_id: string | null;
  readonly model_id: string | null;
  readonly model_version: string | null;
  readonly window: { readonly count: number; readonly from: string; readonly to: string };
  readonly inference: InferenceReport | null;
  readonly input_stats: InputStats | null;
}

export interface MessageFacts {
  readonly messageId: string;
  readonly deviceId: string;
  readonly sentAt: Date;
  readonly model:
    | { readonly releaseId: string; readonly modelId: string; readonly version: string }
    | undefined;
  readonly from: Date;
  readonly to: Date;
  readonly count: number;
  readonly inference: InferenceReport | null;
  readonly inputStats: InputStats | null;
}

export function telemetryMessage(f: MessageFacts): TelemetryMessage {
  return {
    v: TELEMETRY_VERSION,
    message_id: f.messageId,
    device_id: f.deviceId,
    sent_at: f.sentAt.toISOString(),
    release_id: f.model?.releaseId ?? null,
    model_id: f.model?.modelId ?? null,
    model_version: f.model?.version ?? null,
    window: { count: f.count, from: f.from.toISOString(), to: f.to.toISOString() },
    inference: f.count > 0 ? f.inference : null,
    input_stats: f.count > 0 ? f.inputStats : null,
  };
}
