// The in-process broker: sessions (clean or persistent), a subscription index, retained
// messages and QoS 1 delivery with a window per session. A session belongs to the identity
// (kind + id) that created it: only that identity resumes it. Every delivery re-checks the
// read ACL against the principal of the connection it goes out on. Persistent sessions live
// in memory: they survive a client's reconnect, not a restart.
import type { QoS } from '../../lib/mqtt/packets.ts';
import { compileFilter, hasWildcard, levelsMatch, topicMatches } from '../../lib/mqtt/topic.ts';
import { canReceive } from '../core/acl.ts';
import { sameIdentity } from '../core/client-id.ts';
import type { Principal } from '../core/identity.ts';
import type { Connection } from './connection.ts';
import type { DropCounter, ReadPolicy, Message, Router } from './router.ts';

/** QoS 1 messages in flight to one client before further ones wait in its queue */
const WINDOW = 128;
/**
 * Flow control: when an online client's QoS 1 queue passes HIGH, the acknowledgements of
 * the QoS 1 messages feeding it wait until it drains below LOW, so each publisher is held
 * by its own window; when a client's socket backlog passes BACKLOG_HIGH, QoS 0 publishers
 * feeding it stop being read until it drains. Nothing acknowledged is dropped for an online
 * subscriber. Offline sessions keep up to maxQueued messages and drop beyond (counted), so
 * they never hold publishers back.
 */
const HIGH = 256;
const LOW = 64;
/** bytes waiting for an online client past which publishers of QoS 0 messages to it pause */
const BACKLOG_HIGH = 128 * 1024;
/** even flow control has a ceiling (publishers already read when a queue passes HIGH) */
const HARD_LIMIT = 100_000;
/** bytes waiting for one client past which QoS 0 messages to it are dropped */
const MAX_BACKLOG = 4 * 1024 * 1024;

class Session {
  link: Connection | undefined;
  /** QoS 0 publishers paused until this client's socket drains (allocated when first needed) */
  blocking: Set<Connection> | undefined;
  /** acknowledgements to QoS 1 publishers held until this session's queue drains */
  waiters: (() => void)[] | undefined;
  readonly subs = new Map<string, QoS>();
  readonly inflight = new Map<number, Message>();
  queue: Message[] = [];
  nextId = 1;
  expiresAt = 0;
  constructor(
    readonly clientId: string,
    /** the identity that created the session: the only one that may resume it */
    readonly owner: Principal,
    /** forgotten when its connection ends (3.1.1 clean session; MQTT 5 session expiry 0) */
    public clean: boolean,
  ) {}
  /** QoS 1 messages in flight to the client: ours, or fewer if it said so (MQTT 5 Receive Maximum) */
  get window(): number {
    return Math.min(WINDOW, this.link?.receiveMaximum ?? WINDOW);
  }
  allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = id === 65_535 ? 1 : id + 1;
      if (!this.inflight.has(id)) return id;
    }
  }
}

type Index = Map<string, Map<Session, QoS>>;
interface WildEntry {
  readonly levels: readonly string[];
  readonly subs: Map<Session, QoS>;
}

export class LocalRouter implements Router {
  readonly carriesWill = false;
  private readonly sessions = new Map<string, Session>();
  private readonly exact: Index = new Map();
  private readonly wild = new Map<string, WildEntry>();
  private readonly retained = new Map<string, Message>();
  private readonly sweep: NodeJS.Timeout;

  constructor(
    private readonly opts: { maxQueued: number; sessionExpiryMs: number; now: () => number },
    private readonly drop: DropCounter,
    /** the read ACL, asked at every delivery (with the attestation standing: core/acl.ts) */
    private readonly mayReceive: ReadPolicy = canReceive,
  ) {
    this.sweep = setInterval(() => this.expire(), 60_000);
    this.sweep.unref();
  }

  async open(conn: Connection, cleanStart: boolean): Promise<boolean> {
    const existing = this.sessions.get(conn.clientId);
    let s: Session;
    let present = false;
    // Client ids are disjoint per identity (core/client-id.ts), so another identity should
    // never name this session; if one does, it gets a fresh session, never the old
    // subscriptions or queue, and the old session is discarded.
    if (existing && !cleanStart && !existing.clean && sameIdentity(existing.owner, conn.principal!)) {
      s = existing;
      s.clean = !conn.persistent; // MQTT 5 may change the session's expiry at each connect
      present = true;
    } else {
      if (existing) this.remove(existing); // [MQTT-3.1.2-6] a clean session discards the old one
      s = new Session(conn.clientId, conn.principal!, !conn.persistent);
      this.sessions.set(conn.clientId, s);
    }
    s.link = conn;
    conn.routerState = s;
    return present;
  }

  resume(conn: Connection): void {
    const s = conn.routerState as Session;
    // [MQTT-4.4.0-1] resend unacknowledged QoS 1 messages with DUP, then the queue
    for (const [id, m] of s.inflight) this.send(s, conn, m, 1, m.retain, id, true);
    this.pump(s);
  }

  /**
   * Every PUBLISH to a client goes out here: checked against the read ACL of the principal
   * connected now (not one stored with the session), and dropped as if delivered when over
   * the client's Maximum Packet Size (MQTT 5 §3.1.2.11.4).
   */
  private send(
    s: Session,
    link: Connection,
    m: Message,
    qos: QoS,
    retain: boolean,
    id: number | undefined,
    dup = false,
  ): void {
    if (!this.mayReceive(link.principal!, m.topic)) {
      if (id !== undefined) s.inflight.delete(id);
      this.drop('acl_receive');
      return;
    }
    if (!link.sendPublish(m.topic, m.payload, qos, retain, id, dup)) {
      if (id !== undefined) s.inflight.delete(id);
      this.drop('too_large_for_client');
    }
  }

  publish(from: Connection, msg: Message): void | Promise<void> {
    if (msg.retain) {
      // [MQTT-3.3.1-10/11] an empty retained message clears the topic
      if (msg.payload.length === 0) this.retained.delete(msg.topic);
      else this.retained.set(msg.topic, { ...msg, payload: Buffer.from(msg.payload) });
    }
    const exact = this.exact.get(msg.topic);
    let targets: Map<Session, QoS> | undefined = exact;
    if (this.wild.size) {
      const levels = msg.topic.split('/');
      for (const { levels: f, subs } of this.wild.values()) {
        if (!levelsMatch(f, levels)) continue;
        if (!targets) {
          targets = subs;
          continue;
        }
        if (targets === exact || targets === subs) targets = new Map(targets);
        for (const [s, q] of subs) if ((targets.get(s) ?? -1) < q) targets.set(s, q);
      }
    }
    if (!targets) return;
    let wait: Promise<void>[] | undefined;
    // A forwarded message carries retain=false (§3.3.1.3: only retained copies sent on subscribe keep it).
    for (const [s, subQos] of targets) {
      const q = Math.min(msg.qos, subQos, 1) as QoS;
      this.deliver(s, msg, q, false);
      const link = s.link;
      if (!link) continue;
      if (q === 1) {
        // QoS 1 into a full queue: the publisher's acknowledgement waits until it drains,
        // so the publisher's own window (its unacknowledged messages) holds it back.
        if (s.queue.length >= HIGH) {
          wait ??= [];
          wait.push(this.drained(s));
        }
      } else if (link.backlog() >= BACKLOG_HIGH && !s.blocking?.has(from)) {
        this.block(from, s); // QoS 0 has no acknowledgement to hold: stop reading the publisher
      }
    }
    return wait ? Promise.all(wait).then(() => undefined) : undefined;
  }

  private drained(s: Session): Promise<void> {
    return new Promise((resolve) => {
      s.waiters ??= [];
      s.waiters.push(resolve);
    });
  }

  private release(s: Session): void {
    const w = s.waiters;
    s.waiters = undefined;
    if (w) for (const resolve of w) resolve();
  }

  private block(from: Connection, s: Session): void {
    s.blocking ??= new Set();
    if (!s.blocking.size) {
      // QoS 0 backlog: released when the subscriber's socket drains
      s.link?.socket.once('drain', () => this.unblock(s));
    }
    s.blocking.add(from);
    from.blockedBy ??= new Set();
    const on = from.blockedBy;
    on.add(s);
    if (on.size === 1) from.socket.pause();
  }

  private unblock(s: Session): void {
    if (!s.blocking) return;
    for (const c of s.blocking) {
      c.blockedBy?.delete(s);
      if (!c.blockedBy?.size && c.state !== 'closed') c.socket.resume();
    }
    s.blocking = undefined;
  }

  private deliver(s: Session, msg: Message, qos: QoS, retain: boolean): void {
    const link = s.link;
    if (qos === 0) {
      if (!link) return; // QoS 0 is not queued for an offline client (§4.3.1)
      if (link.backlog() > MAX_BACKLOG) {
        this.drop('slow_consumer');
        return;
      }
      this.send(s, link, msg, 0, retain, undefined);
      return;
    }
    if (link && s.inflight.size < s.window && !s.queue.length) {
      const id = s.allocateId();
      s.inflight.set(id, retain === msg.retain ? msg : { ...msg, retain });
      this.send(s, link, msg, 1, retain, id);
      return;
    }
    // Queued for later: only what the session's identity may read (checked again on sending).
    if (!this.mayReceive(link?.principal ?? s.owner, msg.topic)) {
      this.drop('acl_receive');
      return;
    }
    if (s.queue.length >= (link ? HARD_LIMIT : this.opts.maxQueued)) {
      this.drop('queue_full');
      return;
    }
    s.queue.push({ topic: msg.topic, payload: Buffer.from(msg.payload), qos: 1, retain });
  }

  private pump(s: Session): void {
    const link = s.link;
    if (!link) return;
    while (s.queue.length && s.inflight.size < s.window) {
      const m = s.queue.shift()!;
      const id = s.allocateId();
      s.inflight.set(id, m);
      this.send(s, link, m, 1, m.retain, id);
    }
    if (s.waiters && s.queue.length <= LOW) this.release(s);
  }

  subscribe(conn: Connection, subs: readonly { filter: string; qos: QoS }[]): void {
    const s = conn.routerState as Session;
    for (const { filter, qos } of subs) {
      s.subs.set(filter, qos); // [MQTT-3.8.4-3] a repeated filter replaces the old subscription
      let m: Map<Session, QoS> | undefined;
      if (hasWildcard(filter)) {
        m = this.wild.get(filter)?.subs;
        if (!m) {
          m = new Map();
          this.wild.set(filter, { levels: compileFilter(filter), subs: m });
        }
      } else {
        m = this.exact.get(filter);
        if (!m) {
          m = new Map();
          this.exact.set(filter, m);
        }
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
    // offline: it queues up to maxQueued and no longer holds anyone back
    this.unblock(s);
    this.release(s);
    if (s.clean) this.remove(s);
    else s.expiresAt = this.opts.now() + this.opts.sessionExpiryMs;
  }

  private unindex(s: Session, filter: string): void {
    const wild = hasWildcard(filter);
    const m = wild ? this.wild.get(filter)?.subs : this.exact.get(filter);
    if (!m) return;
    m.delete(s);
    if (m.size) return;
    if (wild) this.wild.delete(filter);
    else this.exact.delete(filter);
  }

  private remove(s: Session): void {
    this.unblock(s);
    this.release(s);
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
