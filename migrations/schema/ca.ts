import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  customType,
  index,
  integer,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

export const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (v) => Buffer.from(v),
});

/**
 * CA and log signing keys. Private keys only ever as KEK-wrapped ciphertext. CA keys have a
 * certificate; the log key (audit checkpoints, transparency tree heads) has only its SPKI.
 */
export const caKeys = pgTable('ca_keys', {
  id: text('id').primaryKey(),
  role: text('role', { enum: ['root', 'issuing', 'log', 'verifier', 'telemetry', 'key-service'] }).notNull(),
  certDer: bytea('cert_der'),
  publicKeyDer: bytea('public_key_der').notNull(),
  /** AES-256-GCM under the KEK; see ca-service/keys/kek.ts for the format */
  keyWrapped: bytea('key_wrapped').notNull(),
  algorithm: text('algorithm').notNull(),
  active: boolean('active').notNull().default(true),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Production batches: a factory station's right to enroll devices of one model. */
export const batches = pgTable('batches', {
  id: text('id').primaryKey(),
  hardwareModel: text('hardware_model').notNull(),
  quota: integer('quota').notNull(),
  enrolled: integer('enrolled').notNull().default(0),
  idPrefix: text('id_prefix'),
  secretHash: text('secret_hash').notNull(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  revokedAt: timestamp('revoked_at', { withTimezone: true }),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  createdBy: text('created_by').notNull(),
});

export const devices = pgTable(
  'devices',
  {
    id: text('id').primaryKey(),
    batchId: text('batch_id').notNull(),
    hardwareModel: text('hardware_model').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  // `CAM-0001` and `cam-0001` are one device: ids are unique regardless of case
  (t) => [uniqueIndex('devices_id_lower_idx').on(sql`lower(${t.id})`)],
);

/** Every certificate the CA has signed and handed out, device or server. */
export const certificates = pgTable(
  'certificates',
  {
    serial: text('serial').primaryKey(),
    kind: text('kind', { enum: ['device', 'server', 'ocsp', 'service'] }).notNull(),
    deviceId: text('device_id'),
    batchId: text('batch_id'),
    hardwareModel: text('hardware_model'),
    issuerId: text('issuer_id').notNull(),
    subject: text('subject').notNull(),
    keyType: text('key_type').notNull(),
    keyBits: integer('key_bits').notNull(),
    spkiSha256: text('spki_sha256').notNull(),
    notBefore: timestamp('not_before', { withTimezone: true }).notNull(),
    notAfter: timestamp('not_after', { withTimezone: true }).notNull(),
    der: bytea('der').notNull(),
    issuedAt: timestamp('issued_at', { withTimezone: true }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    revocationReason: integer('revocation_reason'),
    /** position in the transparency log (lib/merkle.ts), assigned in the issuing transaction */
    logIndex: bigint('log_index', { mode: 'number' }).notNull(),
    /** RFC 9162 §2.1.1 leaf hash of the certificate DER, hex */
    leafHash: text('leaf_hash').notNull(),
  },
  (t) => [
    index('certificates_device_idx').on(t.deviceId),
    index('certificates_batch_idx').on(t.batchId),
    index('certificates_spki_idx').on(t.spkiSha256),
    index('certificates_not_after_idx').on(t.notAfter),
    index('certificates_revoked_idx').on(t.issuerId, t.revokedAt),
    uniqueIndex('certificates_log_index_idx').on(t.logIndex),
  ],
);

/** One public key belongs to one device (shared-key detection). */
export const deviceKeys = pgTable('device_keys', {
  spkiSha256: text('spki_sha256').primaryKey(),
  deviceId: text('device_id').notNull(),
});

/** Bearer credentials for people and tools; the secret is stored as SHA-256 only. */
export const apiTokens = pgTable('api_tokens', {
  id: text('id').primaryKey(),
  role: text('role').notNull(),
  label: text('label'),
  secretHash: text('secret_hash').notNull(),
  expiresAt: timestamp('expires_at', { withTimezone: true }),
  revokedAt: timestamp('revoked_at', { withTimezone: true }),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * Append-only, hash-chained audit log (lib/audit-chain.ts): `hash` covers the event and
 * `prev_hash`; `seq` is assigned under the lock on `audit_head`.
 */
export const auditEvents = pgTable(
  'audit_events',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true }).notNull(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    outcome: text('outcome', { enum: ['ok', 'refused'] }).notNull(),
    subject: text('subject'),
    reason: text('reason'),
    details: text('details'),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
  (t) => [index('audit_action_idx').on(t.action)],
);

/** The chain head: one row, locked by every append, so appends are serial across instances. */
export const auditHead = pgTable('audit_head', {
  id: integer('id').primaryKey(),
  seq: bigint('seq', { mode: 'number' }).notNull(),
  hash: text('hash').notNull(),
});

/** Signed checkpoints of the chain head (signed by the log key). */
export const auditCheckpoints = pgTable('audit_checkpoints', {
  seq: bigint('seq', { mode: 'number' }).primaryKey(),
  hash: text('hash').notNull(),
  at: timestamp('at', { withTimezone: true }).notNull(),
  signature: bytea('signature').notNull(),
  keyId: text('key_id').notNull(),
});

/**
 * The CRL number per issuer; it only ever grows (RFC 5280 §5.2.3), across restarts and
 * instances. The CRL itself is rebuilt in memory by each instance from the revoked rows.
 */
export const crlState = pgTable('crl_state', {
  issuerId: text('issuer_id').primaryKey(),
  number: bigint('number', { mode: 'number' }).notNull(),
  thisUpdate: timestamp('this_update', { withTimezone: true }).notNull(),
  nextUpdate: timestamp('next_update', { withTimezone: true }).notNull(),
});

/** Size of the transparency log; locked by every append so indexes are dense and ordered. */
export const tlogHead = pgTable('tlog_head', {
  id: integer('id').primaryKey(),
  size: bigint('size', { mode: 'number' }).notNull(),
});

/**
 * Dashboard sign-ins, kept server-side: the cookie holds a random session id whose SHA-256
 * is the key here (never the API token). Ended at sign-out, or when its token is revoked.
 */
export const uiSessions = pgTable('ui_sessions', {
  idHash: text('id_hash').primaryKey(),
  tokenId: text('token_id').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  endedAt: timestamp('ended_at', { withTimezone: true }),
});

/**
 * Gateways that follow the control plane, with how they route. A gateway that routes through
 * its own in-process broker can only deliver to devices on that same gateway, so at most one
 * such gateway may hold a live lease at a time; gateways bridging through an upstream broker
 * may be many. Renewed while the gateway's revocation feed is open; expired leases are free.
 */
export const gatewayLeases = pgTable('gateway_leases', {
  id: text('id').primaryKey(),
  routing: text('routing', { enum: ['local', 'upstream'] }).notNull(),
  /** where it routes (broker URL without credentials), for humans */
  upstream: text('upstream'),
  startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
  renewedAt: timestamp('renewed_at', { withTimezone: true }).notNull(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
});
