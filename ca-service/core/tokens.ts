// API bearer tokens: `<id>.<secret>`. Roles are those of PRODUCT.md.
import { EdgesealError } from '../../lib/errors.ts';
import { hashSecret, newId, newSecret, secretMatches } from './credentials.ts';
import { allows, PERMISSIONS, type Permission } from './permissions.ts';
import type { AuditEvent, Clock } from './ports.ts';
import { type RefusalSink, verifiedCaller } from './refusals.ts';

export const ROLES = ['factory', 'auditor', 'security-admin', 'release-manager', 'admin', 'gateway'] as const;
export type Role = (typeof ROLES)[number];

export interface TokenRecord {
  readonly id: string;
  readonly role: string;
  readonly label: string | null;
  readonly secretHash: string;
  readonly expiresAt: Date | null;
  readonly revokedAt: Date | null;
  readonly createdAt: Date;
}

export interface TokenPort {
  insert(t: TokenRecord, audit: AuditEvent): Promise<void>;
  get(id: string): Promise<TokenRecord | undefined>;
  list(): Promise<TokenRecord[]>;
  /** idempotent; undefined when the token does not exist */
  revoke(id: string, at: Date, audit: AuditEvent): Promise<TokenRecord | undefined>;
}

export interface AuditSink {
  appendAudit(event: AuditEvent): Promise<void>;
}

export interface Principal {
  readonly tokenId: string;
  readonly role: Role;
  /** audit actor string */
  readonly actor: string;
}

export class TokenService {
  private readonly revokedListeners = new Set<(tokenId: string) => void>();

  constructor(
    private readonly store: TokenPort,
    private readonly clock: Clock,
    private readonly refusals?: RefusalSink,
  ) {}

  /**
   * Authenticates a bearer token and checks it may do `permission`. Every refusal is
   * audited (who, what, why, from where) before it is thrown.
   */
  async authorize(
    bearer: string | undefined,
    permission: Permission,
    source?: string | undefined,
  ): Promise<Principal> {
    let principal: Principal | undefined;
    try {
      if (!bearer)
        throw new EdgesealError(
          'ERR_UNAUTHENTICATED',
          'this endpoint needs an API token (Authorization: Bearer …)',
        );
      principal = await this.authenticate(bearer);
      if (!allows(principal.role, permission)) {
        throw new EdgesealError(
          'ERR_FORBIDDEN',
          `role ${principal.role} may not ${permission}; it needs ${PERMISSIONS[permission].join(' or ')}`,
        );
      }
      return principal;
    } catch (e) {
      if (e instanceof EdgesealError && this.refusals) {
        const tokenId = bearer?.split('.')[0] ?? '';
        const actor =
          principal?.actor ?? (/^tok_[a-z0-9]{1,32}$/.test(tokenId) ? `unverified:${tokenId}` : 'anonymous');
        await this.refusals
          .refused({
            event: { at: this.clock.now(), actor, action: permission, outcome: 'refused', reason: e.code },
            source,
            verified: verifiedCaller(actor, e.code),
          })
          .catch(() => {});
      }
      throw e;
    }
  }

  list(): Promise<TokenRecord[]> {
    return this.store.list();
  }

  async revoke(id: string, actor: string): Promise<TokenRecord> {
    const now = this.clock.now();
    const t = await this.store.revoke(id, now, {
      at: now,
      actor,
      action: 'token.revoke',
      outcome: 'ok',
      subject: id,
    });
    if (!t) throw new EdgesealError('ERR_NOT_FOUND', `token ${id} does not exist`);
    for (const l of this.revokedListeners) l(id);
    return t;
  }

  /** Called with the id of every token revoked through this instance; returns the unsubscribe. */
  onRevoked(l: (tokenId: string) => void): () => void {
    this.revokedListeners.add(l);
    return () => this.revokedListeners.delete(l);
  }

  /**
   * Re-checks a token that authenticated earlier (a dashboard session, an open stream): it
   * must still exist, be neither revoked nor expired, and still allow `permission`.
   */
  async recheck(tokenId: string, permission: Permission): Promise<Principal> {
    const rec = await this.store.get(tokenId);
    if (!rec) throw new EdgesealError('ERR_UNAUTHENTICATED', 'this API token no longer exists');
    const p = this.principal(rec);
    if (!allows(p.role, permission)) {
      throw new EdgesealError('ERR_FORBIDDEN', `role ${p.role} may not ${permission}`);
    }
    return p;
  }

  async create(role: Role, label: string | null, actor: string, expiresAt: Date | null = null) {
    if (!(ROLES as readonly string[]).includes(role)) {
      throw new EdgesealError('ERR_INVALID_REQUEST', `role "${role}" is not one of ${ROLES.join(', ')}`);
    }
    if (role === 'factory') {
      throw new EdgesealError(
        'ERR_INVALID_REQUEST',
        'factory stations use production batch credentials: edgeseal batch create',
      );
    }
    const now = this.clock.now();
    const secret = newSecret();
    const rec: TokenRecord = {
      id: newId('tok'),
      role,
      label,
      secretHash: hashSecret(secret),
      expiresAt,
      revokedAt: null,
      createdAt: now,
    };
    await this.store.insert(rec, {
      at: now,
      actor,
      action: 'token.create',
      outcome: 'ok',
      subject: rec.id,
      details: { role },
    });
    return { token: `${rec.id}.${secret}`, record: rec };
  }

  async authenticate(bearer: string): Promise<Principal> {
    const dot = bearer.indexOf('.');
    const rec = dot > 0 ? await this.store.get(bearer.slice(0, dot)) : undefined;
    if (!rec || !secretMatches(rec.secretHash, bearer.slice(dot + 1))) {
      throw new EdgesealError('ERR_UNAUTHENTICATED', 'unknown or malformed API token');
    }
    return this.principal(rec);
  }

  /** The principal of a token whose secret matched: refused if revoked or expired. */
  private principal(rec: TokenRecord): Principal {
    if (rec.revokedAt) throw new EdgesealError('ERR_UNAUTHENTICATED', 'this API token has been revoked');
    if (rec.expiresAt && rec.expiresAt <= this.clock.now()) {
      throw new EdgesealError('ERR_UNAUTHENTICATED', 'this API token has expired');
    }
    if (!(ROLES as readonly string[]).includes(rec.role))
      throw new TypeError(`token ${rec.id} has unknown role ${rec.role}`);
    return { tokenId: rec.id, role: rec.role as Role, actor: `${rec.role}:${rec.id}` };
  }
}

/** An API token lives from a minute to ten years, or until revoked when no expiry is given. */
export const TOKEN_LIFETIME_SECONDS = { min: 60, max: 3650 * 86_400 } as const;

/** The expiry of a token that lives `seconds` from `now`; out of range is the client's error, named. */
export function tokenExpiry(now: Date, seconds: number, asWritten: string): Date {
  if (
    !Number.isSafeInteger(seconds) ||
    seconds < TOKEN_LIFETIME_SECONDS.min ||
    seconds > TOKEN_LIFETIME_SECONDS.max
  ) {
    throw new EdgesealError(
      'ERR_INVALID_REQUEST',
      `expires_in "${asWritten}" is out of range: a token lives from 1 minute to 3650 days`,
    );
  }
  return new Date(now.getTime() + seconds * 1000);
}

/** What clients see of a token: never the hash. */
export const tokenView = (t: TokenRecord, now: Date) => ({
  id: t.id,
  role: t.role,
  label: t.label,
  status: t.revokedAt ? 'revoked' : t.expiresAt && t.expiresAt <= now ? 'expired' : 'active',
  expires_at: t.expiresAt?.toISOString() ?? null,
  revoked_at: t.revokedAt?.toISOString() ?? null,
  created_at: t.createdAt.toISOString(),
});
