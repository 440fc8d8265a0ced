// One device as /v1/devices, the CLI (--json) and the dashboard show it: certificate,
// attestation, model, latest inference, anomalies, input statistics and drift, last seen.
import type { DeviceRow } from '../store/telemetry-store.ts';

const certStatus = (c: NonNullable<DeviceRow['certificate']>, now: Date) =>
  c.revokedAt ? 'revoked' : c.notAfter <= now ? 'expired' : 'valid';

export function deviceView(r: DeviceRow, now: Date, detail = false) {
  const t = r.telemetry;
  const stats = t?.latestInputStats ?? null;
  const verdict = stats?.drift?.verdict;
  const inf = t?.latestInference ?? null;
  return {
    device_id: r.id,
    hardware_model: r.hardwareModel,
    batch_id: r.batchId,
    enrolled_at: r.createdAt.toISOString(),
    certificate: r.certificate
      ? {
          serial: r.certificate.serial,
          not_after: r.certificate.notAfter.toISOString(),
          status: certStatus(r.certificate, now),
        }
      : null,
    attestation: r.attestation
      ? {
          status: r.attestation.status,
          fresh: r.attestation.expiresAt > now,
          issued_at: r.attestation.issuedAt.toISOString(),
          expires_at: r.attestation.expiresAt.toISOString(),
          firmware_sha256: r.attestation.firmwareSha256,
          firmware_svn: r.attestation.firmwareSvn,
        }
      : null,
    model: t
      ? {
          release_id: t.releaseId,
          model_id: inf?.model_id ?? stats?.model_id ?? null,
          version: t.modelVersion,
        }
      : null,
    latest_inference: inf
      ? {
          label: inf.label,
          anomaly: inf.anomaly,
          counts: inf.counts,
          probabilities: inf.probabilities,
          window: inf.window,
          sent_at: inf.sent_at,
        }
      : null,
    anomalous: inf?.anomaly === true,
    anomalies: t?.anomalies ?? 0,
    messages: t?.messages ?? 0,
    input_stats: stats
      ? {
          features: stats.features,
          n: stats.n,
          mean: stats.mean,
          std: stats.std,
          sent_at: stats.sent_at,
          ...(detail ? { histograms: stats.histograms } : {}),
        }
      : null,
    drift: t
      ? {
          statistic: 'psi' as const,
          score: t.driftScore,
          drifting: t.drifting,
          threshold: verdict?.threshold ?? null,
          top_feature: verdict?.warmingUp === false ? verdict.topFeature : null,
          windows: verdict?.windows ?? 0,
          warming_up: verdict ? verdict.warmingUp : true,
          // what the inputs were compared with: the classes the device's model labelled, mixed
          // by their shares, or the training set's own mix (verdicts from before it was named
          // were all against the training mix)
          expected: verdict?.expected ?? 'training_mix',
          ...(detail && verdict
            ? {
                per_feature: Object.fromEntries(
                  (stats?.drift?.state.features ?? []).map((f, i) => [f, verdict.perFeature[i] ?? null]),
                ),
                class_shares: verdict.classShares ?? null,
              }
            : {}),
        }
      : null,
    last_seen_at: t ? t.lastSeenAt.toISOString() : null,
  };
}

export type DeviceView = ReturnType<typeof deviceView>;
