// Server-side dashboard sessions. The cookie holds a random session id, never the API token;
// the database keeps only the id's SHA-256 and the token it stands for. A session lasts at
// most SESSION_TTL_MS, ends at sign-out, and ends as soon as its token is revoked, expires or
// loses the permission (re-checked on every request, so a revocation on another instance
// counts too).
import { createHash, randomBytes } from 'node:crypto';
import { EdgesealError } from '../../lib/errors.ts';
import type { Permission } from '../core/permissions.ts';
import type { Clock } from '../core/ports.ts';
import type { Principal, TokenService } from '../core/tokens.ts';

export const SESSION_TTL_MS = 8 * 3600_000;
const PERMISSION: Permission = 'audit.read';

export interface UiSessionRecord {
  readonly idHash: string;
  readonly tokenId: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly endedAt: Date | null;
}

export interface UiSessionPort {
  create(s: UiSessionRecord): Promise<void>;
  get(idHash: string): Promise<UiSessionRecord | undefined>;
  /** idempotent */
  end(idHash: string, at: Date): Promise<void>;
}

const idHash = (id: string) => createHash('sha256').update(id).digest('hex');
/** 32 random bytes, base64url: anything else is not a session id of ours */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

const signedOut = (detail: string) => new EdgesealError('ERR_UNAUTHENTICATED', detail);

export class UiSessions {
  constructor(
    private readonly store: UiSessionPort,
    private readonly tokens: TokenService,
    private readonly clock: Clock,
    private readonly random: (n: number) => Buffer = randomBytes,
  ) {}

  /** Signs in with an API token (refusals audited by the token service); the new session id. */
  async start(bearer: string, source: string | undefined): Promise<{ id: string; principal: Principal }> {
    const principal = await this.tokens.authorize(bearer, PERMISSION, source);
    const id = this.random(32).toString('base64url');
    const now = this.clock.now();
    await this.store.create({
      idHash: idHash(id),
      tokenId: principal.tokenId,
      createdAt: now,
      expiresAt: new Date(now.getTime() + SESSION_TTL_MS),
      endedAt: null,
    });
    return { id, principal };
  }

  /** The principal of a live session; a session whose token no longer counts is ended. */
  async resume(id: string | undefined): Promise<Principal> {
    if (!id || !SESSION_ID.test(id)) throw signedOut('not signed in');
    const h = idHash(id);
    const s = await this.store.get(h);
    const now = this.clock.now();
    if (!s || s.endedAt) throw signedOut('signed out');
    if (s.expiresAt <= now) throw signedOut('the session has expired');
    try {
      return await this.tokens.recheck(s.tokenId, PERMISSION);
    } catch (e) {
      await this.store.end(h, now);
      throw e;
    }
  }

  async end(id: string | undefined): Promise<void> {
    if (id && SESSION_ID.test(id)) await this.store.end(idHash(id), this.clock.now());
  }
}
