import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BACKOFF_MAX_MS, BACKOFF_MIN_MS, backoffDelay, Job } from './schedule.ts';

describe('backoffDelay', () => {
  it.each([
    // [attempt, random, delay]
    [0, 0.5, 250],
    [1, 0.5, 500],
    [2, 0.5, 1000],
    [6, 0.5, 16_000],
    [7, 0.5, 30_000], // 32 s capped
    [50, 0.5, 30_000],
    [0, 0, 250], // never under 250 ms
    [3, 0, 1600], // −20%
    [3, 1, 2400], // +20%
    [9, 1, 30_000], // never over 30 s
  ])('attempt %i with random %f waits %i ms', (attempt, random, ms) => {
    expect(backoffDelay(attempt, () => random)).toBe(ms);
  });

  it('stays within 250 ms … 30 s for any attempt', () => {
    for (let a = 0; a < 40; a++) {
      const d = backoffDelay(a);
      expect(d).toBeGreaterThanOrEqual(BACKOFF_MIN_MS);
      expect(d).toBeLessThanOrEqual(BACKOFF_MAX_MS);
    }
  });
});

describe('Job', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('retries a failing run with growing backoff, and resets after a success', async () => {
    const outcomes = ['fail', 'fail', 'fail', 'ok', 'fail'];
    const runs: number[] = [];
    const errors: [number, number][] = [];
    const job = new Job(
      async () => {
        runs.push(Date.now());
        if (outcomes.shift() === 'fail') throw new Error('down');
        return 1000;
      },
      { onError: (_e, retryIn, attempt) => errors.push([retryIn, attempt]), random: () => 0.5 },
    );
    const t0 = Date.now();
    job.start();
    await vi.advanceTimersByTimeAsync(250 + 500 + 1000 + 1000 + 10);
    expect(runs.map((t) => t - t0)).toEqual([0, 250, 750, 1750, 2750]);
    expect(errors).toEqual([
      [250, 1],
      [500, 2],
      [1000, 3],
      [250, 1], // a success in between: back to the first step
    ]);
    await job.stop();
  });

  it('trigger() during a run runs once more right after it; idle waits for a trigger', async () => {
    let resolveRun: (() => void) | undefined;
    let count = 0;
    const job = new Job(
      () => {
        count++;
        return new Promise((r) => {
          resolveRun = () => r('idle');
        });
      },
      { onError: () => {} },
    );
    job.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(count).toBe(1);
    job.trigger();
    job.trigger();
    resolveRun!();
    await vi.advanceTimersByTimeAsync(0);
    expect(count).toBe(2); // the two triggers made one more run
    resolveRun!();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(count).toBe(2); // idle: nothing until the next trigger
    job.trigger();
    await vi.advanceTimersByTimeAsync(0);
    expect(count).toBe(3);
    resolveRun!();
    await job.stop();
  });

  it('wakes at most hourly for a run due far ahead, and stop() ends it', async () => {
    let count = 0;
    const job = new Job(
      async () => {
        count++;
        return 200 * 86_400_000; // 200 days: beyond what one timer can wait
      },
      { onError: () => {} },
    );
    job.start();
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(count).toBe(2);
    await job.stop();
    await vi.advanceTimersByTimeAsync(10 * 3_600_000);
    expect(count).toBe(2);
  });
});
