// Revocation events, so every part learns of a revocation within a second:
// - in this process: RevocationService listeners (CRL, OCSP cache, SSE subscribers);
// - across control-plane instances and gateways on the same Postgres: NOTIFY on channel
//   `edgeseal_revocations`, sent inside the revoking transaction (so only on commit);
// - for anything else with an API token: the SSE stream GET /v1/revocations/events.
// Payload: {"origin": instance id, "entries": [[serial, issuer id, revoked_at ms, reason, device id]…]},
// or {"origin", "reload": true} when the list would not fit in a NOTIFY (8000 bytes).
import type { RevokedEntry } from '../core/revocation.ts';

export const REVOCATION_CHANNEL = 'edgeseal_revocations';
const MAX_PAYLOAD = 7000;

export type FeedMessage = { origin: string; entries: RevokedEntry[] } | { origin: string; reload: true };

export function encodeFeed(origin: string, entries: readonly RevokedEntry[]): string {
  const full = JSON.stringify({
    origin,
    entries: entries.map((e) => [e.serial, e.issuerId, e.revokedAt.getTime(), e.reason, e.deviceId]),
  });
  return full.length <= MAX_PAYLOAD ? full : JSON.stringify({ origin, reload: true });
}

export function decodeFeed(payload: string): FeedMessage | undefined {
  try {
    const m = JSON.parse(payload) as { origin?: unknown; reload?: unknown; entries?: unknown };
    if (typeof m.origin !== 'string') return undefined;
    if (m.reload === true) return { origin: m.origin, reload: true };
    if (!Array.isArray(m.entries)) return undefined;
    return {
      origin: m.origin,
      entries: (m.entries as [string, string, number, number, string | null][]).map(
        ([serial, issuerId, at, reason, deviceId]) => ({
          serial,
          deviceId: deviceId ?? null,
          issuerId,
          revokedAt: new Date(at),
          reason,
        }),
      ),
    };
  } catch {
    return undefined;
  }
}
