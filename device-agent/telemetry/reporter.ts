// Telemetry periods: inference results are summed into the current period; every
// --telemetry-interval (while affirming) the period is closed into one message, sealed as a
// JWE to the fleet's telemetry key and appended to the outbox, which the sender drains. A new
// model closes the period early, so one message never mixes two models. While not affirming
// nothing is made (the period runs on and the next message covers it).
import type { Standing } from '../attest/attester.ts';
import type { InferenceSink } from '../inference/inference-loop.ts';
import { WindowSummary } from '../inference/window-summary.ts';
import type { AgentLog } from '../log.ts';
import type { LoadedModel, Release } from '../model/model-state.ts';
import type { RunResult } from '../schedule.ts';
import type { MessageIds } from './message-id.ts';
import { telemetryMessage } from './message.ts';
import type { Outbox } from './outbox.ts';
import { sealTelemetry, type TelemetryKeys } from './telemetry-key.ts';

const KEY_ABSENT_RETRY_MS = 300_000;

export interface ReporterDeps {
  readonly keys: TelemetryKeys;
  readonly outbox: Outbox;
  readonly deviceId: string;
  readonly ids: MessageIds;
  readonly intervalMs: number;
  readonly standing: () => Standing;
  readonly loaded: () => LoadedModel | undefined;
  readonly log: AgentLog;
  readonly now: () => Date;
  /** a message is in the outbox: wake the sender */
  readonly onQueued: () => void;
  readonly outboxMaxBytes: number;
}

interface Period {
  readonly from: Date;
  release: Release | undefined;
  summary: WindowSummary | undefined;
  readonly skipped: Map<string, number>;
}

function summaryFor(l: LoadedModel): WindowSummary {
  const md = l.model.metadata;
  return new WindowSummary(
    md.classes,
    md.features,
    md.trainingDistribution.features.map((f) => f.deciles),
  );
}

export class Reporter implements InferenceSink {
  private period: Period;
  private lastEmit = Number.NEGATIVE_INFINITY;
  private saidAbsent = false;
  private emitting: Promise<void> = Promise.resolve();

  constructor(private readonly d: ReporterDeps) {
    this.period = { from: d.now(), release: undefined, summary: undefined, skipped: new Map() };
  }

  record(loaded: LoadedModel, label: number, probabilities: Float32Array, features: Float32Array): void {
    const p = this.period;
    if (p.release?.id !== loaded.release.id || !p.summary) {
      p.release = loaded.release;
      p.summary = summaryFor(loaded);
    }
    p.summary.add(label, probabilities, features);
  }

  skipped(reason: string): void {
    this.period.skipped.set(reason, (this.period.skipped.get(reason) ?? 0) + 1);
  }

  /** A Job run: one message per interval while affirming (extra triggers wait for the interval). */
  run = async (): Promise<RunResult> => {
    if (this.d.standing() !== 'affirming') return 'idle';
    const since = performance.now() - this.lastEmit;
    if (since < this.d.intervalMs * 0.9) return Math.ceil(this.d.intervalMs - since);
    const ok = await this.emit();
    return ok ? this.d.intervalMs : KEY_ABSENT_RETRY_MS;
  };

  /** Closes the period now if it holds windows (a model is being replaced). */
  async closePeriod(): Promise<void> {
    if (!this.period.summary?.count || this.d.standing() !== 'affirming') return;
    try {
      await this.emit();
    } catch (e) {
      this.d.log.warn('telemetry_failed', { error: e instanceof Error ? e.message : String(e) });
    }
  }

  /** Makes one message of the period; false when the fleet has no telemetry key. */
  private emit(): Promise<boolean> {
    const next = this.emitting.then(() => this.emitNow());
    this.emitting = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  private async emitNow(): Promise<boolean> {
    const { log } = this.d;
    const key = await this.d.keys.current(); // a failure leaves the period as it is (Job retries)
    const p = this.period;
    const to = this.d.now();
    const loaded = this.d.loaded();
    this.period = { from: to, release: undefined, summary: undefined, skipped: new Map() };
    this.lastEmit = performance.now();
    if (!key) {
      if (!this.saidAbsent) log.info('telemetry_skipped', { reason: 'no_telemetry_key' });
      this.saidAbsent = true;
      return false;
    }
    this.saidAbsent = false;
    if (p.skipped.size) log.info('windows_skipped', Object.fromEntries(p.skipped));
    const release = p.release ?? loaded?.release;
    const count = p.summary?.count ?? 0;
    const { id } = this.d.ids.next();
    const msg = telemetryMessage({
      messageId: id,
      deviceId: this.d.deviceId,
      sentAt: to,
      model: release
        ? { releaseId: release.id, modelId: release.manifest.model_id, version: release.manifest.version }
        : undefined,
      from: p.from,
      to,
      count,
      inference: p.summary?.inference() ?? null,
      inputStats: p.summary?.inputStats() ?? null,
    });
    const jwe = await sealTelemetry(msg, key);
    const dropped = await this.d.outbox.append(id, jwe);
    if (dropped.count) {
      log.warn('telemetry_dropped', {
        count: dropped.count,
        bytes: dropped.bytes,
        first_message_id: dropped.firstMessageId,
        last_message_id: dropped.lastMessageId,
        outbox_max_bytes: this.d.outboxMaxBytes,
      });
    }
    log.info('telemetry_queued', {
      message_id: id,
      kid: key.kid,
      bytes: jwe.length,
      windows: count,
      ...(msg.inference ? { label: msg.inference.label, anomaly: msg.inference.anomaly } : {}),
      pending: this.d.outbox.pending,
      pending_bytes: this.d.outbox.pendingBytes,
    });
    this.d.onQueued();
    return true;
  }
}
