// What the authority needs from the outside world. Adapters in ca-service/store implement
// these; tests can implement them in memory.

export interface BatchRecord {
  readonly id: string;
  readonly hardwareModel: string;
  readonly quota: number;
  readonly enrolled: number;
  readonly idPrefix: string | null;
  readonly secretHash: string;
  readonly expiresAt: Date;
  readonly revokedAt: Date | null;
  readonly createdAt: Date;
  readonly createdBy: string;
}

export interface CertificateRecord {
  readonly serial: string;
  readonly kind: 'device' | 'server' | 'ocsp' | 'service';
  readonly deviceId: string | null;
  readonly batchId: string | null;
  readonly hardwareModel: string | null;
  readonly issuerId: string;
  readonly subject: string;
  readonly keyType: string;
  readonly keyBits: number;
  readonly spkiSha256: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly der: Buffer;
  readonly issuedAt: Date;
  readonly revokedAt: Date | null;
  readonly revocationReason: number | null;
}

export interface AuditEvent {
  readonly at: Date;
  /** who: `admin:<token id>`, `batch:<id>`, `device:<id>`, `system` */
  readonly actor: string;
  /** what: `certificate.issue`, `batch.create`, … */
  readonly action: string;
  readonly outcome: 'ok' | 'refused';
  /** the object acted on: a serial, device id or batch id */
  readonly subject?: string | undefined;
  /** for refusals: the error code */
  readonly reason?: string | undefined;
  /** ids and hashes only, never a secret */
  readonly details?: Readonly<Record<string, unknown>> | undefined;
}

/** Everything one issuance writes, committed atomically with its audit event. */
export interface IssuanceRecord {
  readonly certificate: CertificateRecord;
  /** present on first enrollment: the device row and one unit of the batch's quota */
  readonly newDevice?: { readonly id: string; readonly batchId: string; readonly hardwareModel: string };
  /** present when this key is new to the registry */
  readonly newKey?: { readonly spkiSha256: string; readonly deviceId: string };
  /**
   * present on re-enrollment: the certificate being renewed. The commit re-checks, under the
   * device's row lock, that it is still the device's newest and unrevoked certificate, so a
   * revocation that commits first can never be followed by a fresh certificate.
   */
  readonly renews?: { readonly deviceId: string; readonly serial: string };
  readonly audit: AuditEvent;
}

export interface KeyOwnership {
  readonly deviceExists: boolean;
  /** the device that already owns this public key, if any */
  readonly keyOwner: string | null;
}

export interface AuthorityStore {
  getBatch(id: string): Promise<BatchRecord | undefined>;
  lookupDeviceAndKey(deviceId: string, spkiSha256: string): Promise<KeyOwnership>;
  getCertificate(serial: string): Promise<CertificateRecord | undefined>;
  /** Durable before it resolves; throws ERR_DEVICE_EXISTS / ERR_KEY_REUSED / ERR_BATCH_* on conflict. */
  commitIssuance(record: IssuanceRecord): Promise<void>;
  appendAudit(event: AuditEvent): Promise<void>;
}

export interface Clock {
  now(): Date;
}
