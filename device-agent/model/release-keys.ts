// The release keys a manifest may be signed by, from GET /v1/release-keys, cached in memory.
// The list is fetched again when it is older than its lifetime or when a manifest names a kid
// the cache does not know (a key added since). A kid the control plane lists as revoked is
// refused by name (ReleaseKeyRevoked) before any signature is checked; a kid it does not list
// at all is left to verifyManifest, which refuses it as ReleaseKeyUnknown.
// Part 6 replaces this list with the TUF-style key chain.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import { releaseKeyId } from '../../lib/model-package/index.ts';
import type { ReleaseKeyEntry } from '../net/control-plane.ts';
import { refuse } from './refusal.ts';

export const RELEASE_KEYS_TTL_MS = 300_000;

export class ReleaseKeyCache {
  private active = new Map<string, KeyObject>();
  private revoked = new Set<string>();
  private fetchedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly fetchKeys: () => Promise<ReleaseKeyEntry[]>,
    private readonly now: () => number = Date.now,
    private readonly ttlMs = RELEASE_KEYS_TTL_MS,
  ) {}

  /**
   * The active keys to verify `manifestJws` with (a Map for verifyManifest). Throws
   * ReleaseKeyRevoked when its kid is revoked.
   */
  async keysFor(manifestJws: string): Promise<ReadonlyMap<string, KeyObject>> {
    let kid: unknown;
    try {
      kid = decodeProtectedHeader(manifestJws).kid;
    } catch {
      kid = undefined; // verifyManifest names what is wrong with it
    }
    const stale = this.now() - this.fetchedAt > this.ttlMs;
    const unknown = typeof kid === 'string' && !this.active.has(kid) && !this.revoked.has(kid);
    if (stale || unknown) await this.refresh();
    if (typeof kid === 'string' && this.revoked.has(kid))
      refuse('ReleaseKeyRevoked', `release key ${kid.slice(0, 64)} is revoked`);
    return this.active;
  }

  private async refresh(): Promise<void> {
    const entries = await this.fetchKeys();
    const active = new Map<string, KeyObject>();
    const revoked = new Set<string>();
    for (const e of entries) {
      if (e.status === 'revoked') {
        revoked.add(e.kid);
        continue;
      }
      try {
        const key = createPublicKey({ key: e.jwk as never, format: 'jwk' });
        // registered under its own thumbprint only (verifyManifest checks again)
        if (releaseKeyId(key) === e.kid) active.set(e.kid, key);
      } catch {
        // not a P-256 key: a manifest naming it is then ReleaseKeyUnknown
      }
    }
    this.active = active;
    this.revoked = revoked;
    this.fetchedAt = this.now();
  }
}
