// The dashboard's fleet page: each device's certificate, attestation, model, latest
// inference, anomalies, input statistics, drift and last contact, with the filters of
// `edgeseal devices`; drifting and anomalous devices stand out, and the drifting ones are
// listed first as a finding. Read-only, like every page here.
import type { DeviceView } from '../telemetry/device-view.ts';
import { Page, StatusCell } from './layout.tsx';

export interface DeviceFilters {
  readonly model: string;
  readonly anomalous: '' | 'true' | 'false';
  readonly drifting: '' | 'true' | 'false';
}

const ATTESTATION_CLASS: Record<string, string> = {
  affirming: 'ok',
  warning: 'expired',
  contraindicated: 'bad',
};
const fmt = (x: number | null | undefined, digits = 2) =>
  x === null || x === undefined ? '—' : x.toFixed(digits);

function DriftCell(p: { d: DeviceView }) {
  const drift = p.d.drift;
  if (!drift || drift.windows === 0) return <td>—</td>;
  if (drift.warming_up) return <td title={`${fmt(drift.windows, 0)} windows so far`}>warming up</td>;
  return (
    <td class={drift.drifting ? 'bad' : 'ok'}>
      {drift.drifting ? 'drifting' : 'steady'} · PSI {fmt(drift.score)}
      {drift.top_feature ? ` (${drift.top_feature})` : ''}
    </td>
  );
}

export function DevicesPage(p: {
  items: readonly DeviceView[];
  drifting: readonly DeviceView[];
  filters: DeviceFilters;
  next: string | undefined;
}) {
  const f = p.filters;
  const choice = (name: string, value: string, label: string) => (
    <select name={name}>
      {[
        ['', `${label}: any`],
        ['true', `${label}: yes`],
        ['false', `${label}: no`],
      ].map(([v, text]) => (
        <option value={v} selected={v === value}>
          {text}
        </option>
      ))}
    </select>
  );
  return (
    <Page title="Devices" signedIn>
      <h2>Drifting devices</h2>
      {p.drifting.length === 0 ? (
        <p class="ok">No device's inputs have drifted from the training distribution.</p>
      ) : (
        <ul>
          {p.drifting.map((d) => (
            <li class="bad">
              {d.device_id}: PSI {fmt(d.drift?.score)} on {d.drift?.top_feature ?? '—'} (threshold{' '}
              {fmt(d.drift?.threshold)})
            </li>
          ))}
        </ul>
      )}
      <form class="filters" method="get" action="/ui/devices">
        <input name="model" placeholder="hardware model" value={f.model} />
        {choice('anomalous', f.anomalous, 'anomalous')}
        {choice('drifting', f.drifting, 'drifting')}
        <button type="submit">Filter</button>
      </form>
      <table>
        <thead>
          <tr>
            <th>Device</th>
            <th>Hardware</th>
            <th>Certificate</th>
            <th>Attestation</th>
            <th>Model</th>
            <th>Latest inference</th>
            <th>Anomalies</th>
            <th>Input statistics</th>
            <th>Drift</th>
            <th>Last seen</th>
          </tr>
        </thead>
        <tbody>
          {p.items.map((d) => (
            <tr>
              <td>{d.device_id}</td>
              <td>{d.hardware_model}</td>
              <td>
                {d.certificate ? (
                  <>
                    <a href={`/ui/certificates/${d.certificate.serial}`}>
                      <StatusCell status={d.certificate.status} />
                    </a>{' '}
                    until {d.certificate.not_after.slice(0, 10)}
                  </>
                ) : (
                  '—'
                )}
              </td>
              <td
                class={
                  d.attestation
                    ? d.attestation.fresh
                      ? ATTESTATION_CLASS[d.attestation.status]
                      : 'expired'
                    : ''
                }
              >
                {d.attestation ? `${d.attestation.status}${d.attestation.fresh ? '' : ' (expired)'}` : '—'}
              </td>
              <td>{d.model ? `${d.model.model_id ?? ''} ${d.model.version ?? '—'}`.trim() : '—'}</td>
              <td class={d.anomalous ? 'bad' : ''}>
                {d.latest_inference
                  ? `${d.latest_inference.label}${d.latest_inference.anomaly ? ' · anomaly' : ''}`
                  : '—'}
              </td>
              <td>
                {d.anomalies} / {d.messages}
              </td>
              <td>
                {d.input_stats
                  ? `${d.input_stats.n} windows, ${d.input_stats.features.length} features`
                  : '—'}
              </td>
              <DriftCell d={d} />
              <td>{d.last_seen_at ?? 'never'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {p.items.length === 0 ? <p>No devices match.</p> : null}
      {p.next ? <a href={`/ui/devices?${p.next}`}>Next page →</a> : null}
    </Page>
  );
}
