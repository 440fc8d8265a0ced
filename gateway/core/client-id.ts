// Which MQTT client id a principal may use. The client id names the session (§3.1.3.1), so
// devices and services must never be able to name the same one: a device's client id is
// exactly its device id, whose alphabet has no ':' (ca-service/core/device-id.ts, and the
// SAN check in identity.ts), and a service's is `svc:<name>` or `svc:<name>:<worker>`. No
// device client id can therefore equal or prefix-match a service's, nor one service's
// another's (`svc:gw:…` is not `svc:gw-a…`).
import type { Principal } from './identity.ts';

export const SERVICE_CLIENT_PREFIX = 'svc:';

/** a worker suffix: the alphabet and length of ids */
const WORKER = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export type ClientIdVerdict =
  | { readonly ok: true; readonly clientId: string; readonly assigned: boolean }
  | {
      readonly ok: false;
      readonly reason: 'client_id_mismatch' | 'client_id_required';
      readonly detail: string;
    };

/** The client id a principal's own connections use when they send none. */
export function defaultClientId(p: Principal): string {
  return p.kind === 'device' ? p.id : `${SERVICE_CLIENT_PREFIX}${p.id}`;
}

/** Is `clientId` one of this principal's own? */
export function ownsClientId(p: Principal, clientId: string): boolean {
  if (p.kind === 'device') return clientId === p.id;
  const base = `${SERVICE_CLIENT_PREFIX}${p.id}`;
  if (clientId === base) return true;
  return clientId.startsWith(`${base}:`) && WORKER.test(clientId.slice(base.length + 1));
}

/**
 * The session's client id for a CONNECT, or why not. `protocolLevel` 4 is MQTT 3.1.1, where a
 * zero-byte client id requires a clean session; MQTT 5 lets the server assign one for any
 * session (§3.1.3.1).
 */
export function resolveClientId(
  p: Principal,
  requested: string,
  connect: { readonly protocolLevel: number; readonly cleanSession: boolean },
): ClientIdVerdict {
  if (requested === '') {
    if (connect.protocolLevel < 5 && !connect.cleanSession) {
      // [MQTT-3.1.3-8] zero-byte client id with CleanSession 0: CONNACK 0x02, then close
      return {
        ok: false,
        reason: 'client_id_required',
        detail: 'a persistent session (clean session 0) needs a client id',
      };
    }
    return { ok: true, clientId: defaultClientId(p), assigned: true }; // [MQTT-3.1.3-6]
  }
  if (!ownsClientId(p, requested)) {
    const expected =
      p.kind === 'device'
        ? p.id
        : `${SERVICE_CLIENT_PREFIX}${p.id} or ${SERVICE_CLIENT_PREFIX}${p.id}:<worker>`;
    return {
      ok: false,
      reason: 'client_id_mismatch',
      detail: `client id ${JSON.stringify(requested.slice(0, 140))} is not ${expected}`,
    };
  }
  return { ok: true, clientId: requested, assigned: false };
}

/** Same identity (kind and id; a renewed certificate's new serial is the same identity). */
export function sameIdentity(a: Principal, b: Principal): boolean {
  return a.kind === b.kind && a.id === b.id;
}
