// The device's MQTT connection to the gateway, through MQTT.js: MQTT 5 over TLS with the
// device certificate, client id = device id, a persistent session (clean start 0 and a
// session expiry, MQTT 5 §3.1.2.4, §3.1.2.11.2). One MQTT.js client per network connection:
// reconnects (with our backoff, not MQTT.js's fixed period) and a renewed certificate both
// make a new one, so the TLS identity of a connection is always the current one.
import { isIP } from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { CurrentIdentity } from '../identity/identity.ts';
import { type AgentLog, errorField } from '../log.ts';
import { backoffDelay } from '../schedule.ts';

export const SESSION_EXPIRY_SECONDS = 3600;
const CONNECT_TIMEOUT_MS = 10_000;
const PUBLISH_TIMEOUT_MS = 10_000;
const END_TIMEOUT_MS = 3_000;
const STABLE_AFTER_MS = 10_000;

export type PublishOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly reasonCode?: number; readonly error: string };

export interface MqttLinkDeps {
  readonly url: string;
  readonly identity: CurrentIdentity;
  readonly log: AgentLog;
  /** the will: what the gateway publishes on our status topic if we vanish */
  readonly will: { readonly topic: string; readonly payload: string };
  /** after each CONNACK 0x00: subscribe, publish status */
  readonly onConnected: (sessionPresent: boolean) => void;
  readonly onMessage: (topic: string, payload: Buffer) => void;
  readonly random?: () => number;
}

/** MQTT.js reports reason codes as a numeric `code` on the error. */
const reasonCodeOf = (e: unknown): number | undefined => {
  const c = (e as { code?: unknown }).code;
  return typeof c === 'number' ? c : undefined;
};

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

export class MqttLink {
  private client: MqttClient | undefined;
  private generation = 0;
  private attempt = 0;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastProblem: Record<string, unknown> | undefined;
  private readonly host: string;
  private readonly port: number;

  constructor(private readonly d: MqttLinkDeps) {
    const u = new URL(d.url);
    this.host = u.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(u.port || 8883);
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  start(): void {
    this.open();
  }

  private options(): IClientOptions {
    const id = this.d.identity.get();
    return {
      protocol: 'mqtts',
      host: this.host,
      port: this.port,
      ...(isIP(this.host) ? {} : { servername: this.host }),
      // passed through to tls.connect (MQTT.js's types do not list it): one context per certificate
      ...({ secureContext: id.secureContext } as Partial<IClientOptions>),
      rejectUnauthorized: true,
      protocolVersion: 5,
      clientId: id.deviceId,
      clean: false,
      properties: { sessionExpiryInterval: SESSION_EXPIRY_SECONDS },
      keepalive: 30,
      connectTimeout: CONNECT_TIMEOUT_MS,
      reconnectPeriod: 0, // reconnects are ours: exponential backoff with jitter
      resubscribe: false, // subscriptions are ours too (a refused one is retried on purpose)
      will: { topic: this.d.will.topic, payload: Buffer.from(this.d.will.payload), qos: 1, retain: false },
    };
  }

  private open(): void {
    if (this.stopped) return;
    const gen = ++this.generation;
    const serial = this.d.identity.get().cert.serial;
    this.lastProblem = undefined;
    const client = mqtt.connect(this.options());
    this.client = client;
    const current = () => gen === this.generation && !this.stopped;
    let wasConnected = false;
    let connectedAt = 0;
    let closed = false;
    client.on('connect', (connack) => {
      if (!current()) return;
      connectedAt = Date.now();
      wasConnected = true;
      this.d.log.info('mqtt_connected', {
        gateway: this.d.url,
        cert_serial: serial,
        session_present: connack.sessionPresent,
      });
      this.d.onConnected(connack.sessionPresent);
    });
    client.on('message', (topic, payload) => {
      if (current()) this.d.onMessage(topic, payload);
    });
    client.on('error', (e) => {
      if (!current()) return;
      const code = reasonCodeOf(e);
      // a CONNACK with a reason code ≥ 0x80 (MQTT 5 §3.2.2.2): the gateway refused us
      this.lastProblem =
        code !== undefined ? { reason_code: code, detail: e.message } : { error: errorField(e) };
    });
    client.on('disconnect', (packet) => {
      // a DISCONNECT from the server (MQTT 5 §3.14): its reason code says why
      if (current())
        this.lastProblem = { reason_code: packet.reasonCode ?? 0, detail: 'disconnected by the gateway' };
    });
    client.on('close', () => {
      if (!current() || closed) return;
      closed = true;
      client.end(true);
      // a connection that held for a while starts the backoff over; one the gateway drops at
      // once (a quarantine, a kick) keeps climbing it
      if (wasConnected && Date.now() - connectedAt > STABLE_AFTER_MS) this.attempt = 0;
      const delay = backoffDelay(this.attempt++, this.d.random);
      // one line per lost connection or failed attempt: dropped after CONNACK, refused by
      // CONNACK, or never got that far (TCP, TLS, timeout)
      const event = wasConnected
        ? 'mqtt_disconnected'
        : this.lastProblem?.['reason_code'] !== undefined
          ? 'mqtt_refused'
          : 'mqtt_connect_failed';
      this.d.log.warn(event, {
        gateway: this.d.url,
        cert_serial: serial,
        ...this.lastProblem,
        retry_in_ms: delay,
      });
      this.retry = setTimeout(() => this.open(), delay);
    });
  }

  /** A renewed certificate: end this connection cleanly (the session stays) and connect with the new one. */
  async reconnect(): Promise<void> {
    if (this.stopped) return;
    clearTimeout(this.retry);
    const old = this.client;
    this.generation++; // the old client's events no longer count
    if (old) await this.end(old);
    this.attempt = 0;
    this.open();
  }

  async publish(topic: string, payload: string | Buffer): Promise<PublishOutcome> {
    const c = this.client;
    if (!c?.connected) return { ok: false, error: 'not connected' };
    // a connection that closes before the PUBACK ends the wait at once (the message is resent
    // on the next connection by whoever keeps it: the telemetry outbox)
    let onClose: (() => void) | undefined;
    const closed = new Promise<never>((_, reject) => {
      onClose = () => reject(new Error('connection closed before PUBACK'));
      c.once('close', onClose);
    });
    closed.catch(() => {});
    try {
      await withTimeout(
        Promise.race([c.publishAsync(topic, payload, { qos: 1 }), closed]),
        PUBLISH_TIMEOUT_MS,
        'PUBACK',
      );
      return { ok: true };
    } catch (e) {
      // MQTT 5 §3.4.2.1: a PUBACK reason code ≥ 0x80 is a refusal of this message
      const code = reasonCodeOf(e);
      return { ok: false, ...(code !== undefined ? { reasonCode: code } : {}), error: errorField(e) };
    } finally {
      if (onClose) c.removeListener('close', onClose);
    }
  }

  /** Subscribes to one filter at QoS 1; the SUBACK reason code (≥ 0x80: refused, MQTT 5 §3.9.3). */
  async subscribe(filter: string): Promise<number> {
    const c = this.client;
    if (!c?.connected) throw new Error('not connected');
    try {
      const granted = await withTimeout(c.subscribeAsync(filter, { qos: 1 }), PUBLISH_TIMEOUT_MS, 'SUBACK');
      return granted[0]?.qos ?? 0;
    } catch (e) {
      const packet = (e as { packet?: { granted?: number[] } }).packet;
      const code = packet?.granted?.[0] ?? reasonCodeOf(e);
      if (code !== undefined && code >= 0x80) return code;
      throw e;
    }
  }

  private async end(c: MqttClient): Promise<void> {
    if (!c.connected) {
      c.end(true);
      return;
    }
    try {
      await withTimeout(c.endAsync(false), END_TIMEOUT_MS, 'DISCONNECT');
    } catch {
      c.end(true);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    const c = this.client;
    this.client = undefined;
    if (c) await this.end(c);
  }
}
