// Keys that may sign release manifests (Part 5: a flat list an admin manages; Part 6 puts a
// TUF-style root above them). A key is known by its RFC 7638 thumbprint, the `kid` a
// manifest names; revoking one makes every manifest it signed unverifiable from then on.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { EdgesealError } from '../../lib/errors.ts';
import type { AuditEvent, Clock } from './ports.ts';

export interface ReleaseKey {
  readonly kid: string;
  readonly publicKeyDer: Buffer;
  readonly label: string | null;
  readonly createdAt: Date;
  readonly createdBy: string;
  readonly revokedAt: Date | null;
  readonly revokedBy: string | null;
}

export interface ReleaseKeyPort {
  /** false when the kid is already registered */
  insert(k: ReleaseKey, audit: AuditEvent): Promise<boolean>;
  revoke(kid: string, at: Date, actor: string, audit: AuditEvent): Promise<ReleaseKey | undefined>;
  list(): Promise<ReleaseKey[]>;
}

/** A P-256 public key from PEM, base64 DER SPKI or a JWK; anything else is refused by name. */
export function releasePublicKey(input: string | JWK): KeyObject {
  let key: KeyObject;
  try {
    key =
      typeof input === 'string'
        ? input.includes('-----BEGIN')
          ? createPublicKey(input)
          : createPublicKey({ key: Buffer.from(input, 'base64'), format: 'der', type: 'spki' })
        : createPublicKey({ key: input as never, format: 'jwk' });
  } catch {
    throw new EdgesealError('ERR_INVALID_REQUEST', 'public_key is not a PEM, base64 SPKI or JWK public key');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new EdgesealError(
      'ERR_INVALID_REQUEST',
      'a release key must be an EC P-256 key (manifests are ES256)',
    );
  }
  return key;
}

export const releaseKid = (key: KeyObject): Promise<string> =>
  calculateJwkThumbprint(key.export({ format: 'jwk' }) as JWK, 'sha256');

export class ReleaseKeys {
  constructor(
    private readonly store: ReleaseKeyPort,
    private readonly clock: Clock,
  ) {}

  async register(publicKey: string | JWK, label: string | null, actor: string): Promise<ReleaseKey> {
    const key = releasePublicKey(publicKey);
    if (label !== null && label.length > 128) {
      throw new EdgesealError('ERR_INVALID_REQUEST', 'label must be at most 128 characters');
    }
    const kid = await releaseKid(key);
    const at = this.clock.now();
    const rec: ReleaseKey = {
      kid,
      publicKeyDer: key.export({ format: 'der', type: 'spki' }),
      label,
      createdAt: at,
      createdBy: actor,
      revokedAt: null,
      revokedBy: null,
    };
    const created = await this.store.insert(rec, {
      at,
      actor,
      action: 'release-key.register',
      outcome: 'ok',
      subject: kid,
      details: label ? { label } : {},
    });
    if (!created)
      throw new EdgesealError('ERR_RELEASE_KEY_EXISTS', `release key ${kid} is already registered`);
    return rec;
  }

  async revoke(kid: string, actor: string): Promise<ReleaseKey> {
    const at = this.clock.now();
    const r = await this.store.revoke(kid, at, actor, {
      at,
      actor,
      action: 'release-key.revoke',
      outcome: 'ok',
      subject: kid,
    });
    if (!r) throw new EdgesealError('ERR_NOT_FOUND', `no release key ${kid}`);
    return r;
  }

  list(): Promise<ReleaseKey[]> {
    return this.store.list();
  }

  /** The active keys by kid, for manifest verification. */
  async active(): Promise<Map<string, KeyObject>> {
    const keys = await this.store.list();
    return new Map(
      keys
        .filter((k) => !k.revokedAt)
        .map((k) => [k.kid, createPublicKey({ key: k.publicKeyDer, format: 'der', type: 'spki' })]),
    );
  }
}
