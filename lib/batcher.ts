// Natural batching: calls that arrive while a group is being processed are processed
// together in the next group. No timers: under light load a group is one call (no added
// latency); under heavy load groups grow to `maxGroup`. Used for group commit and for
// coalescing the per-request reads of the issuance hot path.

export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

interface Pending<T, R> {
  readonly item: T;
  resolve(v: R): void;
  reject(e: unknown): void;
}

export class Batcher<T, R> {
  private queue: Pending<T, R>[] = [];
  private running = false;

  /** `run` settles every item of a group, in order; a thrown error fails the whole group. */
  constructor(
    private readonly run: (items: readonly T[]) => Promise<Settled<R>[]>,
    private readonly maxGroup = 256,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      // Let everything decided in this turn of the event loop join the first group: requests
      // released together by the previous group come back together (not one, then the rest).
      await new Promise<void>((r) => setImmediate(r));
      while (this.queue.length > 0) {
        const group = this.queue.splice(0, this.maxGroup);
        try {
          const results = await this.run(group.map((p) => p.item));
          group.forEach((p, i) => {
            const r = results[i];
            if (!r) p.reject(new Error('batcher: missing result'));
            else if (r.ok) p.resolve(r.value);
            else p.reject(r.error);
          });
        } catch (e) {
          for (const p of group) p.reject(e);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
