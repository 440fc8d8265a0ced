// API bearer tokens: `<id>.<secret>`. Roles are those of PRODUCT.md.
import { EdgesealError } from '../../lib/errors.ts';
import { hashSecret, newId, newSecret, secretMatches } from './credentials.ts';
import type { AuditEvent, Clock } from './ports.ts';

export const ROLES = ['factory', 'auditor', 'security-admin', 'release-manager', 'admin'] as const;
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
}

export interface Principal {
  readonly tokenId: string;
  readonly role: Role;
  /** audit actor string */
  readonly actor: string;
}

export class TokenService {
  constructor(
    private readonly store: TokenPort,
    private readonly clock: Clock,
  ) {}

  async create(role: Role, label: string | null, actor: string, expiresAt: Date | null = null) {
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
    if (rec.revokedAt) throw new EdgesealError('ERR_UNAUTHENTICATED', 'this API token has been revoked');
    if (rec.expiresAt && rec.expiresAt <= this.clock.now()) {
      throw new EdgesealError('ERR_UNAUTHENTICATED', 'this API token has expired');
    }
    if (!(ROLES as readonly string[]).includes(rec.role))
      throw new TypeError(`token ${rec.id} has unknown role ${rec.role}`);
    return { tokenId: rec.id, role: rec.role as Role, actor: `${rec.role}:${rec.id}` };
  }
}
