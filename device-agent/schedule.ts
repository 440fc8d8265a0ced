// When things run: exponential backoff with jitter for retries, and a Job — one exchange run
// one at a time that says itself when it is next due. Every loop of the agent (renewal,
// attestation, key release, telemetry, the MQTT connection) is a Job or uses backoffDelay.

export const BACKOFF_MIN_MS = 250;
export const BACKOFF_MAX_MS = 30_000;
/**
 * The longest single timer. A run that is due later (a renewal months away) is woken at this
 * interval and says again how long is left, so a suspended machine or a changed clock is
 * noticed within the hour. Also below setTimeout's 2^31-1 ms limit.
 */
export const MAX_TIMER_MS = 3_600_000;

/**
 * Delay before retry number `attempt` (0 for the first): 250 ms doubling up to 30 s, each
 * spread ±20% at random so a fleet that lost its control plane at once does not come back
 * in step.
 */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(attempt, 16));
  const jittered = base * (0.8 + 0.4 * random());
  return Math.round(Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_MIN_MS, jittered)));
}

/**
 * What a run returns: milliseconds until it should run again, or `idle` to wait for the
 * next trigger(). A run that throws is retried with backoff; `onError` says how it failed.
 */
export type RunResult = number | 'idle';

export interface JobOptions {
  readonly onError: (err: unknown, retryInMs: number, attempt: number) => void;
  readonly random?: () => number;
}

export class Job {
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private attempt = 0;

  constructor(
    private readonly run: () => Promise<RunResult>,
    private readonly opts: JobOptions,
  ) {}

  /** Runs after `delayMs` (default now). */
  start(delayMs = 0): void {
    this.schedule(delayMs);
  }

  /** Runs as soon as possible: now, or right after the run in progress. */
  trigger(): void {
    if (this.stopped) return;
    if (this.current) this.again = true;
    else this.schedule(0);
  }

  get running(): boolean {
    return this.current !== undefined;
  }

  /** No more runs; resolves when the one in progress (if any) has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.current;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const wait = Math.min(Math.max(0, ms), MAX_TIMER_MS);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.current = this.tick().finally(() => {
        this.current = undefined;
      });
    }, wait);
  }

  private async tick(): Promise<void> {
    let next: RunResult;
    try {
      next = await this.run();
      this.attempt = 0;
    } catch (e) {
      next = backoffDelay(this.attempt, this.opts.random);
      this.attempt++;
      if (!this.stopped) this.opts.onError(e, next, this.attempt);
    }
    if (this.stopped) return;
    if (this.again) {
      this.again = false;
      next = 0;
    }
    if (next !== 'idle') this.schedule(next);
  }
}
