// The verifier and key service of the control plane (RFC 9334 challenge–response): a
// single-use nonce per session, evidence verified and appraised by the pure library in
// attestation/, a signed EAR result recorded as the device's latest, and content keys
// wrapped only to the key an affirming result of the same device attested. Every appraisal,
// refusal and release is audited. No HTTP or SQL here: the store and the clock come in.
import { createHash, createPublicKey, type KeyObject, randomBytes, type X509Certificate } from 'node:crypto';
import {
  type AttestationError,
  appraise,
  authorizeKeyRelease,
  formatForMediaType,
  type LeafCache,
  type ReferenceValues,
  signResult,
  type VerifiedLeaf,
  verifyEvidence,
  verifyResult,
  wrapContentKey,
} from '../../attestation/index.ts';
import { fail } from '../../attestation/errors.ts';
import { EdgesealError } from '../../lib/errors.ts';
import type { DeviceAttestationState } from './firmware.ts';
import { newId } from './credentials.ts';
import type { AuditEvent, Clock } from './ports.ts';
import type { RefusalSink } from './refusals.ts';

export type NonceVerdict = 'ok' | 'replayed' | 'expired' | 'unknown';

export interface ReferenceSnapshot {
  readonly firmware: { sha256: string; version: string; svn: number; retired: boolean }[];
  readonly agents: { sha256: string; version: string; svn: number; retired: boolean }[];
  readonly denied: ReadonlySet<string>;
  readonly minSvn: number | undefined;
}

export interface ResultRecord {
  readonly id: string;
  readonly deviceId: string;
  readonly certSerial: string;
  readonly hardwareModel: string;
  readonly status: 'affirming' | 'warning' | 'contraindicated';
  readonly trustVector: string;
  readonly reasons: string;
  readonly firmwareSha256: string | null;
  readonly firmwareVersion: string | null;
  readonly firmwareSvn: number | null;
  readonly agentSha256: string | null;
  readonly wrappingKeyThumbprint: string | null;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  readonly token: string | null;
  readonly reappraisal?: boolean;
}

export interface NonceRecord {
  readonly nonceHash: string;
  readonly deviceId: string;
  readonly certSerial: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
}

export interface AttestationPort {
  issueNonce(n: NonceRecord): Promise<void>;
  /**
   * Uses up the nonce (single use, any instance) and, only when that worked, records the
   * result as the device's latest with its audit event: one transaction. The verdict says why not.
   */
  consumeAndRecord(
    nonce: { nonceHash: string; deviceId: string; at: Date },
    result: ResultRecord,
    audit: AuditEvent,
  ): Promise<NonceVerdict>;
  snapshot(hardwareModel: string): Promise<ReferenceSnapshot>;
  latest(
    deviceId: string,
  ): Promise<{ state: { resultId: string; status: string; expiresAt: Date } } | undefined>;
  contentKey(
    id: string,
  ): Promise<{ id: string; keyWrapped: Buffer; hardwareModels: string[]; label: string | null } | undefined>;
  createContentKey(
    row: {
      id: string;
      keyWrapped: Buffer;
      label: string | null;
      hardwareModels: string[];
      createdAt: Date;
      createdBy: string;
    },
    audit: AuditEvent,
  ): Promise<void>;
}

/** The device on the other end of the mTLS connection, as the HTTP layer verified it. */
export interface DeviceCaller {
  readonly deviceId: string;
  readonly serial: string;
  readonly hardwareModel: string;
  readonly source?: string | undefined;
}

export interface AttestationOptions {
  readonly trustDomain: string;
  /** challenge lifetime */
  readonly nonceTtlSeconds: number;
  /** attestation result lifetime: the agent re-attests before it ends */
  readonly resultTtlSeconds: number;
  readonly verifierBuild: string;
}

export interface KeyCrypto {
  /** the content key's bytes (from its KEK-wrapped blob); the caller wipes them */
  unwrap(id: string, blob: Buffer): Buffer;
  wrap(id: string, key: Buffer): Buffer;
}

export type AttestationListener = (states: readonly DeviceAttestationState[]) => void;

const sha256hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const REFS_CACHE_MS = 1000;

/** A small LRU of chain-verified device certificates (attestation/x5c-chain.ts LeafCache). */
class Leaves implements LeafCache {
  private readonly m = new Map<string, VerifiedLeaf>();
  get(k: string) {
    return this.m.get(k);
  }
  set(k: string, v: VerifiedLeaf) {
    if (this.m.size >= 10_000) this.m.delete(this.m.keys().next().value!);
    this.m.set(k, v);
  }
}

export class AttestationService {
  private readonly listeners: AttestationListener[] = [];
  private readonly refs = new Map<string, { at: number; refs: Promise<ReferenceSnapshot> }>();
  private readonly leaves = new Leaves();
  private readonly verifierPublic: KeyObject;

  constructor(
    private readonly store: AttestationPort,
    private readonly issuing: X509Certificate,
    private readonly verifier: { id: string; key: KeyObject },
    private readonly keys: KeyCrypto,
    private readonly isRevoked: (serial: string) => boolean,
    private readonly audit: RefusalSink & { appendAudit(e: AuditEvent): Promise<void> },
    private readonly clock: Clock,
    private readonly o: AttestationOptions,
    private readonly random: (n: number) => Buffer = randomBytes,
  ) {
    this.verifierPublic = createPublicKey(verifier.key);
  }

  get verifierPublicKey(): KeyObject {
    return this.verifierPublic;
  }

  onChange(l: AttestationListener): void {
    this.listeners.push(l);
  }

  /** Reference values changed somewhere: the next appraisal reads them again. */
  forgetReferences(): void {
    this.refs.clear();
  }

  /** Tells listeners (gateways) of states decided elsewhere: a policy change, another instance. */
  announce(states: readonly DeviceAttestationState[]): void {
    if (states.length) for (const l of this.listeners) l(states);
  }

  /** RFC 9334 §10.2: a fresh nonce (256 bits) for this device's next evidence. */
  async challenge(dev: DeviceCaller): Promise<{ nonce: string; expiresAt: Date }> {
    const now = this.clock.now();
    const nonce = this.random(32);
    const expiresAt = new Date(now.getTime() + this.o.nonceTtlSeconds * 1000);
    await this.store.issueNonce({
      nonceHash: sha256hex(nonce),
      deviceId: dev.deviceId,
      certSerial: dev.serial,
      createdAt: now,
      expiresAt,
    });
    return { nonce: nonce.toString('base64url'), expiresAt };
  }

  /** Verifies, appraises, signs and records; a refusal is audited and thrown (AttestationError). */
  async submitEvidence(dev: DeviceCaller, contentType: string, raw: Uint8Array | string) {
    const now = this.clock.now();
    try {
      const format = formatOf(contentType);
      const ev = await verifyEvidence(format, raw, {
        issuingCa: this.issuing,
        trustDomain: this.o.trustDomain,
        now,
        expectedDeviceId: dev.deviceId,
        isRevoked: this.isRevoked,
        verifiedLeafCache: this.leaves,
      });
      const snap = await this.references(ev.hardwareModelFromCert);
      const appraisal = appraise(ev, referenceValues(snap));
      const id = newId('ar');
      const expiresAt = new Date(now.getTime() + this.o.resultTtlSeconds * 1000);
      // Signed before the nonce is used up, so that using it up and recording the result are
      // one transaction (bench/attest.ts: one group commit per burst instead of two). A replay
      // costs a signature it does not get; the nonce is still checked before anything is kept.
      const token = await signResult(appraisal, ev, {
        key: this.verifier.key,
        kid: this.verifier.id,
        now,
        ttlSeconds: this.o.resultTtlSeconds,
        resultId: id,
        verifierId: { developer: 'edgeseal', build: this.o.verifierBuild },
      });
      const reasons = appraisal.reasons.map((r) => ({ code: r.code, detail: r.detail }));
      const verdict = await this.store.consumeAndRecord(
        { nonceHash: sha256hex(ev.nonce), deviceId: dev.deviceId, at: now },
        {
          id,
          deviceId: ev.deviceId,
          certSerial: ev.certSerial,
          hardwareModel: appraisal.hardwareModel,
          status: appraisal.status,
          trustVector: JSON.stringify(appraisal.trustVector),
          reasons: JSON.stringify(reasons),
          firmwareSha256: appraisal.firmware.sha256,
          firmwareVersion: appraisal.firmware.version ?? null,
          firmwareSvn: appraisal.firmware.svn ?? null,
          agentSha256: appraisal.agent.sha256,
          wrappingKeyThumbprint: ev.wrappingKeyThumbprint,
          issuedAt: now,
          expiresAt,
          token,
        },
        {
          at: now,
          actor: `device:${dev.deviceId}`,
          action: 'attestation.appraise',
          outcome: 'ok',
          subject: dev.deviceId,
          details: {
            result_id: id,
            status: appraisal.status,
            cert_serial: ev.certSerial,
            firmware_sha256: appraisal.firmware.sha256,
            reasons: reasons.map((r) => r.code),
          },
        },
      );
      if (verdict === 'replayed') fail('NonceReplayed', 'this nonce was already used');
      if (verdict === 'expired') fail('NonceExpired', 'this nonce has expired; ask for a new challenge');
      if (verdict === 'unknown') fail('NonceUnknown', 'this nonce was not issued to this device');
      this.announce([
        {
          deviceId: ev.deviceId,
          hardwareModel: appraisal.hardwareModel,
          status: appraisal.status,
          expiresAt,
        },
      ]);
      return {
        resultId: id,
        status: appraisal.status,
        result: token,
        expiresAt,
        reasons,
        trustVector: appraisal.trustVector,
      };
    } catch (e) {
      throw await this.refused(e, dev, 'attestation.appraise', now);
    }
  }

  /**
   * Releases content key `keyId` wrapped to the key an affirming, unexpired result of this
   * same device attested — and only while that result is still the device's latest and
   * still affirming (a deny-list or minimum-SVN change re-appraises it at once).
   */
  async releaseKey(dev: DeviceCaller, keyId: string, resultJwt: unknown) {
    const now = this.clock.now();
    try {
      if (typeof resultJwt !== 'string' || !resultJwt)
        fail('ResultMissing', 'send the attestation result (result)');
      const result = await verifyResult(resultJwt as string, {
        publicKey: this.verifierPublic,
        now,
        expectedDeviceId: dev.deviceId,
      });
      const grant = authorizeKeyRelease(result, { deviceId: dev.deviceId, now });
      const latest = await this.store.latest(dev.deviceId);
      // a policy change re-appraises (deny-list, minimum SVN): the latest then says why not
      if (latest && latest.state.status !== 'affirming') {
        fail('ResultNotAffirming', `the device's attestation is now ${latest.state.status}; attest again`);
      }
      if (!latest || latest.state.resultId !== result.resultId) {
        fail('ResultOtherSession', "this is not the device's latest attestation result; attest again");
      }
      const key = await this.store.contentKey(keyId);
      if (!key) throw new EdgesealError('ERR_NOT_FOUND', `no content key ${keyId}`);
      if (key.hardwareModels.length && !key.hardwareModels.includes(dev.hardwareModel)) {
        throw new EdgesealError(
          'ERR_FORBIDDEN',
          `content key ${keyId} is not for hardware model ${dev.hardwareModel}`,
        );
      }
      const raw = this.keys.unwrap(key.id, key.keyWrapped);
      let jwe: string;
      try {
        jwe = await wrapContentKey(raw, grant);
      } finally {
        raw.fill(0);
      }
      await this.audit.appendAudit({
        at: now,
        actor: `device:${dev.deviceId}`,
        action: 'key.release',
        outcome: 'ok',
        subject: keyId,
        details: { device_id: dev.deviceId, result_id: result.resultId, kid: grant.kid },
      });
      return { keyId, kid: grant.kid, jwe };
    } catch (e) {
      throw await this.refused(e, dev, 'key.release', now, keyId);
    }
  }

  /** A new random AES-256 content key, stored under the KEK (Part 5 makes one per model release). */
  async createContentKey(label: string | null, hardwareModels: string[], actor: string) {
    const now = this.clock.now();
    const id = newId('ck');
    const key = this.random(32);
    try {
      await this.store.createContentKey(
        { id, keyWrapped: this.keys.wrap(id, key), label, hardwareModels, createdAt: now, createdBy: actor },
        {
          at: now,
          actor,
          action: 'key.create',
          outcome: 'ok',
          subject: id,
          details: { label, hardware_models: hardwareModels },
        },
      );
    } finally {
      key.fill(0);
    }
    return { id, label, hardwareModels, createdAt: now };
  }

  private references(model: string): Promise<ReferenceSnapshot> {
    const t = Date.now();
    const hit = this.refs.get(model);
    if (hit && t - hit.at < REFS_CACHE_MS) return hit.refs;
    const refs = this.store.snapshot(model);
    this.refs.set(model, { at: t, refs });
    refs.catch(() => this.refs.delete(model));
    return refs;
  }

  private async refused(e: unknown, dev: DeviceCaller, action: string, at: Date, subject?: string) {
    const code = (e as AttestationError | EdgesealError | undefined)?.code;
    if (
      typeof code === 'string' &&
      (e instanceof EdgesealError || (e as Error)?.name === 'AttestationError')
    ) {
      try {
        await this.audit.refused({
          event: {
            at,
            actor: `device:${dev.deviceId}`,
            action,
            outcome: 'refused',
            subject: subject ?? dev.deviceId,
            reason: code,
          },
          source: dev.source,
          verified: true,
        });
      } catch {
        // the refusal stands even if it could not be audited
      }
    }
    return e;
  }
}

function formatOf(contentType: string): string {
  return (
    formatForMediaType(contentType) ??
    fail(
      'EvidenceMalformed',
      `evidence must be sent as application/eat+jwt, got "${contentType.split(';')[0]!.trim().slice(0, 64)}"`,
    )
  );
}

function referenceValues(s: ReferenceSnapshot): ReferenceValues {
  return {
    firmware: s.firmware,
    deniedDigests: s.denied,
    ...(s.minSvn !== undefined ? { minimumSvn: s.minSvn } : {}),
    agentDigests: new Set(s.agents.filter((a) => !a.retired).map((a) => a.sha256)),
  };
}
