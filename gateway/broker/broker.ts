// The MQTT 3.1.1 / 5 server side: the connections' life and every decision about an admitted
// client, as hooks in the aedes mould (authorize publish, authorize subscribe), each refusal
// mapped to its protocol answer in answers.ts (SUBACK failure, an MQTT 5 PUBACK or DISCONNECT
// reason, or closing the connection where 3.1.1 has no other way to say no [MQTT-3.3.5-2]),
// counted and logged. Who is admitted at all is admission.ts's to decide (the authenticate
// hook); the open sessions are indexed in sessions.ts, quarantine is kept in quarantine.ts.
import type { Logger } from 'pino';
import { PINGRESP } from '../../lib/mqtt/codec.ts';
import {
  type Packet,
  type PublishPacket,
  type QoS,
  type SubscribePacket,
  REASON,
  SUBACK_FAILURE,
} from '../../lib/mqtt/packets.ts';
import { MqttPacketTooLarge } from '../../lib/mqtt/parser.ts';
import { PROP } from '../../lib/mqtt/properties.ts';
import type { AttestationView } from '../attestation/attestation-view.ts';
import { canPublish, canSubscribe } from '../core/acl.ts';
import type { PeerFacts } from '../core/identity.ts';
import { checkPayload } from '../core/payload-policy.ts';
import { TokenBucket } from '../core/token-bucket.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { RevocationView, RevokedSerial } from '../revocation/revocation-view.ts';
import { Admission, type AdmissionOptions } from './admission.ts';
import { disconnect, publishAck, pubcomp, suback, unsuback } from './answers.ts';
import type { Connection } from './connection.ts';
import { Quarantine } from './quarantine.ts';
import type { Router } from './router.ts';
import { Sessions } from './sessions.ts';

export interface BrokerOptions extends AdmissionOptions {
  readonly rate: number;
  readonly burst: number;
  readonly connectTimeoutMs: number;
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
  /** open sessions by client id and by certificate serial */
  private readonly sessions = new Sessions();
  private readonly quarantine: Quarantine;
  private readonly admission: Admission;
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly all = new Set<Connection>();
  private readonly timer: NodeJS.Timeout;
  private stopping = false;

  constructor(
    private readonly opts: BrokerOptions,
    private readonly router: Router,
    revocation: RevocationView,
    readonly metrics: GatewayMetrics,
    private readonly log: Logger,
    peer: (c: Connection) => PeerFacts,
    private readonly now: () => number = Date.now,
    /** attestation standing (issue 8): devices without it are quarantined */
    attestation?: AttestationView,
  ) {
    this.quarantine = new Quarantine(this.sessions, metrics, log, attestation);
    this.admission = new Admission(
      { opts, router, revocation, sessions: this.sessions, quarantine: this.quarantine, metrics, log, peer },
      { stopping: () => this.stopping, started: (c) => this.started(c) },
    );
    revocation.onRevoked((entries) => this.cut(entries));
    attestation?.onChange((ids) => this.quarantine.restand(ids));
    this.timer = setInterval(() => this.tick(), 500);
    this.timer.unref();
  }

  get connectionCount(): number {
    return this.all.size;
  }

  get openSessions(): number {
    return this.sessions.size;
  }

  /** Sessions of devices held to status/ota until they attest (gauge). */
  get quarantinedSessions(): number {
    return this.quarantine.count;
  }

  /**
   * A client whose TLS handshake just completed (called from the listener's secureConnection
   * handler, before any MQTT byte is read); one without a certificate is refused at once
   * (admission.ts).
   */
  accept(c: Connection): void {
    this.all.add(c);
    c.socket.on('close', () => this.closed(c));
    c.socket.on('error', (err) => {
      c.closeReason ??= `socket_error:${(err as NodeJS.ErrnoException).code ?? 'unknown'}`;
    });
    this.admission.handshake(c);
  }

  onPacket = (c: Connection, p: Packet): void => {
    c.lastIn = this.now();
    if (c.state === 'closed') return;
    if (c.state === 'connecting') {
      if (p.type !== 'connect') {
        this.protocolError(c, `${p.type} before CONNECT`); // [MQTT-3.1.0-1]
        return;
      }
      this.admission.admit(c, p);
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
      this.admission.tooLarge(c, e.message);
      return;
    }
    this.protocolError(c, e.message);
  };

  /** Admitted, CONNACK sent: deliver what the session holds, then what the client sent early. */
  private started(c: Connection): void {
    this.router.resume(c);
    const early = c.early;
    c.early = undefined;
    if (early) for (const q of early) if (c.state !== 'closed') this.handle(c, q);
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
    if (!canPublish(who, p.topic, this.quarantine.holds(who))) {
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
    const q = this.quarantine.holds(who);
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
      const conns = this.sessions.withSerial(e.serial);
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
    this.sessions.forget(c);
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
