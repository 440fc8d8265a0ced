// The in-process broker: sessions (clean or persistent), a subscription index, retained
// messages and QoS 1 delivery with a window per session. Every delivery re-checks the read
// ACL. Persistent sessions live in memory: they survive a client's reconnect, not a restart.
import type { QoS } from '../../lib/mqtt/packets.ts';
import { hasWildcard, topicMatches } from '../../lib/mqtt/topic.ts';
import { canReceive } from '../core/acl.ts';
import type { Principal } from '../core/identity.ts';
import type { Connection } from './connection.ts';
import type { DropCounter, Message, Router } from './router.ts';

/** QoS 1 messages in flight to one client before further ones wait in its queue */
const WINDOW = 64;
/** bytes waiting for one client past which QoS 0 messages to it are dropped */
const MAX_BACKLOG = 4 * 1024 * 1024;

class Session {
  link: Connection | undefined;
  readonly subs = new Map<string, QoS>();
  readonly inflight = new Map<number, Message>();
  queue: Message[] = [];
  nextId = 1;
  expiresAt = 0;
  constructor(
    readonly clientId: string,
    readonly principal: Principal,
    readonly clean: boolean,
  ) {}
  allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = id === 65_535 ? 1 : id + 1;
      if (!this.inflight.has(id)) return id;
    }
  }
}

type Index = Map<string, Map<Session, QoS>>;

export class LocalRouter implements Router {
  readonly carriesWill = false;
  private readonly sessions = new Map<string, Session>();
  private readonly exact: Index = new Map();
  private readonly wild: Index = new Map();
  private readonly retained = new Map<string, Message>();
  private readonly sweep: NodeJS.Timeout;

  constructor(
    private readonly opts: { maxQueued: number; sessionExpiryMs: number; now: () => number },
    private readonly drop: DropCounter,
  ) {
    this.sweep = setInterval(() => this.expire(), 60_000);
    this.sweep.unref();
  }

  async open(conn: Connection, cleanSession: boolean): Promise<boolean> {
    const existing = this.sessions.get(conn.clientId);
    let s: Session;
    let present = false;
    if (existing && !cleanSession && !existing.clean) {
      s = existing;
      present = true;
    } else {
      if (existing) this.remove(existing); // [MQTT-3.1.2-6] a clean session discards the old one
      s = new Session(conn.clientId, conn.principal!, cleanSession);
      this.sessions.set(conn.clientId, s);
    }
    s.link = conn;
    conn.routerState = s;
    return present;
  }

  resume(conn: Connection): void {
    const s = conn.routerState as Session;
    // [MQTT-4.4.0-1] resend unacknowledged QoS 1 messages with DUP, then the queue
    for (const [id, m] of s.inflight) conn.sendPublish(m.topic, m.payload, 1, m.retain, id, true);
    this.pump(s);
  }

  publish(_from: Connection, msg: Message): void {
    if (msg.retain) {
      // [MQTT-3.3.1-10/11] an empty retained message clears the topic
      if (msg.payload.length === 0) this.retained.delete(msg.topic);
      else this.retained.set(msg.topic, { ...msg, payload: Buffer.from(msg.payload) });
    }
    const exact = this.exact.get(msg.topic);
    let targets: Map<Session, QoS> | undefined = exact;
    if (this.wild.size) {
      for (const [filter, subs] of this.wild) {
        if (!topicMatches(filter, msg.topic)) continue;
        if (!targets) {
          targets = subs;
          continue;
        }
        if (targets === exact || targets === subs) targets = new Map(targets);
        for (const [s, q] of subs) if ((targets.get(s) ?? -1) < q) targets.set(s, q);
      }
    }
    if (!targets) return;
    // A forwarded message carries retain=false (§3.3.1.3: only retained copies sent on subscribe keep it).
    for (const [s, subQos] of targets) this.deliver(s, msg, Math.min(msg.qos, subQos, 1) as QoS, false);
  }

  private deliver(s: Session, msg: Message, qos: QoS, retain: boolean): void {
    if (!canReceive(s.principal, msg.topic)) {
      this.drop('acl_receive');
      return;
    }
    const link = s.link;
    if (qos === 0) {
      if (!link) return; // QoS 0 is not queued for an offline client (§4.3.1)
      if (link.backlog() > MAX_BACKLOG) {
        this.drop('slow_consumer');
        return;
      }
      link.sendPublish(msg.topic, msg.payload, 0, retain, undefined);
      return;
    }
    if (link && s.inflight.size < WINDOW && !s.queue.length) {
      const id = s.allocateId();
      s.inflight.set(id, retain === msg.retain ? msg : { ...msg, retain });
      link.sendPublish(msg.topic, msg.payload, 1, retain, id);
      return;
    }
    if (s.queue.length >= this.opts.maxQueued) {
      this.drop('queue_full');
      return;
    }
    s.queue.push({ topic: msg.topic, payload: Buffer.from(msg.payload), qos: 1, retain });
  }

  private pump(s: Session): void {
    const link = s.link;
    if (!link) return;
    while (s.queue.length && s.inflight.size < WINDOW) {
      const m = s.queue.shift()!;
      const id = s.allocateId();
      s.inflight.set(id, m);
      link.sendPublish(m.topic, m.payload, 1, m.retain, id);
    }
  }

  subscribe(conn: Connection, subs: readonly { filter: string; qos: QoS }[]): void {
    const s = conn.routerState as Session;
    for (const { filter, qos } of subs) {
      s.subs.set(filter, qos); // [MQTT-3.8.4-3] a repeated filter replaces the old subscription
      const index = hasWildcard(filter) ? this.wild : this.exact;
      let m = index.get(filter);
      if (!m) {
        m = new Map();
        index.set(filter, m);
      }
      m.set(s, qos);
    }
  }

  afterSubscribe(conn: Connection, filters: readonly string[]): void {
    const s = conn.routerState as Session;
    if (!this.retained.size) return;
    for (const filter of filters) {
      const q = s.subs.get(filter);
      if (q === undefined) continue;
      for (const m of this.retained.values()) {
        if (topicMatches(filter, m.topic)) this.deliver(s, m, Math.min(m.qos, q, 1) as QoS, true); // [MQTT-3.3.1-6]
      }
    }
  }

  unsubscribe(conn: Connection, filters: readonly string[]): void {
    const s = conn.routerState as Session;
    for (const f of filters) {
      s.subs.delete(f);
      this.unindex(s, f);
    }
  }

  acked(conn: Connection, id: number): void {
    const s = conn.routerState as Session | undefined;
    if (!s?.inflight.delete(id)) return;
    if (s.queue.length) this.pump(s);
  }

  close(conn: Connection, _graceful: boolean): void {
    const s = conn.routerState as Session | undefined;
    if (!s || s.link !== conn) return; // taken over by a newer connection
    s.link = undefined;
    if (s.clean) this.remove(s);
    else s.expiresAt = this.opts.now() + this.opts.sessionExpiryMs;
  }

  private unindex(s: Session, filter: string): void {
    const index = hasWildcard(filter) ? this.wild : this.exact;
    const m = index.get(filter);
    if (!m) return;
    m.delete(s);
    if (!m.size) index.delete(filter);
  }

  private remove(s: Session): void {
    for (const f of s.subs.keys()) this.unindex(s, f);
    if (this.sessions.get(s.clientId) === s) this.sessions.delete(s.clientId);
  }

  private expire(): void {
    const now = this.opts.now();
    for (const s of this.sessions.values()) if (!s.link && s.expiresAt && s.expiresAt < now) this.remove(s);
  }

  async stop(): Promise<void> {
    clearInterval(this.sweep);
  }

  gauges(): Record<string, number> {
    let queued = 0;
    for (const s of this.sessions.values()) queued += s.queue.length + s.inflight.size;
    return {
      edgeseal_gateway_sessions: this.sessions.size,
      edgeseal_gateway_queued_messages: queued,
      edgeseal_gateway_retained_messages: this.retained.size,
    };
  }
}
