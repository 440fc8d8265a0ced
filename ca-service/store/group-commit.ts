// Group commit: requests that arrive while a transaction is in flight are written together
// in the next one. One INSERT per table per group instead of per request is what lets
// issuance store every certificate without becoming storage-bound. If a group fails, each
// item is retried alone so a conflict fails only its own request.

interface Pending<T> {
  readonly item: T;
  resolve(): void;
  reject(e: unknown): void;
}

export class GroupCommit<T> {
  private readonly queue: Pending<T>[] = [];
  private draining = false;

  constructor(
    private readonly writeGroup: (items: readonly T[]) => Promise<void>,
    private readonly writeOne: (item: T) => Promise<void>,
    private readonly maxGroup = 256,
  ) {}

  submit(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        const group = this.queue.splice(0, this.maxGroup);
        try {
          if (group.length === 1) await this.writeOne(group[0]!.item);
          else await this.writeGroup(group.map((p) => p.item));
          for (const p of group) p.resolve();
        } catch (e) {
          if (group.length === 1) {
            group[0]!.reject(e);
            continue;
          }
          for (const p of group) {
            try {
              await this.writeOne(p.item);
              p.resolve();
            } catch (err) {
              p.reject(err);
            }
          }
        }
      }
    } finally {
      this.draining = false;
    }
  }
}
