// Who may connect, and why not: every decision from the TLS handshake to CONNACK, the
// authenticate hook of the aedes mould. In order: a certificate at all (at the handshake);
// the CONNECT packet itself (protocol level, enhanced authentication, MQTT 5 properties); the
// identity the certificate names (core/identity.ts); its revocation state; the client id
// (core/client-id.ts); the will. Then the session: its options from CONNECT, takeover of the
// client id, the router session, CONNACK. Each refusal is answered in the client's protocol
// version (answers.ts: a CONNACK code, or an MQTT 5 reason with a reason string), counted by
// reason and logged; the client sees the short reason, the log has the detail.
import type { Logger } from 'pino';
import { type ConnectPacket, REASON } from '../../lib/mqtt/packets.ts';
import { PROP } from '../../lib/mqtt/properties.ts';
import { canPublish } from '../core/acl.ts';
import { resolveClientId } from '../core/client-id.ts';
import { identify, type PeerFacts, type Principal, type RefusalReason } from '../core/identity.ts';
import { checkPayload } from '../core/payload-policy.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { RevocationView } from '../revocation/revocation-view.ts';
import { connackAccepted, connackRefusal, disconnect } from './answers.ts';
import type { Connection } from './connection.ts';
import type { Quarantine } from './quarantine.ts';
import type { Router } from './router.ts';
import type { Sessions } from './sessions.ts';

export interface AdmissionOptions {
  readonly trustDomain: string;
  /** the largest payload, for the will as for any message (core/payload-policy.ts) */
  readonly maxPayloadBytes: number;
  /** the largest packet accepted (MQTT 5 CONNACK Maximum Packet Size) */
  readonly maxPacketBytes: number;
}

/** What admission needs from the gateway around it. */
export interface AdmissionDeps {
  readonly opts: AdmissionOptions;
  readonly router: Router;
  readonly revocation: RevocationView;
  /** where an admitted connection is registered (and takes over its client id) */
  readonly sessions: Sessions;
  readonly quarantine: Quarantine;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  /** the client certificate's facts, from the TLS socket */
  readonly peer: (c: Connection) => PeerFacts;
}

/** What admission asks of the broker that runs the connections. */
export interface AdmissionHost {
  /** the gateway is stopping: nobody new is admitted */
  stopping(): boolean;
  /** CONNACK is sent: deliver what the session holds, then handle what came before CONNACK */
  started(c: Connection): void;
}

interface Refusal {
  readonly reason: RefusalReason;
  readonly detail: string;
}

/** What the CONNECT packet alone refuses, before the certificate is looked at. */
function checkConnect(p: ConnectPacket): Refusal | undefined {
  if (p.protocolLevel > 5) {
    return {
      reason: 'unsupported_protocol',
      detail: `protocol level ${p.protocolLevel}; this gateway speaks MQTT 3.1.1 and 5`,
    };
  }
  const props = p.properties;
  if (props?.has(PROP.authMethod)) {
    // enhanced authentication (§4.12): the certificate is the authentication here
    return {
      reason: 'bad_auth_method',
      detail: 'enhanced authentication is not supported; the client certificate authenticates',
    };
  }
  // MQTT 5 §3.1.2.11.3 / §3.1.2.11.4: a Receive Maximum or a Maximum Packet Size of 0 is a
  // Protocol Error; the server may say so with CONNACK 0x82 before closing ([MQTT-3.1.4-1], §4.13).
  if (props?.get(PROP.receiveMaximum) === 0) return { reason: 'protocol_error', detail: 'Receive Maximum 0' };
  if (props?.get(PROP.maximumPacketSize) === 0) {
    return { reason: 'protocol_error', detail: 'Maximum Packet Size 0' };
  }
  return undefined;
}

/** The session's terms, as the client asked for them in CONNECT. */
function takeSessionOptions(c: Connection, p: ConnectPacket): void {
  c.will = p.will;
  c.keepAliveMs = p.keepAlive * 1000;
  if (c.version === 5) {
    const props = p.properties;
    // §3.1.2.11: session expiry > 0 keeps the session; receive maximum and maximum packet size bound what we send
    c.persistent = ((props?.get(PROP.sessionExpiry) as number | undefined) ?? 0) > 0;
    const rm = props?.get(PROP.receiveMaximum) as number | undefined;
    if (rm !== undefined) c.receiveMaximum = rm;
    const mps = props?.get(PROP.maximumPacketSize) as number | undefined;
    if (mps !== undefined) c.maxPacketSize = mps;
  } else {
    c.persistent = !p.cleanSession;
  }
}

export class Admission {
  constructor(
    private readonly deps: AdmissionDeps,
    private readonly host: AdmissionHost,
  ) {}

  /**
   * A client whose TLS handshake just completed, before any MQTT byte is read. One without a
   * certificate is refused here: it cannot be anyone, so it gets no parser, no CONNECT and no
   * CONNECT timeout to spend.
   */
  handshake(c: Connection): void {
    c.peer = this.deps.peer(c);
    if (c.peer.subjectAltName === undefined && c.peer.serialNumber === undefined) {
      this.deps.metrics.refusals.inc('no_certificate');
      this.deps.log.info(
        {
          event: 'refused',
          reason: 'no_certificate',
          detail: 'the client sent no certificate',
          remote: c.socket.remoteAddress,
        },
        'connection refused at the TLS handshake',
      );
      c.destroy('refused:no_certificate');
    }
  }

  /** A CONNECT refused from its fixed header, before its body was read (EDGESEAL_GATEWAY_MAX_CONNECT_BYTES). */
  tooLarge(c: Connection, detail: string): void {
    this.deps.metrics.refusals.inc('connect_too_large');
    this.deps.log.info(
      { event: 'refused', reason: 'connect_too_large', detail, remote: c.socket.remoteAddress },
      'connection refused',
    );
    c.destroy('refused:connect_too_large');
  }

  /**
   * Decide a CONNECT. The decision may wait on the router (an upstream session); the caller
   * holds the client's further packets until CONNACK (`c.ready`).
   */
  admit(c: Connection, p: ConnectPacket): void {
    this.connect(c, p).catch((err) => {
      this.deps.log.error({ err, conn: c.id }, 'CONNECT handling failed');
      this.refuse(c, 'upstream_unavailable', 'internal error');
    });
  }

  private async connect(c: Connection, p: ConnectPacket): Promise<void> {
    const { opts, router, revocation, sessions } = this.deps;
    c.version = p.protocolLevel === 5 ? 5 : 4;
    if (this.host.stopping()) {
      this.refuse(c, 'server_shutting_down', 'the gateway is stopping');
      return;
    }
    const bad = checkConnect(p);
    if (bad) return this.refuse(c, bad.reason, bad.detail);
    const facts = c.peer ?? this.deps.peer(c);
    const who = identify(facts, opts.trustDomain);
    if (!who.ok) {
      this.refuse(c, who.reason, who.detail);
      return;
    }
    c.certNotAfter = facts.notAfter ?? c.certNotAfter;
    const principal = who.principal;
    const admission = revocation.admit(principal.serial);
    if (admission === 'revoked')
      return this.refuse(c, 'revoked', `certificate ${principal.serial} is revoked`, principal);
    if (admission === 'unknown') {
      return this.refuse(c, 'revocation_state_unknown', 'revocation state unknown (fail-closed)', principal);
    }
    // The client id names the session, so it is the identity's own: a device's id, or a
    // service's `svc:<name>[:<worker>]` (core/client-id.ts); empty means "set it for me".
    const cid = resolveClientId(principal, p.clientId, p);
    if (!cid.ok) return this.refuse(c, cid.reason, cid.detail, principal);
    const clientId = cid.clientId;
    if (p.will) {
      // the will is a publish made in advance, so it meets the same ACL and payload policy now
      const verdict = checkPayload(principal, p.will.topic, p.will.payload, opts.maxPayloadBytes);
      if (!canPublish(principal, p.will.topic) || !verdict.ok) {
        return this.refuse(c, 'will_not_allowed', `will topic ${p.will.topic} not allowed`, principal);
      }
    }
    c.principal = principal;
    c.clientId = clientId;
    takeSessionOptions(c, p);
    const previous = sessions.get(clientId);
    if (previous) disconnect(previous, REASON.sessionTakenOver, 'session_taken_over', 'session taken over'); // [MQTT-3.1.4-2]
    sessions.add(c);
    let present: boolean;
    try {
      present = await router.open(c, p.cleanSession);
    } catch (err) {
      sessions.forget(c);
      c.principal = undefined;
      return this.refuse(c, 'upstream_unavailable', (err as Error).message, principal);
    }
    if (c.socket.destroyed) {
      // the device left while its session was being opened (upstream): end that session too
      router.close(c, !c.will);
      return;
    }
    c.write(
      connackAccepted(c, present, {
        assignedClientId: cid.assigned ? clientId : undefined,
        maxPacketSize: opts.maxPacketBytes,
      }),
    );
    c.ready = true;
    this.deps.quarantine.admitted(c);
    this.host.started(c);
    this.deps.metrics.connects.inc();
    this.deps.log.debug(
      { device_id: principal.id, cert_serial: principal.serial, client_id: clientId },
      'session open',
    );
  }

  private refuse(c: Connection, reason: RefusalReason, detail: string, who?: Principal): void {
    this.deps.metrics.refusals.inc(reason);
    this.deps.log.info(
      {
        event: 'refused',
        reason,
        detail,
        device_id: who?.id,
        cert_serial: who?.serial,
        remote: c.socket.remoteAddress,
      },
      'connection refused',
    );
    c.write(connackRefusal(c, reason, detail));
    c.end(`refused:${reason}`);
  }
}
