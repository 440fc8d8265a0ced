// The telemetry consumer's MQTT side (MQTT.js): a backend service identity on the gateway,
// a persistent session (clean start off, MQTT 5 session expiry) subscribed to
// devices/+/telemetry at QoS 1, reconnecting with backoff, renewing its certificate at two
// thirds of its life.
//
// Acknowledged only after the write committed. MQTT.js sends a QoS 1 PUBACK when
// handleMessage calls back, and reads no further packet until then — one message per
// database commit. So handleMessage calls back at once with an error, which makes MQTT.js
// move on without a PUBACK (mqtt 5.x handlers/publish.js), and the PUBACK is sent here once
// the message's group commit is done. PUBACKs go out in the order the PUBLISHes came
// [MQTT-4.6.0-2]: a message settled early waits for those before it. A connection that ends
// forgets its unsent PUBACKs: the broker resends those messages on the next connection
// [MQTT-4.4.0-1], where the store finds them already stored (counted as replayed).
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';

export const TELEMETRY_FILTER = 'devices/+/telemetry';
/** MQTT 5 session expiry asked for: the gateway keeps our queue this long while we are away */
const SESSION_EXPIRY_SECONDS = 7 * 86_400;
/** QoS 1 messages the broker may have in flight to us (MQTT 5 Receive Maximum) */
const RECEIVE_MAXIMUM = 512;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;
/** how long a stop waits for settled messages to be acknowledged */
const DRAIN_MS = 5_000;

export interface ConsumerIdentity {
  readonly keyPem: string;
  readonly certChainPem: string;
  readonly serial: string;
  /** when to come back with a fresh certificate */
  readonly renewAt: Date;
}

export interface ConsumerDeps {
  readonly url: string;
  readonly clientId: string;
  /** trust anchors for the gateway's server certificate (PEM) */
  readonly ca: string;
  /** the current identity, renewed by the provider when due */
  readonly identity: () => Promise<ConsumerIdentity>;
  /** settles once the message is stored or refused; throws when it could not be stored */
  readonly handle: (topic: string, payload: Buffer) => Promise<unknown>;
  readonly log: Logger;
  readonly now: () => Date;
}

/** A deferred PUBACK of the current connection. */
interface Ack {
  readonly id: number;
  done: boolean;
}

class Connection {
  readonly acks: Ack[] = [];
  subscribed = false;
  private wake: (() => void) | undefined;
  constructor(readonly client: MqttClient) {}

  /** PUBACKs for the settled prefix, in arrival order */
  flush(): void {
    while (this.acks[0]?.done) {
      const { id } = this.acks.shift()!;
      if (this.client.connected) {
        // [MQTT-4.3.2-2] the PUBACK carries the PUBLISH's packet identifier
        (this.client as unknown as PubackSender)._sendPacket({ cmd: 'puback', messageId: id, reasonCode: 0 });
      }
    }
    if (!this.acks.length) this.wake?.();
  }

  drained(ms: number): Promise<void> {
    if (!this.acks.length) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}

interface PubackSender {
  _sendPacket(packet: { cmd: 'puback'; messageId: number; reasonCode: number }): void;
}

export class TelemetryConsumer {
  private current: Connection | undefined;
  private stopping = false;
  private backoff = BACKOFF_MIN_MS;
  private retry: NodeJS.Timeout | undefined;
  private renew: NodeJS.Timeout | undefined;
  private connects = 0;
  private lastError = '';

  constructor(private readonly d: ConsumerDeps) {}

  /** connected and subscribed */
  get connected(): boolean {
    return this.current?.client.connected === true && this.current.subscribed;
  }

  start(): void {
    this.d.log.info({ gateway_url: this.d.url, client_id: this.d.clientId }, 'telemetry consumer started');
    void this.attempt();
  }

  async close(summary: () => Record<string, unknown>): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearTimeout(this.retry);
    clearTimeout(this.renew);
    const c = this.current;
    this.current = undefined;
    if (c) {
      await c.drained(DRAIN_MS);
      await new Promise<void>((r) => c.client.end(false, {}, () => r()));
    }
    this.d.log.info({ gateway_url: this.d.url, ...summary() }, 'telemetry consumer stopped');
  }

  private schedule(): void {
    if (this.stopping) return;
    const ms = this.backoff * (0.8 + Math.random() * 0.4);
    this.backoff = Math.min(BACKOFF_MAX_MS, this.backoff * 2);
    this.retry = setTimeout(() => void this.attempt(), ms);
    this.retry.unref();
  }

  private async attempt(): Promise<void> {
    if (this.stopping) return;
    let id: ConsumerIdentity;
    try {
      id = await this.d.identity();
    } catch (err) {
      this.d.log.error({ err }, 'telemetry consumer: no service certificate; will retry');
      return this.schedule();
    }
    if (this.stopping) return;
    const options: IClientOptions = {
      clientId: this.d.clientId,
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: SESSION_EXPIRY_SECONDS, receiveMaximum: RECEIVE_MAXIMUM },
      reconnectPeriod: 0, // reconnection is ours: backoff, and a fresh certificate when due
      resubscribe: false,
      connectTimeout: 10_000,
      keepalive: 30,
      key: id.keyPem,
      cert: id.certChainPem,
      ca: this.d.ca,
      rejectUnauthorized: true,
    };
    const client = mqtt.connect(this.d.url, options);
    const conn = new Connection(client);
    this.current = conn;
    client.handleMessage = (packet, callback) => {
      if (packet.qos === 0) {
        callback();
        void this.process(conn, packet.topic, packet.payload as Buffer, undefined);
        return;
      }
      if (this.stopping || this.current !== conn) return callback(DEFERRED); // resent next time
      const ack: Ack = { id: packet.messageId!, done: false };
      conn.acks.push(ack);
      callback(DEFERRED);
      void this.process(conn, packet.topic, packet.payload as Buffer, ack);
    };
    client.on('connect', (connack) => {
      this.connects++;
      this.d.log.info(
        {
          gateway_url: this.d.url,
          client_id: this.d.clientId,
          cert_serial: id.serial,
          session_present: connack.sessionPresent,
          reconnect: this.connects > 1,
        },
        'telemetry consumer connected',
      );
      // always (re)subscribe: harmless on a resumed session, needed on a new one
      client.subscribe(TELEMETRY_FILTER, { qos: 1 }, (err, granted) => {
        const code = granted?.[0]?.qos;
        if (err || code === undefined || code >= 0x80) {
          this.d.log.error(
            { err, reason_code: code, filter: TELEMETRY_FILTER },
            'telemetry consumer: subscription refused',
          );
          client.end(true);
          return;
        }
        conn.subscribed = true;
        this.backoff = BACKOFF_MIN_MS;
        this.lastError = '';
      });
      const due = id.renewAt.getTime() - this.d.now().getTime();
      clearTimeout(this.renew);
      this.renew = setTimeout(() => void this.cycle(conn), Math.max(0, Math.min(due, 2 ** 31 - 1)));
      this.renew.unref();
    });
    client.on('error', (err) => {
      // said once per kind of failure, not once per attempt
      if (err.message !== this.lastError) {
        this.lastError = err.message;
        this.d.log.warn(
          { err: { message: err.message }, gateway_url: this.d.url },
          'telemetry consumer: connection error',
        );
      }
    });
    client.on('close', () => {
      if (this.current !== conn) return;
      this.current = undefined;
      clearTimeout(this.renew);
      client.end(true);
      if (!this.stopping) {
        if (conn.subscribed)
          this.d.log.info(
            { gateway_url: this.d.url, unacknowledged: conn.acks.length },
            'telemetry consumer disconnected; reconnecting with backoff',
          );
        this.schedule();
      }
    });
  }

  /** Renewal: finish what is in hand, end the connection, come back with a fresh certificate. */
  private async cycle(conn: Connection): Promise<void> {
    if (this.current !== conn || this.stopping) return;
    this.backoff = BACKOFF_MIN_MS;
    await conn.drained(DRAIN_MS);
    conn.client.end(false);
  }

  private async process(
    conn: Connection,
    topic: string,
    payload: Buffer,
    ack: Ack | undefined,
  ): Promise<void> {
    let delay = BACKOFF_MIN_MS;
    for (;;) {
      try {
        await this.d.handle(topic, payload);
        break;
      } catch (err) {
        // the store failed: keep the message unacknowledged and try again while connected
        this.d.log.error({ err }, 'telemetry consumer: storing a message failed; will retry');
        if (this.current !== conn || this.stopping) return;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(BACKOFF_MAX_MS, delay * 2);
        if (this.current !== conn || this.stopping) return;
      }
    }
    if (!ack) return;
    ack.done = true;
    conn.flush();
  }
}

/** Tells MQTT.js to go on without sending a PUBACK: we send it after the commit. */
const DEFERRED = new Error('PUBACK deferred until the message is committed');
