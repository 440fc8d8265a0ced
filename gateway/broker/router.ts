// Where accepted messages go. The local router is an in-process broker; the upstream router
// bridges each session to an MQTT broker (MQTT_UPSTREAM_URL). The broker has already applied
// identity (admission.ts), ACL and payload policy (broker.ts) before calling either.
import type { QoS } from '../../lib/mqtt/packets.ts';
import type { Principal } from '../core/identity.ts';
import type { Connection } from './connection.ts';

export interface Message {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
}

/** May this principal receive a message on this topic, now? (the read ACL, core/acl.ts) */
export type ReadPolicy = (p: Principal, topic: string) => boolean;

export type DropCounter = (
  reason: 'queue_full' | 'slow_consumer' | 'acl_receive' | 'upstream' | 'too_large_for_client',
) => void;

export interface Router {
  /** the upstream broker publishes wills itself (the bridge passes them on at CONNECT) */
  readonly carriesWill: boolean;
  /**
   * Attach a session; resolves to "session present" (§3.2.2.2). cleanStart discards an old
   * session; conn.persistent says whether this one outlives the connection.
   */
  open(conn: Connection, cleanStart: boolean): Promise<boolean>;
  /** after CONNACK: deliver what the session holds (a persistent session's queue) */
  resume(conn: Connection): void;
  /** resolves when the message is accepted (then QoS 1 is acknowledged to the sender) */
  publish(from: Connection, msg: Message): void | Promise<void>;
  subscribe(conn: Connection, subs: readonly { filter: string; qos: QoS }[]): void | Promise<void>;
  /** after SUBACK: retained messages for the new subscriptions */
  afterSubscribe(conn: Connection, filters: readonly string[]): void;
  unsubscribe(conn: Connection, filters: readonly string[]): void | Promise<void>;
  /** the client acknowledged a QoS 1 message we sent */
  acked(conn: Connection, id: number): void;
  /** the connection ended; graceful = no will is to be published */
  close(conn: Connection, graceful: boolean): void;
  stop(): Promise<void>;
  gauges(): Record<string, number>;
}
