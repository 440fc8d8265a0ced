// The authority: decides whether a request gets a certificate and signs it. Knows nothing
// of HTTP or SQL; everything outside comes through AuthorityStore, Clock and the Issuer.
import { randomBytes } from 'node:crypto';
import { EdgesealError } from '../../lib/errors.ts';
import { randomSerial } from '../../lib/x509/certificate.ts';
import { type ParsedCsr, parseCsr, verifyCsrSignature } from '../../lib/x509/csr.ts';
import { attributeValues } from '../../lib/x509/name.ts';
import { OID } from '../../lib/x509/oids.ts';
import { secretMatches } from './credentials.ts';
import { checkDeviceId } from './device-id.ts';
import type { Issuer } from './issuer.ts';
import type { AuditEvent, AuthorityStore, BatchRecord, CertificateRecord, Clock } from './ports.ts';
import { type RefusalSink, verifiedCaller } from './refusals.ts';
import { deviceCertificate } from './profiles.ts';

export interface AuthorityOptions {
  readonly trustDomain: string;
  readonly deviceValidityDays: number;
  /** notBefore is set this far in the past to tolerate device clock skew */
  readonly backdateSeconds: number;
}

export interface BatchCredential {
  readonly batchId: string;
  readonly secret: string;
}

export interface EnrollRequest {
  /** reads and decodes the request body; its errors are refusals and audited like any other */
  readonly readCsr: () => Promise<Buffer>;
  readonly credential: BatchCredential | undefined;
  /** JSON twin only: the model the station says it is enrolling (known once the body is read) */
  readonly hardwareModel?: () => string | undefined;
  /** the network peer, for the audit of refusals */
  readonly source?: string | undefined;
}

export interface ReenrollRequest {
  readonly readCsr: () => Promise<Buffer>;
  /** serial (hex) of the TLS client certificate, chain-verified by the TLS layer; throws if invalid */
  readonly clientSerial: () => string | undefined;
  /** the network peer, for the audit of refusals */
  readonly source?: string | undefined;
}

export interface Issued {
  readonly serial: string;
  readonly deviceId: string;
  readonly der: Buffer;
  /** issuing CA and root, leaf-first order after the certificate itself */
  readonly chain: readonly Buffer[];
  readonly notAfter: Date;
}

export class Authority {
  constructor(
    private readonly issuer: Issuer,
    private readonly chain: readonly Buffer[],
    private readonly store: AuthorityStore,
    private readonly clock: Clock,
    private readonly options: AuthorityOptions,
    private readonly random: (n: number) => Buffer = randomBytes,
    /** where refusals are audited (bounded for unverified callers); default: the store, as is */
    private readonly refusals: RefusalSink = {
      refused: (r) => store.appendAudit(r.event),
    },
  ) {}

  /** RFC 7030 §4.2.1 simpleenroll: a new device, authorized by its production batch. */
  async enroll(req: EnrollRequest): Promise<Issued> {
    const now = this.clock.now();
    const actor = req.credential ? `batch:${auditSafe(req.credential.batchId)}` : 'anonymous';
    let deviceId: string | undefined;
    try {
      const batch = await this.authenticateBatch(req.credential, now);
      const csr = this.parseAndVerify(await req.readCsr());
      deviceId = checkDeviceId(singleCn(csr), batch.idPrefix);
      const model = this.checkModel(csr, batch, req.hardwareModel?.());
      const owner = await this.store.lookupDeviceAndKey(deviceId, csr.spkiSha256);
      if (owner.deviceExists) {
        throw new EdgesealError(
          'ERR_DEVICE_EXISTS',
          `device "${deviceId}" is already enrolled; renew with simplereenroll`,
        );
      }
      if (owner.keyOwner) {
        throw new EdgesealError('ERR_KEY_REUSED', `this public key is already registered to another device`);
      }
      const cert = this.sign(csr, deviceId, model, batch.id, now);
      await this.store.commitIssuance({
        certificate: cert,
        newDevice: { id: deviceId, batchId: batch.id, hardwareModel: model },
        newKey: { spkiSha256: csr.spkiSha256, deviceId },
        audit: issuedEvent(now, actor, 'certificate.enroll', cert),
      });
      return this.issued(cert);
    } catch (e) {
      throw await this.refused(e, now, actor, 'certificate.enroll', deviceId, req.source);
    }
  }

  /** RFC 7030 §4.2.2 simplereenroll: renew (same key) or rekey, authorized by the current certificate. */
  async reenroll(req: ReenrollRequest): Promise<Issued> {
    const now = this.clock.now();
    let actor = 'anonymous';
    let deviceId: string | undefined;
    try {
      const clientSerial = req.clientSerial();
      if (!clientSerial) {
        throw new EdgesealError(
          'ERR_UNAUTHENTICATED',
          're-enrollment needs the current device certificate as TLS client certificate',
        );
      }
      const current = await this.store.getCertificate(clientSerial);
      if (current?.kind !== 'device' || !current.deviceId) {
        throw new EdgesealError(
          'ERR_CERT_UNKNOWN',
          'the client certificate was not issued to a device by this CA',
        );
      }
      deviceId = current.deviceId;
      actor = `device:${deviceId}`;
      if (current.revokedAt) throw new EdgesealError('ERR_CERT_REVOKED', 'the client certificate is revoked');
      if (current.notAfter <= now)
        throw new EdgesealError('ERR_UNAUTHENTICATED', 'the client certificate has expired');
      const csr = this.parseAndVerify(await req.readCsr());
      // RFC 7030 §4.2.2: the subject must be identical to the certificate being renewed.
      const cn = singleCn(csr);
      const ou = attributeValues(csr.subject, OID.organizationalUnitName);
      if (cn !== deviceId || ou.length > 1 || (ou.length === 1 && ou[0] !== current.hardwareModel)) {
        throw new EdgesealError(
          'ERR_SUBJECT_MISMATCH',
          `re-enrollment must keep the subject of the current certificate (CN=${deviceId})`,
        );
      }
      let newKey: { spkiSha256: string; deviceId: string } | undefined;
      if (csr.spkiSha256 !== current.spkiSha256) {
        const owner = await this.store.lookupDeviceAndKey(deviceId, csr.spkiSha256);
        if (owner.keyOwner && owner.keyOwner !== deviceId) {
          throw new EdgesealError(
            'ERR_KEY_REUSED',
            'this public key is already registered to another device',
          );
        }
        if (!owner.keyOwner) newKey = { spkiSha256: csr.spkiSha256, deviceId };
      }
      const cert = this.sign(csr, deviceId, current.hardwareModel ?? '', current.batchId ?? '', now);
      await this.store.commitIssuance({
        certificate: cert,
        ...(newKey ? { newKey } : {}),
        renews: { deviceId, serial: current.serial },
        audit: issuedEvent(now, actor, 'certificate.reenroll', cert, {
          previous_serial: current.serial,
          rekey: !!newKey,
        }),
      });
      return this.issued(cert);
    } catch (e) {
      throw await this.refused(e, now, actor, 'certificate.reenroll', deviceId, req.source);
    }
  }

  private async authenticateBatch(cred: BatchCredential | undefined, now: Date): Promise<BatchRecord> {
    if (!cred)
      throw new EdgesealError('ERR_UNAUTHENTICATED', 'enrollment needs a production batch credential');
    const batch = await this.store.getBatch(cred.batchId);
    // One message for unknown batch and wrong secret: do not confirm which batch ids exist.
    if (!batch || !secretMatches(batch.secretHash, cred.secret)) {
      throw new EdgesealError('ERR_UNAUTHENTICATED', 'unknown batch or wrong batch secret');
    }
    if (batch.revokedAt) throw new EdgesealError('ERR_BATCH_REVOKED', `batch ${batch.id} has been revoked`);
    if (batch.expiresAt <= now) {
      throw new EdgesealError(
        'ERR_BATCH_EXPIRED',
        `batch ${batch.id} expired at ${batch.expiresAt.toISOString()}`,
      );
    }
    if (batch.enrolled >= batch.quota) {
      throw new EdgesealError(
        'ERR_BATCH_QUOTA_EXHAUSTED',
        `batch ${batch.id} has used its quota of ${batch.quota} devices`,
      );
    }
    return batch;
  }

  private parseAndVerify(der: Buffer): ParsedCsr {
    const csr = parseCsr(der);
    verifyCsrSignature(csr);
    return csr;
  }

  private checkModel(csr: ParsedCsr, batch: BatchRecord, claimed: string | undefined): string {
    const ou = attributeValues(csr.subject, OID.organizationalUnitName);
    for (const m of [...ou, ...(claimed === undefined ? [] : [claimed])]) {
      if (m !== batch.hardwareModel) {
        throw new EdgesealError(
          'ERR_HARDWARE_MODEL_MISMATCH',
          `hardware model "${m}" does not match batch ${batch.id} (model "${batch.hardwareModel}")`,
        );
      }
    }
    return batch.hardwareModel;
  }

  private sign(
    csr: ParsedCsr,
    deviceId: string,
    model: string,
    batchId: string,
    now: Date,
  ): CertificateRecord {
    const serial = randomSerial(this.random);
    const notBefore = new Date(now.getTime() - this.options.backdateSeconds * 1000);
    const notAfter = new Date(now.getTime() + this.options.deviceValidityDays * 86_400_000);
    // Never outlive the issuing CA (RFC 5280 §6.1.3 would reject the tail anyway).
    const capped = notAfter > this.issuer.cert.notAfter ? this.issuer.cert.notAfter : notAfter;
    const der = deviceCertificate(this.issuer, {
      serial,
      deviceId,
      hardwareModel: model,
      trustDomain: this.options.trustDomain,
      spki: csr.spki,
      validity: { notBefore, notAfter: capped },
    });
    return {
      serial: serial.toString('hex'),
      kind: 'device',
      deviceId,
      batchId,
      hardwareModel: model,
      issuerId: this.issuer.id,
      subject: `CN=${deviceId},OU=${model}`,
      keyType: csr.keyType,
      keyBits: csr.keyBits,
      spkiSha256: csr.spkiSha256,
      notBefore,
      notAfter: capped,
      der,
      issuedAt: now,
      revokedAt: null,
      revocationReason: null,
    };
  }

  private issued(c: CertificateRecord): Issued {
    return { serial: c.serial, deviceId: c.deviceId!, der: c.der, chain: this.chain, notAfter: c.notAfter };
  }

  /**
   * Audits a refusal (best effort: the refusal stands even if the audit write fails). A batch
   * credential that did not authenticate is named as claimed only (`unverified:batch:<id>`).
   */
  private async refused(
    e: unknown,
    at: Date,
    actor: string,
    action: string,
    subject: string | undefined,
    source: string | undefined,
  ): Promise<unknown> {
    if (!(e instanceof EdgesealError)) return e;
    const who =
      e.code === 'ERR_UNAUTHENTICATED' && actor.startsWith('batch:') ? `unverified:${actor}` : actor;
    try {
      await this.refusals.refused({
        event: { at, actor: who, action, outcome: 'refused', subject, reason: e.code },
        source,
        verified: verifiedCaller(who, e.code),
      });
    } catch {
      // the store is down; the refusal still reaches the client and the log
    }
    return e;
  }
}

/** Claimed ids reach the audit log before they are verified: keep them short and plain. */
const auditSafe = (claimed: string): string =>
  /^[A-Za-z0-9_-]{1,64}$/.test(claimed) ? claimed : `unrecognized(${claimed.length} chars)`;

function singleCn(csr: ParsedCsr): string {
  const cns = attributeValues(csr.subject, OID.commonName);
  if (cns.length !== 1) {
    throw new EdgesealError(
      'ERR_DEVICE_ID_INVALID',
      `the CSR subject must hold exactly one CN (the device id), found ${cns.length}`,
    );
  }
  return cns[0]!;
}

function issuedEvent(
  at: Date,
  actor: string,
  action: string,
  c: CertificateRecord,
  extra: Record<string, unknown> = {},
): AuditEvent {
  return {
    at,
    actor,
    action,
    outcome: 'ok',
    subject: c.serial,
    details: {
      device_id: c.deviceId,
      batch_id: c.batchId,
      key_type: c.keyType,
      spki_sha256: c.spkiSha256,
      not_after: c.notAfter.toISOString(),
      ...extra,
    },
  };
}
