// Protected models (issue 9): release keys that sign manifests, published releases (the
// encrypted package, stored in chunks so any instance can serve byte ranges), and what the
// control plane's telemetry consumer learns from devices (decrypted, idempotent by id).
import {
  bigint,
  boolean,
  doublePrecision,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { bytea } from './ca.ts';

/** Public keys that may sign release manifests (kid = RFC 7638 thumbprint). */
export const releaseKeys = pgTable('release_keys', {
  kid: text('kid').primaryKey(),
  publicKeyDer: bytea('public_key_der').notNull(),
  label: text('label'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
  createdBy: text('created_by').notNull(),
  revokedAt: timestamp('revoked_at', { withTimezone: true }),
  revokedBy: text('revoked_by'),
});

/** A published model release: its signed manifest and what the control plane checked. */
export const releases = pgTable(
  'releases',
  {
    id: text('id').primaryKey(),
    modelId: text('model_id').notNull(),
    version: text('version').notNull(),
    releaseCounter: bigint('release_counter', { mode: 'number' }).notNull(),
    hardwareModels: text('hardware_models').array().notNull(),
    minFirmwareSvn: integer('min_firmware_svn'),
    contentKeyId: text('content_key_id').notNull(),
    /** the compact JWS the devices verify */
    manifest: text('manifest').notNull(),
    releaseKid: text('release_kid').notNull(),
    payloadSha256: text('payload_sha256').notNull(),
    plaintextSha256: text('plaintext_sha256').notNull(),
    plaintextSize: bigint('plaintext_size', { mode: 'number' }).notNull(),
    /** bytes of the package as devices download it (without the key envelope) */
    packageSize: bigint('package_size', { mode: 'number' }).notNull(),
    packageSha256: text('package_sha256').notNull(),
    blobChunkSize: integer('blob_chunk_size').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    createdBy: text('created_by').notNull(),
  },
  (t) => [
    uniqueIndex('releases_model_counter_idx').on(t.modelId, t.releaseCounter),
    index('releases_created_idx').on(t.createdAt),
  ],
);

/** The package bytes, in fixed-size pieces (any instance serves any byte range). */
export const releaseBlobs = pgTable(
  'release_blobs',
  {
    releaseId: text('release_id').notNull(),
    idx: integer('idx').notNull(),
    data: bytea('data').notNull(),
  },
  (t) => [primaryKey({ columns: [t.releaseId, t.idx] })],
);

/** Telemetry as the consumer decrypted it; (device, message id) makes delivery idempotent. */
export const telemetryMessages = pgTable(
  'telemetry_messages',
  {
    deviceId: text('device_id').notNull(),
    messageId: text('message_id').notNull(),
    sentAt: timestamp('sent_at', { withTimezone: true }).notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull(),
    releaseId: text('release_id'),
    modelVersion: text('model_version'),
    /** JSON: the inference result (label, probabilities, anomaly) */
    inference: text('inference'),
    /** JSON: input statistics (per-feature summaries over the reporting window) */
    inputStats: text('input_stats'),
    anomaly: boolean('anomaly').notNull().default(false),
  },
  (t) => [
    primaryKey({ columns: [t.deviceId, t.messageId] }),
    index('telemetry_received_idx').on(t.receivedAt),
  ],
);

/** Each device's latest picture from its telemetry, and the drift verdict. */
export const deviceTelemetry = pgTable('device_telemetry', {
  deviceId: text('device_id').primaryKey(),
  lastSeenAt: timestamp('last_seen_at', { withTimezone: true }).notNull(),
  releaseId: text('release_id'),
  modelVersion: text('model_version'),
  latestInference: text('latest_inference'),
  latestInputStats: text('latest_input_stats'),
  messages: bigint('messages', { mode: 'number' }).notNull().default(0),
  anomalies: bigint('anomalies', { mode: 'number' }).notNull().default(0),
  /** the drift statistic (e.g. the largest per-feature PSI) and whether it passed the threshold */
  driftScore: doublePrecision('drift_score'),
  drifting: boolean('drifting').notNull().default(false),
});
