// A small MQTT 3.1.1 client over TCP or TLS: what the gateway's upstream bridge, the tests
// and the benchmark load generator use. QoS 0 and 1; writes batched per event-loop turn.
import { connect as netConnect, type Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import {
  DISCONNECT,
  encodeConnect,
  encodePuback,
  encodePublish,
  encodeSubscribe,
  encodeUnsubscribe,
  PINGREQ,
} from './codec.ts';
import { MqttParser } from './parser.ts';
import type { Packet, QoS, Will } from './packets.ts';

export interface ClientOptions {
  /** mqtt://[user:pass@]host[:1883] or mqtts://host[:8883] */
  readonly url: string;
  readonly clientId: string;
  readonly clean?: boolean;
  readonly keepAlive?: number;
  readonly will?: Will;
  readonly username?: string;
  readonly password?: string;
  /** TLS options for mqtts:// (ca, cert, key, secureContext, servername…) */
  readonly tls?: ConnectionOptions;
  readonly connectTimeoutMs?: number;
  /**
   * Set here rather than after connecting when the session may be resumed: a broker sends
   * a persistent session's messages right behind CONNACK, before connect() resolves.
   */
  readonly onMessage?: (m: IncomingMessage, ack: () => void) => void;
}

export interface IncomingMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly dup: boolean;
}

export class MqttConnectError extends Error {
  override readonly name = 'MqttConnectError';
  constructor(
    message: string,
    /** CONNACK return code, or undefined when the connection failed before one */
    readonly returnCode: number | undefined,
  ) {
    super(message);
  }
}

export class MqttClient {
  sessionPresent = false;
  /** QoS 1: call ack() to send PUBACK (default: PUBACK at once when no handler is set) */
  onMessage: ((m: IncomingMessage, ack: () => void) => void) | undefined;
  onClose: ((err: Error | undefined) => void) | undefined;
  private nextId = 1;
  private readonly waiting = new Map<
    number,
    { resolve: (v: number[]) => void; reject: (e: Error) => void }
  >();
  private out: Buffer[] = [];
  private scheduled = false;
  private closed = false;
  private ping: NodeJS.Timeout | undefined;

  private constructor(readonly socket: Socket) {}

  static connect(opts: ClientOptions): Promise<MqttClient> {
    const u = new URL(opts.url);
    const secure = u.protocol === 'mqtts:';
    const port = Number(u.port || (secure ? 8883 : 1883));
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const socket = secure
      ? tlsConnect({ host, port, servername: /^[\d.:]+$/.test(host) ? undefined : host, ...opts.tls })
      : netConnect({ host, port });
    socket.setNoDelay(true);
    const client = new MqttClient(socket);
    client.onMessage = opts.onMessage;
    const parser = new MqttParser(268_435_460);
    return new Promise<MqttClient>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(
        () => fail(new MqttConnectError(`no CONNACK from ${u.host} in time`, undefined)),
        opts.connectTimeoutMs ?? 10_000,
      );
      const fail = (e: Error) => {
        clearTimeout(timer);
        if (!settled) {
          settled = true;
          socket.destroy();
          reject(e);
        }
      };
      socket.once(secure ? 'secureConnect' : 'connect', () => {
        client.write(
          encodeConnect({
            cleanSession: opts.clean ?? true,
            keepAlive: opts.keepAlive ?? 60,
            clientId: opts.clientId,
            will: opts.will,
            username: opts.username ?? (u.username ? decodeURIComponent(u.username) : undefined),
            password:
              opts.password !== undefined
                ? Buffer.from(opts.password)
                : u.password
                  ? Buffer.from(decodeURIComponent(u.password))
                  : undefined,
          }),
        );
      });
      socket.on('data', (chunk: Buffer) => {
        try {
          parser.feed(chunk, (p) => {
            if (!settled) {
              if (p.type !== 'connack')
                return fail(new MqttConnectError(`expected CONNACK, got ${p.type}`, undefined));
              clearTimeout(timer);
              if (p.returnCode !== 0)
                return fail(new MqttConnectError(`connection refused, code ${p.returnCode}`, p.returnCode));
              settled = true;
              client.sessionPresent = p.sessionPresent;
              client.startPing(opts.keepAlive ?? 60);
              resolve(client);
              return;
            }
            client.handle(p);
          });
        } catch (e) {
          socket.destroy(e as Error);
        }
      });
      socket.on('error', (e) =>
        fail(new MqttConnectError(`cannot connect to ${u.host}: ${e.message}`, undefined)),
      );
      socket.on('close', () => {
        clearTimeout(timer);
        fail(new MqttConnectError(`connection to ${u.host} closed before CONNACK`, undefined));
        client.closedNow();
      });
    });
  }

  private startPing(keepAlive: number) {
    if (keepAlive > 0) {
      this.ping = setInterval(() => this.write(PINGREQ), keepAlive * 500);
      this.ping.unref();
    }
  }

  private closedNow() {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.ping);
    const err = new Error('connection closed');
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
    this.onClose?.(undefined);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private handle(p: Packet) {
    switch (p.type) {
      case 'publish': {
        const m = { topic: p.topic, payload: p.payload, qos: p.qos, retain: p.retain, dup: p.dup };
        const id = p.id;
        const ack = id === undefined ? () => {} : () => this.write(encodePuback(id));
        if (this.onMessage) this.onMessage(m, ack);
        else ack();
        return;
      }
      case 'puback':
      case 'unsuback': {
        this.waiting.get(p.id)?.resolve([]);
        this.waiting.delete(p.id);
        return;
      }
      case 'suback': {
        this.waiting.get(p.id)?.resolve([...p.codes]);
        this.waiting.delete(p.id);
        return;
      }
      default:
        return;
    }
  }

  private write(b: Buffer) {
    if (this.closed) return;
    this.out.push(b);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        const data = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
        this.out = [];
        if (!this.socket.destroyed) this.socket.write(data);
      });
    }
  }

  /** bytes queued to send (for a publisher pacing itself) */
  bufferedBytes(): number {
    let n = this.socket.writableLength;
    for (const b of this.out) n += b.length;
    return n;
  }

  private id(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = id === 65_535 ? 1 : id + 1;
      if (!this.waiting.has(id)) return id;
    }
  }

  private await<T>(id: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: number[]) => void, reject });
    });
  }

  /** QoS 0 resolves when written; QoS 1 when the broker acknowledges (PUBACK). */
  publish(topic: string, payload: Buffer | string, qos: 0 | 1 = 0, retain = false): Promise<void> {
    if (this.closed) return Promise.reject(new Error('connection closed'));
    const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
    if (qos === 0) {
      this.write(encodePublish(topic, body, 0, retain, undefined));
      return Promise.resolve();
    }
    const id = this.id();
    const p = this.await<void>(id);
    this.write(encodePublish(topic, body, 1, retain, id));
    return p;
  }

  /** resolves to the SUBACK return codes (0x80 = refused) */
  subscribe(subs: readonly { filter: string; qos: QoS }[] | string, qos: QoS = 0): Promise<number[]> {
    if (this.closed) return Promise.reject(new Error('connection closed'));
    const list = typeof subs === 'string' ? [{ filter: subs, qos }] : subs;
    const id = this.id();
    const p = this.await<number[]>(id);
    this.write(encodeSubscribe(id, list));
    return p;
  }

  unsubscribe(filters: readonly string[]): Promise<void> {
    const id = this.id();
    const p = this.await<void>(id);
    this.write(encodeUnsubscribe(id, filters));
    return p;
  }

  /** graceful: DISCONNECT (no will), then close */
  end(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.write(DISCONNECT);
    return new Promise((r) => {
      setImmediate(() => {
        this.socket.end();
        r();
      });
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}
