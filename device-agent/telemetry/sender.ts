// Drains the outbox to the gateway, oldest first, one message in flight at a time (QoS 1), so
// the backend sees them in the order they were made. A record leaves the outbox only on its
// PUBACK. A connection lost before the PUBACK leaves it at the head: it is sent again on the
// next connection (the backend may then see it twice; it de-duplicates by message_id).
//
// A PUBACK with a reason code ≥ 0x80 (MQTT 5 §3.4.2.1) is a refusal. One that a resend cannot
// change (topic name invalid 0x90, packet too large 0x95, payload format invalid 0x99) drops
// the message, logged; any other (not authorized 0x87 while quarantined, quota exceeded 0x97,
// unspecified 0x80…) keeps it and retries with backoff, so a device back in good standing
// delivers what it made. Sending is paced (default 50 messages/s) below the gateway's per-device
// rate limit, which disconnects a device that goes faster (0x96).
import { decodeProtectedHeader } from 'jose';
import type { AgentLog } from '../log.ts';
import type { PublishOutcome } from '../net/mqtt-link.ts';
import { backoffDelay, type RunResult } from '../schedule.ts';
import type { Outbox } from './outbox.ts';

export const PERMANENT_REFUSALS: ReadonlySet<number> = new Set([0x90, 0x95, 0x99]);
export const DEFAULT_SEND_RATE = 50;

export interface SenderDeps {
  readonly outbox: Outbox;
  readonly link: {
    readonly connected: boolean;
    publish(topic: string, payload: string): Promise<PublishOutcome>;
  };
  readonly topic: string;
  readonly log: AgentLog;
  /** messages per second at most */
  readonly rate?: number;
  readonly random?: () => number;
}

const kidOf = (jwe: string): string | undefined => {
  try {
    const kid = decodeProtectedHeader(jwe).kid;
    return typeof kid === 'string' ? kid : undefined;
  } catch {
    return undefined;
  }
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Sender {
  private attempt = 0;
  private stopped = false;
  private nextAt = 0;

  constructor(private readonly d: SenderDeps) {}

  stop(): void {
    this.stopped = true;
  }

  /** A Job run: sends until the outbox is empty or the connection is gone; triggered by appends and connects. */
  run = async (): Promise<RunResult> => {
    const { outbox, link, log } = this.d;
    const gap = 1000 / (this.d.rate ?? DEFAULT_SEND_RATE);
    while (!this.stopped) {
      if (!link.connected) return 'idle'; // the next connect triggers a run
      const r = outbox.head();
      if (!r) return 'idle';
      const jwe = await outbox.read(r);
      if (jwe === undefined) {
        if (outbox.head() === r) {
          // still ours but unreadable: nothing a resend could fix
          outbox.ack(r);
          log.warn('telemetry_unreadable', { message_id: r.messageId });
        }
        continue;
      }
      const wait = this.nextAt - performance.now();
      if (wait > 0) await sleep(wait);
      this.nextAt = performance.now() + gap;
      const out = await link.publish(this.d.topic, jwe);
      if (out.ok) {
        outbox.ack(r);
        this.attempt = 0;
        log.info('telemetry_sent', {
          message_id: r.messageId,
          kid: kidOf(jwe),
          bytes: jwe.length,
          pending: outbox.pending,
        });
        continue;
      }
      if (out.reasonCode !== undefined && PERMANENT_REFUSALS.has(out.reasonCode)) {
        outbox.ack(r);
        log.warn('telemetry_refused', {
          message_id: r.messageId,
          reason_code: out.reasonCode,
          dropped: true,
        });
        continue;
      }
      const retry = backoffDelay(this.attempt++, this.d.random);
      if (out.reasonCode !== undefined) {
        log.warn('telemetry_refused', {
          message_id: r.messageId,
          reason_code: out.reasonCode,
          detail: out.error,
          dropped: false,
          retry_in_ms: retry,
        });
        return retry;
      }
      // no PUBACK: the connection went (its next connect triggers us) or timed out
      return link.connected ? retry : 'idle';
    }
    return 'idle';
  };
}
