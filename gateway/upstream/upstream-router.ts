// Bridge to an upstream broker (MQTT_UPSTREAM_URL): each device session is mirrored by one
// upstream session with the same client id and clean-session flag, so the upstream broker
// (Mosquitto, EMQX, VerneMQ…) keeps persistent sessions and queues QoS 1 messages for
// offline devices, and any gateway on that broker can serve any device. The gateway stays
// the policy point: only ACL-checked messages go up, and every message coming down is
// checked against the read ACL of the principal connected on this connection (not of
// whoever created the upstream session). Upstream sessions are keyed by the same client id
// as the gateway's, and client ids are disjoint per identity (core/client-id.ts), so no
// identity can resume another's upstream session through a gateway. QoS 1 is acknowledged
// end to end: upward after the upstream PUBACK, downward after the device's PUBACK.
import type { Logger } from 'pino';
import { type IncomingMessage, MqttClient } from '../../lib/mqtt/client.ts';
import type { QoS } from '../../lib/mqtt/packets.ts';
import { canReceive } from '../core/acl.ts';
import type { Connection } from '../broker/connection.ts';
import type { DropCounter, Message, ReadPolicy, Router } from '../broker/router.ts';

interface Bridge {
  readonly client: MqttClient;
  /** device-side packet id → upstream acknowledgement */
  readonly pending: Map<number, () => void>;
  /** deliver what came down before the device had its CONNACK, and from now on directly */
  readonly release: () => void;
}

export class UpstreamRouter implements Router {
  readonly carriesWill = true;
  private readonly bridges = new Set<Bridge>();

  constructor(
    private readonly url: string,
    private readonly log: Logger,
    private readonly drop: DropCounter,
    /** the read ACL, asked at every delivery (with the attestation standing: core/acl.ts) */
    private readonly mayReceive: ReadPolicy = canReceive,
  ) {}

  async open(conn: Connection, _cleanStart: boolean): Promise<boolean> {
    const pending = new Map<number, () => void>();
    let nextId = 1;
    let early: (() => void)[] | undefined = [];
    const onMessage = (m: IncomingMessage, ack: () => void): void => {
      // A resumed upstream session sends its queue at once; the device must see CONNACK first.
      if (early) {
        early.push(() => onMessage(m, ack));
        return;
      }
      if (!this.mayReceive(conn.principal!, m.topic)) {
        // e.g. what a persistent upstream session subscribed to before, or a broker-side ACL gap
        this.drop('acl_receive');
        ack();
        return;
      }
      if (m.qos === 0) {
        if (!conn.sendPublish(m.topic, m.payload, 0, m.retain, undefined)) this.drop('too_large_for_client');
        return;
      }
      let id = nextId;
      while (pending.has(id)) id = id === 65_535 ? 1 : id + 1;
      nextId = id === 65_535 ? 1 : id + 1;
      pending.set(id, ack);
      if (!conn.sendPublish(m.topic, m.payload, 1, m.retain, id, m.dup)) {
        pending.delete(id); // MQTT 5 §3.1.2.11.4: dropped as if delivered
        ack();
        this.drop('too_large_for_client');
      }
    };
    let client: MqttClient;
    try {
      client = await MqttClient.connect({
        url: this.url,
        clientId: conn.clientId,
        // the upstream speaks 3.1.1: one flag says both (an MQTT 5 device asking for a clean
        // start of a persistent session resumes the upstream one)
        clean: !conn.persistent,
        keepAlive: 60,
        will: conn.will,
        connectTimeoutMs: 5000,
        onMessage,
      });
    } catch (e) {
      throw new Error(`upstream broker unavailable: ${(e as Error).message}`);
    }
    const bridge: Bridge = {
      client,
      pending,
      release: () => {
        const held = early ?? [];
        early = undefined;
        for (const deliver of held) deliver();
      },
    };
    conn.routerState = bridge;
    this.bridges.add(bridge);
    client.onClose = () => {
      this.bridges.delete(bridge);
      // Upstream gone (or the session taken over by another gateway): the device reconnects.
      if (conn.state !== 'closed') {
        this.log.info(
          { device_id: conn.principal?.id },
          'upstream session ended; closing the device connection',
        );
        conn.destroy('upstream_lost');
      }
    };
    return client.sessionPresent;
  }

  resume(conn: Connection): void {
    (conn.routerState as Bridge | undefined)?.release();
  }

  private bridge(conn: Connection): Bridge {
    const b = conn.routerState as Bridge | undefined;
    if (!b || b.client.isClosed) throw new Error('no upstream session');
    return b;
  }

  publish(from: Connection, msg: Message): Promise<void> {
    const b = from.routerState as Bridge | undefined;
    if (!b || b.client.isClosed) {
      this.drop('upstream');
      return Promise.reject(new Error('no upstream session'));
    }
    return b.client.publish(msg.topic, msg.payload, Math.min(msg.qos, 1) as 0 | 1, msg.retain);
  }

  async subscribe(conn: Connection, subs: readonly { filter: string; qos: QoS }[]): Promise<void> {
    await this.bridge(conn).client.subscribe(subs);
  }

  afterSubscribe(): void {
    // the upstream broker sends retained messages itself
  }

  async unsubscribe(conn: Connection, filters: readonly string[]): Promise<void> {
    await this.bridge(conn).client.unsubscribe(filters);
  }

  acked(conn: Connection, id: number): void {
    const b = conn.routerState as Bridge | undefined;
    const ack = b?.pending.get(id);
    if (!ack) return;
    b!.pending.delete(id);
    ack();
  }

  close(conn: Connection, graceful: boolean): void {
    const b = conn.routerState as Bridge | undefined;
    if (!b) return;
    b.client.onClose = undefined;
    this.bridges.delete(b);
    // Unacknowledged downward messages stay unacknowledged upstream: a persistent upstream
    // session redelivers them when the device returns. Without DISCONNECT the upstream
    // broker publishes the device's will, as the device would have caused.
    if (graceful) void b.client.end();
    else b.client.destroy();
  }

  async stop(): Promise<void> {
    for (const b of this.bridges) b.client.destroy();
    this.bridges.clear();
  }

  gauges(): Record<string, number> {
    return { edgeseal_gateway_upstream_sessions: this.bridges.size };
  }
}
