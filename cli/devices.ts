// edgeseal devices [--hardware-model M] [--anomalous] [--drifting] [--limit N] · devices show D
// — fleet state: certificate, attestation, model, latest inference, anomalies, drift.
import { parseArgs } from 'node:util';
import { HARDWARE_MODEL_RE } from '../ca-service/core/batches.ts';
import type { DeviceView } from '../ca-service/telemetry/device-view.ts';
import type { ApiClient } from './client.ts';
import { print, table, UsageError } from './output.ts';

const PAGE = 1000;

const fixed = (x: number | null | undefined, d = 2) => (x === null || x === undefined ? '-' : x.toFixed(d));

function driftCell(v: DeviceView): string {
  const d = v.drift;
  if (!d || d.windows === 0) return '-';
  if (d.warming_up) return 'warming up';
  return d.drifting ? `${fixed(d.score)} DRIFTING (${d.top_feature ?? '?'})` : fixed(d.score);
}

const row = (v: DeviceView) => ({
  device: v.device_id,
  hardware: v.hardware_model,
  certificate: v.certificate?.status ?? '-',
  attestation: v.attestation ? `${v.attestation.status}${v.attestation.fresh ? '' : ' (expired)'}` : '-',
  model: v.model ? `${v.model.model_id ?? ''} ${v.model.version ?? '-'}`.trim() : '-',
  inference: v.latest_inference
    ? `${v.latest_inference.label}${v.latest_inference.anomaly ? ' (anomaly)' : ''}`
    : '-',
  anomalies: v.messages ? `${v.anomalies}/${v.messages}` : '-',
  drift: driftCell(v),
  last_seen: v.last_seen_at ?? 'never',
});
const COLUMNS = [
  'device',
  'hardware',
  'certificate',
  'attestation',
  'model',
  'inference',
  'anomalies',
  'drift',
  'last_seen',
];

function showText(v: DeviceView): string {
  const d = v.drift;
  const lines = [
    `device        ${v.device_id} (${v.hardware_model}, batch ${v.batch_id})`,
    `certificate   ${v.certificate ? `${v.certificate.serial} ${v.certificate.status} until ${v.certificate.not_after}` : '-'}`,
    `attestation   ${v.attestation ? `${v.attestation.status}${v.attestation.fresh ? '' : ' (expired)'} at ${v.attestation.issued_at}` : '-'}`,
    `model         ${v.model ? `${v.model.model_id ?? '-'} ${v.model.version ?? '-'} (release ${v.model.release_id ?? '-'})` : '-'}`,
    `inference     ${
      v.latest_inference
        ? `${v.latest_inference.label}${v.latest_inference.anomaly ? ' (anomaly)' : ''} at ${v.latest_inference.sent_at}, counts ${JSON.stringify(v.latest_inference.counts)}`
        : '-'
    }`,
    `anomalies     ${v.anomalies} of ${v.messages} messages`,
    `drift         ${
      !d
        ? '-'
        : d.warming_up
          ? `warming up (${fixed(d.windows, 0)} windows)`
          : `PSI ${fixed(d.score, 3)} ${d.drifting ? 'DRIFTING' : 'steady'} (threshold ${d.threshold}, most on ${d.top_feature})`
    }`,
    `last seen     ${v.last_seen_at ?? 'never'}`,
  ];
  const s = v.input_stats;
  if (s) {
    const psi = (d as { per_feature?: Record<string, number | null> } | null)?.per_feature ?? {};
    lines.push(
      '',
      `input statistics (${s.n} windows, sent ${s.sent_at})`,
      table(
        s.features.map((f, i) => ({
          feature: f,
          mean: s.mean[i] === null ? '-' : Number(s.mean[i]).toPrecision(4),
          std: s.std[i] === null ? '-' : Number(s.std[i]).toPrecision(4),
          psi: fixed(psi[f], 3),
        })),
        ['feature', 'mean', 'std', 'psi'],
      ),
    );
  }
  return lines.join('\n');
}

export async function devicesCommand(argv: string[], client: () => ApiClient, json: boolean): Promise<void> {
  if (argv[0] === 'show') {
    const { positionals } = parseArgs({
      args: argv.slice(1),
      options: {},
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length !== 1) throw new UsageError('devices show needs one device id: devices show D');
    const v = await client().call<DeviceView>('GET', `/v1/devices/${encodeURIComponent(positionals[0]!)}`);
    print(json, v, () => showText(v));
    return;
  }
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      'hardware-model': { type: 'string' },
      anomalous: { type: 'boolean' },
      drifting: { type: 'boolean' },
      limit: { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length)
    throw new UsageError(
      `devices: unexpected "${positionals[0]!.slice(0, 40)}"; use devices show D for one device`,
    );
  const model = values['hardware-model'];
  if (model !== undefined && !HARDWARE_MODEL_RE.test(model))
    throw new UsageError(`--hardware-model must be 1–64 of A–Z a–z 0–9 . _ -, got "${model.slice(0, 80)}"`);
  const limit = values.limit === undefined ? Number.POSITIVE_INFINITY : Number(values.limit);
  if (values.limit !== undefined && (!/^\d+$/.test(values.limit) || limit < 1))
    throw new UsageError(`--limit must be a positive integer, got "${values.limit.slice(0, 40)}"`);
  const api = client();
  const items: DeviceView[] = [];
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams({ limit: String(Math.min(PAGE, limit - items.length)) });
    if (model !== undefined) q.set('hardware_model', model);
    if (values.anomalous) q.set('anomalous', 'true');
    if (values.drifting) q.set('drifting', 'true');
    if (cursor) q.set('cursor', cursor);
    const page: { items: DeviceView[]; next_cursor: string | null } = await api.call(
      'GET',
      `/v1/devices?${q}`,
    );
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < limit);
  print(json, items, () => table(items.map(row), COLUMNS));
}
