// Long-lived responses (the SSE revocation feed) were authorized once, when they opened. This
// ends them when their token stops counting: at once when it is revoked through this instance
// (TokenService.onRevoked), and within `recheckMs` when it is revoked on another instance,
// expires or loses the permission (one re-read of each watched token per interval, however
// many streams share it).
import { EdgesealError } from '../../lib/errors.ts';
import type { Permission } from '../core/permissions.ts';
import type { TokenService } from '../core/tokens.ts';

export const TOKEN_RECHECK_MS = 500;

interface Watch {
  readonly tokenId: string;
  readonly permission: Permission;
  readonly onEnd: (why: string) => void;
}

export class TokenWatcher {
  private readonly watches = new Set<Watch>();
  private timer: NodeJS.Timeout | undefined;
  private readonly offRevoked: () => void;

  constructor(
    private readonly tokens: TokenService,
    private readonly recheckMs = TOKEN_RECHECK_MS,
  ) {
    this.offRevoked = tokens.onRevoked((id) => {
      for (const w of this.watches) if (w.tokenId === id) this.end(w, 'the API token has been revoked');
    });
  }

  /** Calls `onEnd` once, when the token no longer allows `permission`; returns the unwatch. */
  watch(tokenId: string, permission: Permission, onEnd: (why: string) => void): () => void {
    const w: Watch = { tokenId, permission, onEnd };
    this.watches.add(w);
    this.schedule();
    return () => {
      this.watches.delete(w);
    };
  }

  close(): void {
    this.offRevoked();
    clearTimeout(this.timer);
    this.watches.clear();
  }

  private end(w: Watch, why: string): void {
    if (!this.watches.delete(w)) return;
    w.onEnd(why);
  }

  private schedule(): void {
    if (this.timer || this.watches.size === 0) return;
    this.timer = setTimeout(() => {
      this.recheckAll().finally(() => {
        this.timer = undefined;
        this.schedule();
      });
    }, this.recheckMs);
    this.timer.unref();
  }

  private async recheckAll(): Promise<void> {
    const byKey = new Map<string, Watch[]>();
    for (const w of this.watches) {
      const k = `${w.tokenId}\n${w.permission}`;
      byKey.set(k, [...(byKey.get(k) ?? []), w]);
    }
    await Promise.all(
      [...byKey.values()].map(async (ws) => {
        try {
          await this.tokens.recheck(ws[0]!.tokenId, ws[0]!.permission);
        } catch (e) {
          // a store that cannot answer right now proves nothing: the next round asks again
          if (e instanceof EdgesealError) for (const w of ws) this.end(w, e.detail);
        }
      }),
    );
  }
}
