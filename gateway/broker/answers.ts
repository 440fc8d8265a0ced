// What the broker says to a client, in the client's protocol version. MQTT 3.1.1 has return
// codes only on CONNACK and SUBACK; everything else it refuses by closing the connection
// [MQTT-3.3.5-2]. MQTT 5 says why: reason codes on CONNACK, PUBACK, SUBACK and DISCONNECT
// (§2.4), with a reason string.
import {
  encodeConnack,
  encodePubcomp,
  encodePuback,
  encodePubrec,
  encodeSuback,
  encodeUnsuback,
} from '../../lib/mqtt/codec.ts';
import {
  encodeAckV5,
  encodeConnackV5,
  encodeDisconnectV5,
  encodeSubackV5,
  encodeUnsubackV5,
} from '../../lib/mqtt/encode-v5.ts';
import { CONNACK, REASON } from '../../lib/mqtt/packets.ts';
import { PROP, type PropValue } from '../../lib/mqtt/properties.ts';
import type { RefusalReason } from '../core/identity.ts';
import type { Connection } from './connection.ts';

const V4_REFUSAL: Partial<Record<RefusalReason, number>> = {
  client_id_mismatch: CONNACK.identifierRejected,
  client_id_required: CONNACK.identifierRejected, // [MQTT-3.1.3-8]
  revocation_state_unknown: CONNACK.serverUnavailable,
  upstream_unavailable: CONNACK.serverUnavailable,
  server_shutting_down: CONNACK.serverUnavailable,
  unsupported_protocol: CONNACK.unacceptableProtocolVersion,
};

const V5_REFUSAL: Partial<Record<RefusalReason, number>> = {
  client_id_mismatch: REASON.clientIdNotValid,
  protocol_error: REASON.protocolError,
  revocation_state_unknown: REASON.serverUnavailable,
  upstream_unavailable: REASON.serverUnavailable,
  server_shutting_down: REASON.serverUnavailable,
  unsupported_protocol: REASON.unsupportedProtocolVersion,
  bad_auth_method: REASON.badAuthenticationMethod,
};

/** CONNACK refusing the connection; the caller closes it. */
export function connackRefusal(c: Connection, reason: RefusalReason, text: string): Buffer {
  if (c.version === 5) {
    return encodeConnackV5(false, V5_REFUSAL[reason] ?? REASON.notAuthorized, [[PROP.reasonString, text]]);
  }
  return encodeConnack(false, V4_REFUSAL[reason] ?? CONNACK.notAuthorized);
}

export function connackAccepted(
  c: Connection,
  present: boolean,
  v5: { assignedClientId?: string; sessionExpiry?: number; maxPacketSize: number },
): Buffer {
  if (c.version !== 5) return encodeConnack(present, CONNACK.accepted);
  const props: [number, PropValue][] = [
    [PROP.maximumPacketSize, v5.maxPacketSize],
    [PROP.sharedSubscriptionAvailable, 0],
    [PROP.subscriptionIdsAvailable, 0],
  ];
  if (v5.assignedClientId) props.push([PROP.assignedClientId, v5.assignedClientId]);
  if (v5.sessionExpiry !== undefined) props.push([PROP.sessionExpiry, v5.sessionExpiry]);
  return encodeConnackV5(present, 0, props);
}

/** PUBACK (QoS 1) or PUBREC (QoS 2); a non-zero reason only in MQTT 5. */
export function publishAck(c: Connection, qos: 1 | 2, id: number, reason = 0, text?: string): Buffer {
  if (c.version === 5) return encodeAckV5(qos === 1 ? 0x40 : 0x50, id, reason, text);
  return qos === 1 ? encodePuback(id) : encodePubrec(id);
}

export const pubcomp = (c: Connection, id: number) =>
  c.version === 5 ? encodeAckV5(0x70, id) : encodePubcomp(id);

/** SUBACK from 3.1.1 codes (0, 1, 0x80); MQTT 5 says 0x87 (not authorized) for a refusal. */
export function suback(c: Connection, id: number, codes: readonly number[]): Buffer {
  if (c.version !== 5) return encodeSuback(id, codes);
  return encodeSubackV5(
    id,
    codes.map((x) => (x === 0x80 ? REASON.notAuthorized : x)),
  );
}

export const unsuback = (c: Connection, id: number, n: number) =>
  c.version === 5 ? encodeUnsubackV5(id, new Array(n).fill(0)) : encodeUnsuback(id);

/**
 * Ends a session for a reason: MQTT 5 clients get a DISCONNECT with the reason code and a
 * reason string first; 3.1.1 clients just see the connection close.
 */
export function disconnect(c: Connection, reason5: number, closeReason: string, text: string): void {
  if (c.version === 5 && c.ready && c.state !== 'closed') {
    c.write(encodeDisconnectV5(reason5, text));
    c.end(closeReason);
  } else {
    c.destroy(closeReason);
  }
}
