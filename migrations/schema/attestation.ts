// Attestation (issue 8): reference values a device's firmware is appraised against, the
// single-use challenges, the signed results, and the content keys released to attested
// devices. The verifier's signing key is a `ca_keys` row with role `verifier`.
import { boolean, index, integer, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { bytea } from './ca.ts';

/**
 * Known firmware (and agent) builds per hardware model: version, security version number,
 * SHA-256. Retired values stay listed (history); denied digests live in `firmware_denied`.
 */
export const firmwareReferences = pgTable(
  'firmware_references',
  {
    id: text('id').primaryKey(),
    component: text('component', { enum: ['firmware', 'agent'] })
      .notNull()
      .default('firmware'),
    hardwareModel: text('hardware_model').notNull(),
    version: text('version').notNull(),
    svn: integer('svn').notNull(),
    /** lowercase hex */
    sha256: text('sha256').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    createdBy: text('created_by').notNull(),
    retiredAt: timestamp('retired_at', { withTimezone: true }),
    retiredBy: text('retired_by'),
  },
  (t) => [
    uniqueIndex('firmware_references_digest_idx').on(t.hardwareModel, t.component, t.sha256),
    index('firmware_references_model_idx').on(t.hardwareModel),
  ],
);

/** Digests that must never be affirmed, whatever model they claim to be. */
export const firmwareDenied = pgTable('firmware_denied', {
  sha256: text('sha256').primaryKey(),
  reason: text('reason'),
  deniedAt: timestamp('denied_at', { withTimezone: true }).notNull(),
  deniedBy: text('denied_by').notNull(),
});

/** Per hardware model: the minimum SVN, and whether the gateway requires a fresh affirming result. */
export const attestationPolicies = pgTable('attestation_policies', {
  hardwareModel: text('hardware_model').primaryKey(),
  minSvn: integer('min_svn'),
  /** auto: required exactly when reference values exist for the model */
  required: text('required', { enum: ['auto', 'required', 'off'] })
    .notNull()
    .default('auto'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
  updatedBy: text('updated_by').notNull(),
});

/** Challenges (RFC 9334 §10.2 nonces): stored hashed, single use, short-lived, any instance. */
export const attestationNonces = pgTable(
  'attestation_nonces',
  {
    /** SHA-256 of the nonce, hex */
    nonceHash: text('nonce_hash').primaryKey(),
    deviceId: text('device_id').notNull(),
    certSerial: text('cert_serial').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    consumedAt: timestamp('consumed_at', { withTimezone: true }),
  },
  (t) => [index('attestation_nonces_expiry_idx').on(t.expiresAt)],
);

/** Every attestation result the verifier signed (EAR JWT), kept for audit and replay of state. */
export const attestationResults = pgTable(
  'attestation_results',
  {
    id: text('id').primaryKey(),
    deviceId: text('device_id').notNull(),
    certSerial: text('cert_serial').notNull(),
    hardwareModel: text('hardware_model').notNull(),
    status: text('status', { enum: ['affirming', 'warning', 'contraindicated'] }).notNull(),
    /** JSON: the AR4SI trustworthiness vector */
    trustVector: text('trust_vector').notNull(),
    /** JSON: [{ code, detail }] */
    reasons: text('reasons').notNull(),
    firmwareSha256: text('firmware_sha256'),
    firmwareVersion: text('firmware_version'),
    firmwareSvn: integer('firmware_svn'),
    agentSha256: text('agent_sha256'),
    /** RFC 7638 thumbprint of the wrapping key the evidence carried (cnf) */
    wrappingKeyThumbprint: text('wrapping_key_thumbprint'),
    issuedAt: timestamp('issued_at', { withTimezone: true }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    /** the signed EAR (compact JWS); null for a re-appraisal the device never saw */
    token: text('token'),
    /** set when a policy change re-appraised the stored measurements (deny, min SVN) */
    reappraisal: boolean('reappraisal').notNull().default(false),
  },
  (t) => [index('attestation_results_device_idx').on(t.deviceId, t.issuedAt)],
);

/** The latest result per device: what the gateway gates on and `attest status` shows. */
export const deviceAttestation = pgTable(
  'device_attestation',
  {
    deviceId: text('device_id').primaryKey(),
    resultId: text('result_id').notNull(),
    hardwareModel: text('hardware_model').notNull(),
    status: text('status', { enum: ['affirming', 'warning', 'contraindicated'] }).notNull(),
    firmwareSha256: text('firmware_sha256'),
    firmwareSvn: integer('firmware_svn'),
    issuedAt: timestamp('issued_at', { withTimezone: true }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [index('device_attestation_firmware_idx').on(t.firmwareSha256)],
);

/**
 * Content keys the key service releases to attested devices: AES-256 keys wrapped under the
 * KEK (lib/key-wrap.ts, AAD binds the row id). Part 5 fills it with model keys.
 */
export const contentKeys = pgTable('content_keys', {
  id: text('id').primaryKey(),
  keyWrapped: bytea('key_wrapped').notNull(),
  /** what the key protects, for humans: a model release id, "test" … */
  label: text('label'),
  /** hardware models it may be released to; empty = any */
  hardwareModels: text('hardware_models').array().notNull().default([]),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
  createdBy: text('created_by').notNull(),
});
