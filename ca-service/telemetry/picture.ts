// Each device's latest picture (the `device_telemetry` row), and how one newly stored message
// changes it. Pure: the store reads the row, folds the group's messages in, writes it back.
//
// "Latest" follows the device's own clock, capped at the time we received a message (a clock
// running ahead cannot pin its picture): a message older than the picture (buffered while
// offline, or redelivered late) still counts and feeds drift, but does not replace the latest
// inference, statistics or model.
import { accumulate, type ClassBaseline, type DriftState, type DriftVerdict, judge } from '../core/drift.ts';
import type { Inference, TelemetryRecord } from './message.ts';

export interface LatestInference extends Inference {
  readonly sent_at: string;
  readonly message_id: string;
  readonly model_id: string | null;
  readonly window: TelemetryRecord['window'];
}

export interface DriftPicture {
  readonly state: DriftState;
  readonly verdict: Omit<DriftVerdict, 'perFeature'> & { readonly perFeature: readonly number[] };
}

export interface LatestInputStats {
  readonly sent_at: string;
  readonly message_id: string;
  readonly model_id: string | null;
  readonly features: readonly string[];
  readonly n: number;
  readonly mean: readonly (number | null)[];
  readonly std: readonly (number | null)[];
  readonly histograms: readonly (readonly number[])[];
  /** the decayed histogram sums and label counts, and the verdict on them (core/drift.ts) */
  readonly drift: DriftPicture | null;
}

export interface DevicePicture {
  readonly deviceId: string;
  /** the newest message's time (device clock, capped at its arrival) */
  readonly lastSeenAt: Date;
  readonly releaseId: string | null;
  readonly modelVersion: string | null;
  readonly latestInference: LatestInference | null;
  readonly latestInputStats: LatestInputStats | null;
  readonly messages: number;
  /** messages whose inference said anomaly */
  readonly anomalies: number;
  readonly driftScore: number | null;
  readonly drifting: boolean;
}

export interface FoldOptions {
  /** the PSI threshold of the message's release (its manifest's drift section) */
  readonly threshold: number;
  /** K of the decayed sum (core/drift.ts) */
  readonly windowMessages: number;
  /**
   * the per-class bin proportions of the message's release (its manifest's drift section), or
   * null/absent (an older model, an unknown release): compared with the training mix
   */
  readonly baseline?: ClassBaseline | null | undefined;
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;

export function fold(prev: DevicePicture | undefined, r: TelemetryRecord, o: FoldOptions): DevicePicture {
  const at = new Date(Math.min(r.sentAt.getTime(), r.receivedAt.getTime()));
  const newer = !prev || at >= prev.lastSeenAt;
  const sentAt = r.sentAt.toISOString();
  let latestInference = prev?.latestInference ?? null;
  if (r.inference && (newer || !latestInference)) {
    latestInference = {
      sent_at: sentAt,
      message_id: r.messageId,
      model_id: r.modelId,
      window: r.window,
      ...r.inference,
    };
  }
  let latestInputStats = prev?.latestInputStats ?? null;
  let driftScore = prev?.driftScore ?? null;
  let drifting = prev?.drifting ?? false;
  if (r.inputStats) {
    const s = r.inputStats;
    // the labels the model gave these windows weigh the classes the inputs are compared with
    const state = accumulate(
      latestInputStats?.drift?.state,
      s.features,
      s.histograms,
      o.windowMessages,
      r.inference?.counts,
    );
    const v = judge(state, o.threshold, o.baseline);
    const roundAll = (x: Readonly<Record<string, number>>) =>
      Object.fromEntries(Object.entries(x).map(([k, n]) => [k, round(n)]));
    const drift: DriftPicture = {
      // rounded: the row is rewritten with every message, and six digits are plenty
      state: {
        ...state,
        sums: state.sums.map((row) => row.map(round)),
        windows: round(state.windows),
        labels: roundAll(state.labels),
      },
      verdict: {
        ...v,
        score: v.score === null ? null : round(v.score),
        perFeature: v.perFeature.map(round),
        windows: round(v.windows),
        classShares: v.classShares && roundAll(v.classShares),
      },
    };
    driftScore = drift.verdict.score;
    drifting = v.drifting;
    latestInputStats =
      newer || !latestInputStats
        ? {
            sent_at: sentAt,
            message_id: r.messageId,
            model_id: r.modelId,
            features: s.features,
            n: s.n,
            mean: s.mean,
            std: s.std,
            histograms: s.histograms,
            drift,
          }
        : { ...latestInputStats, drift };
  }
  return {
    deviceId: r.deviceId,
    lastSeenAt: newer ? at : prev.lastSeenAt,
    releaseId: newer && r.releaseId !== null ? r.releaseId : (prev?.releaseId ?? r.releaseId),
    modelVersion: newer && r.modelVersion !== null ? r.modelVersion : (prev?.modelVersion ?? r.modelVersion),
    latestInference,
    latestInputStats,
    messages: (prev?.messages ?? 0) + 1,
    anomalies: (prev?.anomalies ?? 0) + (r.inference?.anomaly ? 1 : 0),
    driftScore,
    drifting,
  };
}
