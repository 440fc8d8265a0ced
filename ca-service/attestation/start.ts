// Wires the attestation half of the control plane (called by ca-service/main.ts, the
// composition root): reference values, the verifier and key service, and the live state
// feed — in this process, and across instances through Postgres NOTIFY.
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { unwrapSecret, wrapSecret } from '../../lib/key-wrap.ts';
import type { Bootstrapped } from '../bootstrap.ts';
import type { CaConfig } from '../config.ts';
import { AttestationService } from '../core/attestation-service.ts';
import { FirmwareService } from '../core/firmware.ts';
import type { AuditEvent, CertificateRecord, Clock } from '../core/ports.ts';
import type { RefusalSink } from '../core/refusals.ts';
import { deviceCallers } from '../http/device-caller.ts';
import { AttestationStore } from '../store/attestation-store.ts';
import { FirmwareStore } from '../store/firmware-store.ts';
import {
  ATTESTATION_CHANNEL,
  type AttestationChange,
  AttestationFeed,
  decodeAttestation,
  encodeAttestation,
} from './feed.ts';

/** binds a KEK-wrapped content key to its row */
export const contentKeyAad = (id: string) => `edgeseal-content-key:${id}`;
const NOTIFY_EVERY_MS = 50;

export interface AttestationParts {
  readonly firmware: FirmwareService;
  readonly service: AttestationService;
  readonly store: AttestationStore;
  readonly feed: AttestationFeed;
  readonly device: ReturnType<typeof deviceCallers>;
  close(): Promise<void>;
}

export async function startAttestation(d: {
  config: CaConfig;
  boot: Bootstrapped;
  clock: Clock;
  log: Logger;
  instanceId: string;
  version: string;
  audit: RefusalSink & { appendAudit(e: AuditEvent): Promise<void> };
  certificate: (serial: string) => Promise<CertificateRecord | undefined>;
  isRevoked: (serial: string) => boolean;
}): Promise<AttestationParts> {
  const { database, kek, hierarchy, verifierKey } = d.boot;
  const store = new AttestationStore(database.db);
  const firmwareStore = new FirmwareStore(database.db);
  const firmware = new FirmwareService(firmwareStore, d.clock);
  const service = new AttestationService(
    store,
    new X509Certificate(hierarchy.issuing.cert.der),
    verifierKey,
    {
      unwrap: (id, blob) => unwrapSecret(kek.key, blob, contentKeyAad(id)),
      wrap: (id, key) => wrapSecret(kek.key, key, contentKeyAad(id)),
    },
    d.isRevoked,
    d.audit,
    d.clock,
    {
      trustDomain: d.config.trustDomain,
      nonceTtlSeconds: d.config.attestationNonceTtlSeconds,
      resultTtlSeconds: d.config.attestationResultTtlSeconds,
      verifierBuild: d.version,
    },
  );
  const feed = new AttestationFeed(async () => ({
    states: await store.liveStates(d.clock.now()),
    models: await firmwareStore.requirements(),
  }));

  // Other instances hear this instance's decisions through NOTIFY, coalesced: an appraisal
  // burst becomes a few notifications, not one each.
  type Pending = {
    states: AttestationChange['states'][number][];
    models: AttestationChange['models'][number][];
    references: boolean;
  };
  let pending: Pending = { states: [], models: [], references: false };
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    const change = pending;
    pending = { states: [], models: [], references: false };
    if (change.states.length || change.models.length || change.references)
      void notify(encodeAttestation(d.instanceId, change));
  };
  const notify = (payload: string) =>
    store
      .notify(ATTESTATION_CHANNEL, payload)
      .catch((err) => d.log.warn({ err }, 'attestation NOTIFY failed'));
  const local = (change: AttestationChange) => {
    feed.publish(change);
    pending.states.push(...change.states);
    pending.models.push(...change.models);
    pending.references ||= change.references === true;
    timer ??= setTimeout(flush, NOTIFY_EVERY_MS);
  };
  service.onChange((states) => local({ states, models: [] }));
  firmware.onEffect((effect) => {
    service.forgetReferences();
    local({ states: effect.devices, models: effect.models, references: true });
  });
  const unlisten = await database.listen(ATTESTATION_CHANNEL, (payload) => {
    const m = decodeAttestation(payload);
    if (!m || m.origin === d.instanceId) return;
    if (m.change === 'reload' || m.change.references) service.forgetReferences();
    feed.publish(m.change);
  });

  return {
    firmware,
    service,
    store,
    feed,
    device: deviceCallers(d.certificate, d.isRevoked),
    async close() {
      if (timer) {
        clearTimeout(timer);
        flush();
      }
      await unlisten().catch(() => {});
    },
  };
}
