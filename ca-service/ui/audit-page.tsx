// The dashboard's audit page: the chain's status, verified incrementally (audit/chain-watch.ts),
// and the latest events.
import type { ChainedEvent } from '../../lib/audit-chain.ts';
import type { ChainStatus } from '../audit/chain-watch.ts';
import { Page } from './layout.tsx';

function summary(s: ChainStatus): string {
  const from =
    s.origin.checkpointAt === null
      ? 'from the first event'
      : `after the signed checkpoint at event ${s.origin.seq} (${s.origin.checkpointAt})`;
  return s.ok
    ? `Chain intact: ${s.eventsVerified} events ${from} verified and linked to it, head ${s.head?.seq ?? 0}, ${s.checkpointsVerified} signed checkpoints verified.`
    : `Chain BROKEN: ${s.problems.length} problem(s).`;
}

export function AuditPage(props: { status: ChainStatus; recent: readonly ChainedEvent[] }) {
  const { status, recent } = props;
  return (
    <Page title="Audit chain" signedIn>
      <p class={status.ok ? 'ok' : 'bad'}>{summary(status)}</p>
      {status.problems.length ? (
        <ul>
          {status.problems.map((p) => (
            <li class="bad">{p.detail}</li>
          ))}
        </ul>
      ) : null}
      <p>
        Server-side check for convenience: each view verifies the events added since the last one. Auditors
        verify the whole chain independently with `edgeseal audit verify`.
      </p>
      <h2>Latest events</h2>
      <table>
        <thead>
          <tr>
            <th>#</th>
            <th>At</th>
            <th>Actor</th>
            <th>Action</th>
            <th>Outcome</th>
            <th>Subject</th>
            <th>Reason</th>
            <th>Count</th>
          </tr>
        </thead>
        <tbody>
          {recent.map((e) => (
            <tr>
              <td>{e.seq}</td>
              <td>{e.at}</td>
              <td>{e.actor}</td>
              <td>{e.action}</td>
              <td class={e.outcome === 'ok' ? 'ok' : 'bad'}>{e.outcome}</td>
              <td>{e.subject ?? ''}</td>
              <td>{e.reason ?? ''}</td>
              <td>{countOf(e)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}

/** Aggregated refusals (audit/refusal-aggregator.ts) stand for `details.count` events. */
function countOf(e: ChainedEvent): string {
  try {
    const n = (JSON.parse(e.details ?? '{}') as { count?: unknown }).count;
    return typeof n === 'number' ? `×${n}` : '';
  } catch {
    return '';
  }
}
