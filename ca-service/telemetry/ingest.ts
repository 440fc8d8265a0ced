// One telemetry message from the gateway to the database: its topic names the publishing
// device, the envelope opens with the telemetry key, the plaintext parses and names that same
// device, and the store keeps it once. Whatever fails is dropped, counted by reason, and
// logged the first time that reason occurs (ids only, never the payload). A store failure is
// not a refusal: it is thrown, and the message stays unacknowledged.
import type { Logger } from 'pino';
import type { Clock } from '../core/ports.ts';
import type { IngestOutcome } from '../store/telemetry-store.ts';
import { openEnvelope, type TelemetryKey } from './envelope.ts';
import {
  parseTelemetry,
  REFUSALS,
  type Refusal,
  type TelemetryRecord,
  TelemetryRefused,
  telemetryTopicDevice,
} from './message.ts';

export type Outcome = 'stored' | Refusal;

export type TelemetryCounts = Readonly<Record<Outcome, number>>;

export class TelemetryIngest {
  private readonly counts: Record<Outcome, number> = Object.fromEntries(
    ['stored', ...REFUSALS].map((k) => [k, 0]),
  ) as Record<Outcome, number>;

  constructor(
    private readonly key: TelemetryKey,
    private readonly store: { ingest(r: TelemetryRecord): Promise<IngestOutcome> },
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  snapshot(): TelemetryCounts {
    return { ...this.counts };
  }

  async handle(topic: string, payload: Uint8Array): Promise<Outcome> {
    const device = telemetryTopicDevice(topic);
    let messageId: string | undefined;
    try {
      if (device === undefined) throw new TelemetryRefused('bad_topic', 'not devices/{id}/telemetry');
      const record = parseTelemetry(await openEnvelope(payload, this.key), device, this.clock.now());
      messageId = record.messageId;
      if ((await this.store.ingest(record)) === 'replayed')
        throw new TelemetryRefused('replayed', 'message id already stored for this device');
      this.counts.stored++;
      return 'stored';
    } catch (e) {
      if (!(e instanceof TelemetryRefused)) throw e;
      if (this.counts[e.reason]++ === 0) {
        this.log.warn(
          {
            reason: e.reason,
            detail: e.detail,
            ...(device !== undefined ? { device_id: device } : {}),
            ...(messageId !== undefined ? { message_id: messageId } : {}),
          },
          'telemetry message dropped (the first for this reason; the next ones are counted)',
        );
      }
      return e.reason;
    }
  }
}
