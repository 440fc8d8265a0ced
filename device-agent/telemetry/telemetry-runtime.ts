// The telemetry side of the agent, wired: the reporter closes a period into a sealed message
// every interval (while affirming) and appends it to the durable outbox; the sender drains
// the outbox over MQTT whenever the gateway is there. Making and sending are independent, so
// inference and telemetry go on while the gateway is away.
import type { Standing } from '../attest/attester.ts';
import { failureFields, isRefusal } from '../errors.ts';
import type { AgentLog } from '../log.ts';
import type { LoadedModel } from '../model/model-state.ts';
import type { ControlPlane } from '../net/control-plane.ts';
import type { PublishOutcome } from '../net/mqtt-link.ts';
import { Job } from '../schedule.ts';
import { MessageIds } from './message-id.ts';
import { Outbox } from './outbox.ts';
import { Reporter } from './reporter.ts';
import { Sender } from './sender.ts';
import { TelemetryKeys } from './telemetry-key.ts';

/** How long a stopping agent keeps sending what waits in the outbox. */
export const DRAIN_AT_STOP_MS = 3000;

export interface TelemetryRuntimeDeps {
  readonly cp: Pick<ControlPlane, 'telemetryKey'>;
  readonly link: {
    readonly connected: boolean;
    publish(topic: string, payload: string): Promise<PublishOutcome>;
  };
  readonly topic: string;
  readonly outboxDir: string;
  readonly outboxMaxBytes: number;
  readonly deviceId: string;
  readonly intervalMs: number;
  readonly standing: () => Standing;
  readonly loaded: () => LoadedModel | undefined;
  readonly log: AgentLog;
  readonly now: () => Date;
}

export class TelemetryRuntime {
  private constructor(
    private readonly link: TelemetryRuntimeDeps['link'],
    readonly reporter: Reporter,
    private readonly outbox: Outbox,
    private readonly sender: Sender,
    private readonly reportJob: Job,
    private readonly sendJob: Job,
  ) {}

  static async open(d: TelemetryRuntimeDeps): Promise<TelemetryRuntime> {
    const { log } = d;
    const { outbox, recovered } = await Outbox.open(d.outboxDir, d.outboxMaxBytes);
    const ids = new MessageIds();
    if (recovered.pending || recovered.discardedBytes)
      log.info('outbox_recovered', {
        pending: recovered.pending,
        bytes: recovered.bytes,
        segments: recovered.segments,
        discarded_bytes: recovered.discardedBytes,
      });
    if (recovered.dropped.count)
      log.warn('telemetry_dropped', {
        count: recovered.dropped.count,
        bytes: recovered.dropped.bytes,
        first_message_id: recovered.dropped.firstMessageId,
        last_message_id: recovered.dropped.lastMessageId,
        outbox_max_bytes: d.outboxMaxBytes,
      });
    const sender = new Sender({ outbox, link: d.link, topic: d.topic, log });
    const sendJob = new Job(sender.run, {
      onError: (e, retry, attempt) =>
        log.warn('telemetry_failed', { ...failureFields(e), attempt, retry_in_ms: retry }),
    });
    const reporter = new Reporter({
      keys: new TelemetryKeys(d.cp, () => d.now().getTime()),
      outbox,
      deviceId: d.deviceId,
      ids,
      intervalMs: d.intervalMs,
      standing: d.standing,
      loaded: d.loaded,
      log,
      now: d.now,
      onQueued: () => sendJob.trigger(),
      outboxMaxBytes: d.outboxMaxBytes,
    });
    const reportJob = new Job(reporter.run, {
      onError: (e, retry, attempt) =>
        log.warn(isRefusal(e) ? 'telemetry_refused' : 'telemetry_failed', {
          ...failureFields(e),
          attempt,
          retry_in_ms: retry,
        }),
    });
    return new TelemetryRuntime(d.link, reporter, outbox, sender, reportJob, sendJob);
  }

  /** Affirming: make messages (again). */
  affirming(): void {
    this.reportJob.trigger();
  }

  /** Connected to the gateway: send what waits. */
  connected(): void {
    this.sendJob.trigger();
  }

  /**
   * No more messages; what waits is sent if the gateway is there (for at most `drainMs`),
   * and whatever is left stays in the outbox for the next run.
   */
  async stop(drainMs = DRAIN_AT_STOP_MS): Promise<void> {
    await this.reportJob.stop();
    if (this.outbox.pending > 0) this.sendJob.trigger();
    const deadline = Date.now() + drainMs;
    while (this.outbox.pending > 0 && this.link.connected && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    this.sender.stop();
    await this.sendJob.stop();
    await this.outbox.close();
  }
}
