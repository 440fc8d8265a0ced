// Model releases (issue 9): a package is checked at upload — manifest signature by an active
// release key, payload digest, the content key (from the key envelope, opened with the key
// service's key) really decrypting the payload to the plaintext digest — and then stored
// without its key envelope, with its content key under the KEK for attested devices.
import type { KeyObject } from 'node:crypto';
import {
  checkPayload,
  decryptPackage,
  isPackageError,
  type Manifest,
  readPackage,
  stripKeyEnvelope,
  unwrapContentKey,
  verifyManifest,
} from '../../lib/model-package/index.ts';
import { createHash } from 'node:crypto';
import { EdgesealError } from '../../lib/errors.ts';
import type { AuditEvent, Clock } from './ports.ts';
import type { RefusalSink } from './refusals.ts';

export interface ReleaseRecord {
  readonly id: string;
  readonly modelId: string;
  readonly version: string;
  readonly releaseCounter: number;
  readonly hardwareModels: string[];
  readonly minFirmwareSvn: number | null;
  readonly contentKeyId: string;
  readonly manifest: string;
  readonly releaseKid: string;
  readonly payloadSha256: string;
  readonly plaintextSha256: string;
  readonly plaintextSize: number;
  readonly packageSize: number;
  readonly packageSha256: string;
  readonly blobChunkSize: number;
  readonly createdAt: Date;
  readonly createdBy: string;
}

export interface ReleasePort {
  /**
   * Stores the release, its package bytes and its content key (wrapped under the KEK) with the
   * audit event, in one transaction; throws ERR_RELEASE_EXISTS for a taken (model, counter) or
   * a counter not above the model's latest.
   */
  publish(
    r: ReleaseRecord,
    pkg: Buffer,
    contentKey: { id: string; wrapped: Buffer },
    audit: AuditEvent,
  ): Promise<void>;
  list(modelId?: string): Promise<ReleaseRecord[]>;
  get(id: string): Promise<ReleaseRecord | undefined>;
  /** the newest release (highest counter, then newest) whose hardware models include this one */
  latestFor(hardwareModel: string): Promise<ReleaseRecord | undefined>;
  /** bytes [start, end) of a release's package */
  range(r: ReleaseRecord, start: number, end: number): AsyncIterable<Buffer>;
}

export const BLOB_CHUNK_SIZE = 1024 * 1024;

export class ReleaseService {
  constructor(
    private readonly store: ReleasePort,
    private readonly releaseKeys: () => Promise<ReadonlyMap<string, KeyObject>>,
    private readonly keyService: KeyObject,
    private readonly wrapUnderKek: (id: string, key: Buffer) => Buffer,
    private readonly refusals: RefusalSink,
    private readonly clock: Clock,
  ) {}

  /** Checks and stores an uploaded package; refusals name why (ERR_PACKAGE_REFUSED) and are audited. */
  async publish(bytes: Buffer, actor: string, source?: string): Promise<ReleaseRecord> {
    const at = this.clock.now();
    let manifest: Manifest | undefined;
    try {
      const parts = readPackage(bytes);
      manifest = await verifyManifest(parts.manifestJws, { releaseKeys: await this.releaseKeys(), now: at });
      checkPayload(manifest, parts.payload);
      if (!parts.keyEnvelope) {
        throw new EdgesealError(
          'ERR_PACKAGE_REFUSED',
          'the package carries no key envelope: package it with `edgeseal model package` against this control plane',
        );
      }
      const contentKey = await unwrapContentKey(parts.keyEnvelope, this.keyService, manifest.package_id);
      try {
        // the envelope's key must be the one the payload was encrypted with
        decryptPackage(manifest, parts.payload, contentKey).fill(0);
        const stored = stripKeyEnvelope(bytes);
        const kid = JSON.parse(Buffer.from(parts.manifestJws.split('.')[0]!, 'base64url').toString())
          .kid as string;
        const rec: ReleaseRecord = {
          id: manifest.package_id,
          modelId: manifest.model_id,
          version: manifest.version,
          releaseCounter: manifest.release_counter,
          hardwareModels: [...manifest.hardware_models],
          minFirmwareSvn: manifest.min_firmware_svn ?? null,
          contentKeyId: manifest.content_key_id,
          manifest: parts.manifestJws,
          releaseKid: kid,
          payloadSha256: manifest.payload_sha256,
          plaintextSha256: manifest.plaintext_sha256,
          plaintextSize: manifest.plaintext_size,
          packageSize: stored.length,
          packageSha256: createHash('sha256').update(stored).digest('hex'),
          blobChunkSize: BLOB_CHUNK_SIZE,
          createdAt: at,
          createdBy: actor,
        };
        await this.store.publish(
          rec,
          stored,
          { id: manifest.content_key_id, wrapped: this.wrapUnderKek(manifest.content_key_id, contentKey) },
          {
            at,
            actor,
            action: 'release.publish',
            outcome: 'ok',
            subject: rec.id,
            details: {
              model_id: rec.modelId,
              version: rec.version,
              release_counter: rec.releaseCounter,
              hardware_models: rec.hardwareModels,
              release_kid: kid,
              plaintext_sha256: rec.plaintextSha256,
              package_sha256: rec.packageSha256,
            },
          },
        );
        return rec;
      } finally {
        contentKey.fill(0);
      }
    } catch (e) {
      const refusal = isPackageError(e)
        ? new EdgesealError('ERR_PACKAGE_REFUSED', `${e.code}: ${e.detail}`)
        : e;
      if (refusal instanceof EdgesealError) {
        await this.refusals
          .refused({
            event: {
              at,
              actor,
              action: 'release.publish',
              outcome: 'refused',
              subject: manifest?.package_id,
              reason: isPackageError(e) ? e.code : refusal.code,
            },
            source,
            verified: true,
          })
          .catch(() => {});
      }
      throw refusal;
    }
  }

  list(modelId?: string) {
    return this.store.list(modelId);
  }

  async get(id: string): Promise<ReleaseRecord> {
    const r = await this.store.get(id);
    if (!r) throw new EdgesealError('ERR_NOT_FOUND', `no release ${id}`);
    return r;
  }

  latestFor(hardwareModel: string) {
    return this.store.latestFor(hardwareModel);
  }

  range(r: ReleaseRecord, start: number, end: number) {
    return this.store.range(r, start, end);
  }
}
