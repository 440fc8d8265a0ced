// The MQTT 3.1.1 / 5 server side: every decision about a client happens here, as hooks in
// the aedes mould (authenticate at CONNECT, authorize publish, authorize subscribe), each
// refusal mapped to its protocol answer in answers.ts (CONNACK code, SUBACK failure, an MQTT 5
// PUBACK or DISCONNECT reason, or closing the connection where 3.1.1 has no other way to say
// no [MQTT-3.3.5-2]), counted and logged.
import type { Logger } from 'pino';
import { PINGRESP } from '../../lib/mqtt/codec.ts';
import {
  type ConnectPacket,
  type Packet,
  type PublishPacket,
  type QoS,
  type SubscribePacket,
  REASON,
  SUBACK_FAILURE,
} from '../../lib/mqtt/packets.ts';
import { MqttPacketTooLarge } from '../../lib/mqtt/parser.ts';
import { PROP } from '../../lib/mqtt/properties.ts';
import { canPublish, canSubscribe } from '../core/acl.ts';
import { resolveClientId } from '../core/client-id.ts';
import { identify, type PeerFacts, type Principal, type RefusalReason } from '../core/identity.ts';
import { checkPayload } from '../core/payload-policy.ts';
import { TokenBucket } from '../core/token-bucket.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { AttestationView } from '../attestation/attestation-view.ts';
import type { RevocationView, RevokedSerial } from '../revocation/revocation-view.ts';
import {
  connackAccepted,
  connackRefusal,
  disconnect,
  publishAck,
  pubcomp,
  suback,
  unsuback,
} from './answers.ts';
import type { Connection } from './connection.ts';
import type { Router } from './router.ts';

export interface BrokerOptions {
  readonly trustDomain: string;
  readonly maxPayloadBytes: number;
  readonly rate: number;
  readonly burst: number;
  readonly connectTimeoutMs: number;
  /** the largest packet accepted (MQTT 5 CONNACK Maximum Packet Size) */
  readonly maxPacketBytes: number;
}

/** MQTT 5 reason for each denial (PUBACK for QoS > 0 where 5 allows it, else DISCONNECT) */
const DENIAL_REASON: Record<string, number> = {
  acl_publish: REASON.notAuthorized,
  quarantined: REASON.notAuthorized,
  payload_not_jwe: REASON.payloadFormatInvalid,
  payload_too_large: REASON.packetTooLarge,
  rate_limited: REASON.messageRateTooHigh,
  topic_alias: REASON.topicAliasInvalid,
  subscription_ids: REASON.subscriptionIdsNotSupported,
};
const ANSWERED_BY_PUBACK = new Set(['acl_publish', 'payload_not_jwe', 'quarantined']);

export class Broker {
  /** open connections by client id (one per id: [MQTT-3.1.4-2] takeover) */
  private readonly byClientId = new Map<string, Connection>();
  /** open connections by certificate serial, for revocation */
  private readonly bySerial = new Map<string, Set<Connection>>();
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly all = new Set<Connection>();
  private readonly timer: NodeJS.Timeout;
  private stopping = false;

  constructor(
    private readonly opts: BrokerOptions,
    private readonly router: Router,
    private readonly revocation: RevocationView,
    readonly metrics: GatewayMetrics,
    private readonly log: Logger,
    private readonly peer: (c: Connection) => PeerFacts,
    private readonly now: () => number = Date.now,
    /** attestation standing (issue 8): devices without it are quarantined */
    private readonly attestation?: AttestationView,
  ) {
    revocation.onRevoked((entries) => this.cut(entries));
    attestation?.onChange((ids) => this.restand(ids));
    this.timer = setInterval(() => this.tick(), 500);
    this.timer.unref();
  }

  get connectionCount(): number {
    return this.all.size;
  }

  get openSessions(): number {
    return this.byClientId.size;
  }

  /** Sessions of devices held to status/ota until they attest (gauge). */
  get quarantinedSessions(): number {
    let n = 0;
    for (const c of this.byClientId.values()) if (c.principal && this.quarantined(c.principal)) n++;
    return n;
  }

  private quarantined(p: Principal): boolean {
    return this.attestation?.quarantined(p) ?? false;
  }

  /**
   * The attestation standing of connected devices changed: log each one that enters or leaves
   * quarantine. Its rights change at once, since every publish, subscribe and delivery asks
   * the view (a deny-list or minimum-SVN change reaches here within the feed's latency).
   */
  private restand(ids: readonly string[] | 'all'): void {
    const conns =
      ids === 'all'
        ? [...this.byClientId.values()]
        : ids.flatMap((id) => {
            const c = this.byClientId.get(id);
            return c ? [c] : [];
          });
    for (const c of conns) {
      const p = c.principal;
      if (!p || p.kind !== 'device') continue;
      const q = this.quarantined(p);
      if (q === (c.quarantined ?? false)) continue;
      c.quarantined = q;
      if (q) this.metrics.quarantines.inc();
      this.log.info(
        {
          event: q ? 'quarantined' : 'released',
          device_id: p.id,
          cert_serial: p.serial,
          attestation: this.attestation?.stateOf(p.id)?.status ?? 'none',
        },
        q ? 'device quarantined: status and ota only until it attests' : 'device out of quarantine',
      );
    }
  }

  /**
   * A client whose TLS handshake just completed (called from the listener's secureConnection
   * handler, before any MQTT byte is read). One without a certificate is refused here: it
   * cannot be anyone, so it gets no parser, no CONNECT and no CONNECT timeout to spend.
   */
  accept(c: Connection): void {
    this.all.add(c);
    c.socket.on('close', () => this.closed(c));
    c.socket.on('error', (err) => {
      c.closeReason ??= `socket_error:${(err as NodeJS.ErrnoException).code ?? 'unknown'}`;
    });
    c.peer = this.peer(c);
    if (c.peer.subjectAltName === undefined && c.peer.serialNumber === undefined) {
      this.metrics.refusals.inc('no_certificate');
      this.log.info(
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

  onPacket = (c: Connection, p: Packet): void => {
    c.lastIn = this.now();
    if (c.state === 'closed') return;
    if (c.state === 'connecting') {
      if (p.type !== 'connect') {
        this.protocolError(c, `${p.type} before CONNECT`); // [MQTT-3.1.0-1]
        return;
      }
      this.connect(c, p).catch((err) => {
        this.log.error({ err, conn: c.id }, 'CONNECT handling failed');
        this.refuse(c, 'upstream_unavailable', 'internal error');
      });
      c.state = 'open'; // further packets wait on the router; a second CONNECT is an error
      return;
    }
    if (!c.ready) {
      // CONNECT still being decided; a client may send before CONNACK arrives (§3.1.4)
      c.early ??= [];
      if (c.early.length >= 100) {
        this.protocolError(c, 'too many packets before CONNACK');
        return;
      }
      c.early.push(p.type === 'publish' ? { ...p, payload: Buffer.from(p.payload) } : p);
      return;
    }
    this.handle(c, p);
  };

  private handle(c: Connection, p: Packet): void {
    switch (p.type) {
      case 'publish':
        this.publish(c, p);
        return;
      case 'puback':
        this.router.acked(c, p.id);
        return;
      case 'pubrel':
        c.qos2?.delete(p.id);
        c.write(pubcomp(c, p.id));
        return;
      case 'subscribe':
        this.subscribe(c, p);
        return;
      case 'unsubscribe':
        Promise.resolve(this.router.unsubscribe(c, p.filters)).then(
          () => c.write(unsuback(c, p.id, p.filters.length)),
          (err) => this.fail(c, err),
        );
        return;
      case 'pingreq':
        c.write(PINGRESP);
        return;
      case 'disconnect':
        // [MQTT-3.14.4-3] a DISCONNECT discards the will — unless MQTT 5 reason 0x04 asks for it
        if (p.reasonCode === REASON.disconnectWithWill) {
          c.end('client_disconnect_with_will');
          return;
        }
        c.will = undefined;
        c.end('client_disconnect');
        return;
      case 'connect':
        this.protocolError(c, 'second CONNECT'); // [MQTT-3.1.0-2]
        return;
      default:
        this.protocolError(c, `unexpected ${p.type}`);
        return;
    }
  }

  onError = (c: Connection, e: Error): void => {
    if (e instanceof MqttPacketTooLarge && c.state === 'connecting') {
      // refused from its fixed header, before its body was read (EDGESEAL_GATEWAY_MAX_CONNECT_BYTES)
      this.metrics.refusals.inc('connect_too_large');
      this.log.info(
        { event: 'refused', reason: 'connect_too_large', detail: e.message, remote: c.socket.remoteAddress },
        'connection refused',
      );
      c.destroy('refused:connect_too_large');
      return;
    }
    this.protocolError(c, e.message);
  };

  private async connect(c: Connection, p: ConnectPacket): Promise<void> {
    c.version = p.protocolLevel === 5 ? 5 : 4;
    if (this.stopping) {
      this.refuse(c, 'server_shutting_down', 'the gateway is stopping');
      return;
    }
    if (p.protocolLevel > 5) {
      return this.refuse(
        c,
        'unsupported_protocol',
        `protocol level ${p.protocolLevel}; this gateway speaks MQTT 3.1.1 and 5`,
      );
    }
    const props = p.properties;
    if (props?.has(PROP.authMethod)) {
      // enhanced authentication (§4.12): the certificate is the authentication here
      return this.refuse(
        c,
        'bad_auth_method',
        'enhanced authentication is not supported; the client certificate authenticates',
      );
    }
    // MQTT 5 §3.1.2.11.3 / §3.1.2.11.4: a Receive Maximum or a Maximum Packet Size of 0 is a
    // Protocol Error; the server may say so with CONNACK 0x82 before closing ([MQTT-3.1.4-1], §4.13).
    if (props?.get(PROP.receiveMaximum) === 0) return this.refuse(c, 'protocol_error', 'Receive Maximum 0');
    if (props?.get(PROP.maximumPacketSize) === 0) {
      return this.refuse(c, 'protocol_error', 'Maximum Packet Size 0');
    }
    const facts = c.peer ?? this.peer(c);
    const who = identify(facts, this.opts.trustDomain);
    if (!who.ok) {
      this.refuse(c, who.reason, who.detail);
      return;
    }
    c.certNotAfter = facts.notAfter ?? c.certNotAfter;
    const principal = who.principal;
    const admission = this.revocation.admit(principal.serial);
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
      const verdict = checkPayload(principal, p.will.topic, p.will.payload, this.opts.maxPayloadBytes);
      if (!canPublish(principal, p.will.topic) || !verdict.ok) {
        return this.refuse(c, 'will_not_allowed', `will topic ${p.will.topic} not allowed`, principal);
      }
    }
    c.principal = principal;
    c.clientId = clientId;
    c.will = p.will;
    c.keepAliveMs = p.keepAlive * 1000;
    if (c.version === 5) {
      // §3.1.2.11: session expiry > 0 keeps the session; receive maximum and maximum packet size bound what we send
      c.persistent = ((props?.get(PROP.sessionExpiry) as number | undefined) ?? 0) > 0;
      const rm = props?.get(PROP.receiveMaximum) as number | undefined;
      if (rm !== undefined) c.receiveMaximum = rm;
      const mps = props?.get(PROP.maximumPacketSize) as number | undefined;
      if (mps !== undefined) c.maxPacketSize = mps;
    } else {
      c.persistent = !p.cleanSession;
    }
    const previous = this.byClientId.get(clientId);
    if (previous) disconnect(previous, REASON.sessionTakenOver, 'session_taken_over', 'session taken over'); // [MQTT-3.1.4-2]
    this.byClientId.set(clientId, c);
    let serials = this.bySerial.get(principal.serial);
    if (!serials) {
      serials = new Set();
      this.bySerial.set(principal.serial, serials);
    }
    serials.add(c);
    let present: boolean;
    try {
      present = await this.router.open(c, p.cleanSession);
    } catch (err) {
      this.forget(c);
      c.principal = undefined;
      return this.refuse(c, 'upstream_unavailable', (err as Error).message, principal);
    }
    if (c.socket.destroyed) {
      // the device left while its session was being opened (upstream): end that session too
      this.router.close(c, !c.will);
      return;
    }
    c.write(
      connackAccepted(c, present, {
        assignedClientId: cid.assigned ? clientId : undefined,
        maxPacketSize: this.opts.maxPacketBytes,
      }),
    );
    c.ready = true;
    if (principal.kind === 'device' && this.quarantined(principal)) {
      c.quarantined = true;
      this.metrics.quarantines.inc();
      this.log.info(
        {
          event: 'quarantined',
          device_id: principal.id,
          cert_serial: principal.serial,
          attestation: this.attestation?.stateOf(principal.id)?.status ?? 'none',
        },
        'device admitted in quarantine: status and ota only until it attests',
      );
    }
    this.router.resume(c);
    const early = c.early;
    c.early = undefined;
    if (early) for (const q of early) if (c.state !== 'closed') this.handle(c, q);
    this.metrics.connects.inc();
    this.log.debug(
      { device_id: principal.id, cert_serial: principal.serial, client_id: clientId },
      'session open',
    );
  }

  private refuse(c: Connection, reason: RefusalReason, detail: string, who?: Principal): void {
    this.metrics.refusals.inc(reason);
    this.log.info(
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

  private protocolError(c: Connection, detail: string): void {
    if (!c.principal) this.metrics.refusals.inc('protocol_error');
    else this.metrics.denials.inc('protocol_error');
    this.log.info({ event: 'protocol_error', detail, device_id: c.principal?.id }, 'closing: protocol error');
    disconnect(c, REASON.protocolError, 'protocol_error', detail);
  }

  /**
   * A request refused. MQTT 5: a refused QoS 1/2 PUBLISH gets its PUBACK/PUBREC with the
   * reason and the session goes on; otherwise DISCONNECT with the reason. 3.1.1: close.
   */
  private deny(c: Connection, reason: string, detail: string, pub?: PublishPacket): void {
    this.metrics.denials.inc(reason);
    const keep = c.version === 5 && pub && pub.qos > 0 && ANSWERED_BY_PUBACK.has(reason);
    this.log.info(
      { event: 'denied', reason, detail, device_id: c.principal?.id, cert_serial: c.principal?.serial },
      keep ? 'request denied' : 'closing: request denied',
    );
    if (keep) {
      const ack = publishAck(c, pub.qos as 1 | 2, pub.id!, DENIAL_REASON[reason]!, detail);
      if (c.ackChain)
        c.ackChain = c.ackChain.then(() => c.write(ack)); // keep the order
      else c.write(ack);
      return;
    }
    disconnect(c, DENIAL_REASON[reason] ?? REASON.unspecified, reason, detail);
  }

  private fail(c: Connection, err: unknown): void {
    this.log.warn({ err, device_id: c.principal?.id }, 'closing: routing failed');
    this.metrics.dropped.inc('upstream');
    disconnect(c, REASON.unspecified, 'upstream_error', 'routing failed');
  }

  private publish(c: Connection, p: PublishPacket): void {
    const who = c.principal!;
    if (p.properties?.has(PROP.topicAlias)) {
      // CONNACK advertised no Topic Alias Maximum, i.e. 0 (§3.2.2.3.8)
      this.deny(c, 'topic_alias', 'topic aliases are not accepted');
      return;
    }
    if (!canPublish(who, p.topic)) {
      this.deny(c, 'acl_publish', `may not publish to ${p.topic}`, p);
      return;
    }
    if (!canPublish(who, p.topic, this.quarantined(who))) {
      this.deny(c, 'quarantined', `quarantined until attested: may not publish to ${p.topic}`, p);
      return;
    }
    const verdict = checkPayload(who, p.topic, p.payload, this.opts.maxPayloadBytes);
    if (!verdict.ok) {
      this.deny(c, verdict.reason, verdict.detail, p);
      return;
    }
    if (this.opts.rate > 0 && who.kind === 'device') {
      let b = this.buckets.get(who.id);
      if (!b) {
        b = new TokenBucket(this.opts.rate, this.opts.burst, this.now());
        this.buckets.set(who.id, b);
      }
      // Over the limit the device is disconnected (MQTT 5: reason 0x96, message rate too
      // high): a QoS 1 message it was not acknowledged is resent after it reconnects.
      if (!b.take(this.now())) {
        this.deny(c, 'rate_limited', `over ${this.opts.rate} messages/s`);
        return;
      }
    }
    if (p.qos === 2) {
      // Exactly-once in: route on first receipt only, until PUBREL (§4.3.3).
      c.qos2 ??= new Set();
      const seen = c.qos2.has(p.id!);
      c.qos2.add(p.id!);
      if (seen) {
        c.write(publishAck(c, 2, p.id!));
        return;
      }
    }
    c.messagesIn++;
    this.metrics.messagesIn.inc();
    const r = this.router.publish(c, { topic: p.topic, payload: p.payload, qos: p.qos, retain: p.retain });
    if (p.qos === 0) {
      if (r) r.catch((err) => this.fail(c, err));
      return;
    }
    const ack = publishAck(c, p.qos, p.id!);
    if (!r && !c.ackChain) {
      c.write(ack);
      return;
    }
    // Acknowledgements leave in the order the messages came [MQTT-4.6.0-2], also when the
    // router holds one back (flow control) or waits for an upstream broker.
    const next = (c.ackChain ?? Promise.resolve()).then(() => r).then(() => c.write(ack));
    c.ackChain = next;
    next.then(
      () => {
        if (c.ackChain === next) c.ackChain = undefined;
      },
      (err) => this.fail(c, err),
    );
  }

  private subscribe(c: Connection, p: SubscribePacket): void {
    const { id, subscriptions: subs } = p;
    const who = c.principal!;
    if (p.properties?.has(PROP.subscriptionId)) {
      // CONNACK said Subscription Identifiers Available = 0 (§3.8.2.1.2)
      this.deny(c, 'subscription_ids', 'subscription identifiers are not supported');
      return;
    }
    const codes: number[] = [];
    const granted: { filter: string; qos: QoS }[] = [];
    const q = this.quarantined(who);
    for (const s of subs) {
      if (canSubscribe(who, s.filter, q)) {
        const qos = Math.min(s.qos, 1) as QoS; // at most QoS 1 is delivered
        granted.push({ filter: s.filter, qos });
        codes.push(qos);
      } else {
        codes.push(SUBACK_FAILURE); // [MQTT-3.9.3] 0x80: failure
        this.metrics.denials.inc('acl_subscribe');
        this.log.info(
          { event: 'denied', reason: 'acl_subscribe', filter: s.filter, device_id: who.id },
          'subscription refused',
        );
      }
    }
    const done = () => {
      c.write(suback(c, id, codes));
      if (granted.length)
        this.router.afterSubscribe(
          c,
          granted.map((g) => g.filter),
        );
    };
    const r = granted.length ? this.router.subscribe(c, granted) : undefined;
    if (!r) {
      done();
      return;
    }
    r.then(done, (err) => this.fail(c, err));
  }

  /** Revoked certificates: close their sessions now ([MQTT] no will is owed to a revoked device). */
  private cut(entries: readonly RevokedSerial[]): void {
    for (const e of entries) {
      const conns = this.bySerial.get(e.serial);
      if (!conns) continue;
      for (const c of conns) {
        this.metrics.revocationDisconnects.inc();
        this.log.info(
          {
            event: 'revoked_disconnect',
            device_id: c.principal?.id,
            cert_serial: e.serial,
            reason: e.reason,
          },
          'session closed: certificate revoked',
        );
        c.will = undefined;
        disconnect(c, REASON.administrativeAction, 'revoked', 'certificate revoked');
      }
    }
  }

  private forget(c: Connection): void {
    if (this.byClientId.get(c.clientId) === c) this.byClientId.delete(c.clientId);
    const serial = c.principal?.serial;
    if (serial) {
      const s = this.bySerial.get(serial);
      s?.delete(c);
      if (s && !s.size) this.bySerial.delete(serial);
    }
  }

  private closed(c: Connection): void {
    const wasOpen = !!c.principal;
    const graceful = c.closeReason === 'client_disconnect';
    c.state = 'closed';
    this.all.delete(c);
    if (!wasOpen) {
      if (!c.closeReason) {
        this.metrics.refusals.inc('tls_or_connect_aborted');
      }
      return;
    }
    this.forget(c);
    const reason = c.closeReason ?? 'connection_lost';
    this.metrics.disconnects.inc(reason.split(':')[0]);
    // [MQTT-3.1.2-8] the will is published when the connection ends without DISCONNECT
    if (c.will && !graceful && !this.router.carriesWill) {
      const w = c.will;
      c.will = undefined;
      this.metrics.messagesIn.inc();
      Promise.resolve(
        this.router.publish(c, { topic: w.topic, payload: w.payload, qos: w.qos, retain: w.retain }),
      ).catch(() => this.metrics.dropped.inc('upstream'));
    }
    this.router.close(c, graceful || !c.will);
    // One JSON line per session (STYLE.md).
    this.log.info(
      {
        event: 'session',
        device_id: c.principal!.id,
        cert_serial: c.principal!.serial,
        client_id: c.clientId,
        kind: c.principal!.kind,
        duration_ms: this.now() - c.openedAt,
        messages_in: c.messagesIn,
        messages_out: c.messagesOut,
        close_reason: reason,
      },
      'session ended',
    );
  }

  private tick(): void {
    const now = this.now();
    for (const c of this.all) {
      if (c.state === 'connecting' && now - c.openedAt > this.opts.connectTimeoutMs) {
        this.metrics.refusals.inc('connect_timeout');
        c.destroy('connect_timeout');
      } else if (now > c.certNotAfter) {
        // RFC 5280 §4.1.2.5: not valid after notAfter, so neither is its session
        disconnect(c, REASON.administrativeAction, 'cert_expired', 'certificate expired');
      } else if (c.blockedBy?.size) {
        c.lastIn = now; // paused by flow control: its silence is ours
      } else if (c.keepAliveMs && now - c.lastIn > c.keepAliveMs * 1.5) {
        disconnect(c, REASON.keepAliveTimeout, 'keepalive_timeout', 'keep alive timeout'); // [MQTT-3.1.2-24]
      }
    }
    if (this.buckets.size > 10_000) {
      for (const [k, b] of this.buckets) if (b.idle(now)) this.buckets.delete(k);
    }
  }

  /** Stop accepting sessions and close every connection. */
  stop(): void {
    this.stopping = true;
    clearInterval(this.timer);
    for (const c of this.all)
      disconnect(c, REASON.serverShuttingDown, 'server_shutdown', 'server shutting down');
  }
}
