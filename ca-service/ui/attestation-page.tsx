// The dashboard's attestation page: each device's latest result (affirming, warning,
// contraindicated; fresh or expired) with its reasons and firmware, and the reference values
// and policies it was appraised against. Read-only, like every page here.
import type { DeniedDigest, FirmwareRef, ModelPolicy } from '../core/firmware.ts';
import type { StoredResult } from '../store/attestation-store.ts';
import { Page } from './layout.tsx';

const STATUS_CLASS: Record<string, string> = { affirming: 'ok', warning: 'expired', contraindicated: 'bad' };

export function AttestationPage(p: {
  results: readonly StoredResult[];
  refs: readonly FirmwareRef[];
  denied: readonly DeniedDigest[];
  policies: readonly ModelPolicy[];
  now: Date;
}) {
  const counts = new Map<string, number>();
  for (const r of p.results) {
    const k = r.expiresAt > p.now ? r.status : 'expired';
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return (
    <Page title="Attestation" signedIn>
      <p>
        {['affirming', 'warning', 'contraindicated', 'expired'].map((k) => (
          <span class={STATUS_CLASS[k] ?? 'expired'}>
            {k}: {counts.get(k) ?? 0}{' '}
          </span>
        ))}
      </p>
      <table>
        <thead>
          <tr>
            <th>device</th>
            <th>model</th>
            <th>status</th>
            <th>firmware</th>
            <th>reasons</th>
            <th>appraised</th>
            <th>expires</th>
          </tr>
        </thead>
        <tbody>
          {p.results.map((r) => {
            const reasons = JSON.parse(r.reasons) as { code: string; detail: string }[];
            const fresh = r.expiresAt > p.now;
            return (
              <tr>
                <td>{r.deviceId}</td>
                <td>{r.hardwareModel}</td>
                <td class={fresh ? STATUS_CLASS[r.status] : 'expired'}>
                  {r.status}
                  {fresh ? '' : ' (expired)'}
                  {r.reappraisal ? ' · re-appraised' : ''}
                </td>
                <td>
                  {r.firmwareVersion ?? ''} <code>{(r.firmwareSha256 ?? '').slice(0, 16)}</code>
                  {r.firmwareSvn === null ? '' : ` svn ${r.firmwareSvn}`}
                </td>
                <td>{reasons.map((x) => x.code).join(', ') || '—'}</td>
                <td>{r.issuedAt.toISOString()}</td>
                <td>{r.expiresAt.toISOString()}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <h2>Reference values</h2>
      <table>
        <thead>
          <tr>
            <th>model</th>
            <th>component</th>
            <th>version</th>
            <th>svn</th>
            <th>sha256</th>
            <th>state</th>
          </tr>
        </thead>
        <tbody>
          {p.refs.map((r) => (
            <tr>
              <td>{r.hardwareModel}</td>
              <td>{r.component}</td>
              <td>{r.version}</td>
              <td>{r.svn}</td>
              <td>
                <code>{r.sha256}</code>
              </td>
              <td>
                {p.denied.some((d) => d.sha256 === r.sha256) ? 'denied' : r.retiredAt ? 'retired' : 'active'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Policies</h2>
      <ul>
        {p.policies.map((x) => (
          <li>
            {x.hardwareModel}: minimum SVN {x.minSvn ?? 'none'}, attestation {x.required}
          </li>
        ))}
        {p.denied.map((x) => (
          <li>
            denied <code>{x.sha256}</code>
            {x.reason ? ` (${x.reason})` : ''}
          </li>
        ))}
      </ul>
    </Page>
  );
}
