// Where refusals go. A refusal of a caller that proved nothing costs that caller nothing, so
// what it may write to the audit log is bounded by the sink (audit/refusal-aggregator.ts);
// refusals of authenticated callers are written as they are.
import type { AuditEvent } from './ports.ts';

export interface Refusal {
  /** outcome 'refused', reason = the error code */
  readonly event: AuditEvent;
  /** the network peer (IP address) the request came from, when known */
  readonly source?: string | undefined;
  /** false when the caller had not authenticated, or its credential does not (or no longer) count */
  readonly verified: boolean;
}

export interface RefusalSink {
  /** Best effort for unverified callers: resolves once recorded or counted. */
  refused(r: Refusal): Promise<void>;
}

/** Refusals that mean "the credential proved nothing": failed, unknown, revoked or expired. */
const CREDENTIAL_REFUSED: ReadonlySet<string> = new Set([
  'ERR_UNAUTHENTICATED',
  'ERR_CERT_UNKNOWN',
  'ERR_CERT_REVOKED',
  'ERR_BATCH_REVOKED',
  'ERR_BATCH_EXPIRED',
  'ERR_BODY_TOO_LARGE',
]);

/** Whether a refusal came from a caller that is authenticated now. */
export const verifiedCaller = (actor: string, code: string): boolean =>
  actor !== 'anonymous' && !actor.startsWith('unverified:') && !CREDENTIAL_REFUSED.has(code);
