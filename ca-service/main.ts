// Composition root of the control plane: wires config, storage, keys, core and HTTP, and
// owns the listeners. Nothing below this file reads the environment or opens sockets.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { rmSync, writeFileSync } from 'node:fs';
import { getRequestListener } from '@hono/node-server';
import pino, { type Logger } from 'pino';
import { listen } from '../lib/listen.ts';
import { TLS_SERVER_POLICY } from '../lib/tls-policy.ts';
import { safeLogger } from '../lib/safe-log.ts';
import { toPem } from '../lib/pem.ts';
import { bootstrap, type Bootstrapped, dataPaths } from './bootstrap.ts';
import type { CaConfig } from './config.ts';
import { Authority } from './core/authority.ts';
import { BatchService } from './core/batches.ts';
import { GatewayLeases, type LeaseRequest } from './core/gateway-leases.ts';
import type { AuditEvent, Clock } from './core/ports.ts';
import type { AttestationFeed } from './attestation/feed.ts';
import { type AttestationParts, contentKeyAad, startAttestation } from './attestation/start.ts';
import { startTelemetry, type TelemetryParts } from './telemetry/start.ts';
import { RevocationService, type RevokedEntry } from './core/revocation.ts';
import { TokenService } from './core/tokens.ts';
import { ReleaseKeys } from './core/release-keys.ts';
import { ReleaseService } from './core/releases.ts';
import { ReleaseKeyStore } from './store/release-key-store.ts';
import { ReleaseStore } from './store/release-store.ts';
import { wrapSecret } from '../lib/key-wrap.ts';
import { createApp } from './http/app.ts';
import { createPublicApp } from './http/public-app.ts';
import {
  issueServiceIdentity,
  OCSP_CERT_DAYS,
  SERVER_CERT_DAYS,
  type ServiceIdentity,
} from './keys/server-identity.ts';
import { OcspResponder } from './revocation/ocsp-responder.ts';
import { issuedSerialsLookup } from './store/issued-serials-store.ts';
import { BatchStore } from './store/batch-store.ts';
import { type Database, ping } from './store/db.ts';
import { IssuanceStore } from './store/issuance-store.ts';
import { GatewayLeaseStore } from './store/gateway-lease-store.ts';
import { AuditLogStore } from './store/audit-log.ts';
import { Checkpointer } from './audit/checkpointer.ts';
import { DEFAULT_REFUSAL_AGGREGATION, RefusalAggregator } from './audit/refusal-aggregator.ts';
import { TlogStore } from './store/tlog-store.ts';
import { InventoryStore } from './store/inventory-store.ts';
import { TransparencyLog } from './transparency/tlog.ts';
import { RevocationStore } from './store/revocation-store.ts';
import { TokenStore } from './store/token-store.ts';
import { UiSessionStore } from './store/ui-session-store.ts';
import { CrlPublisher, type CrlOptions, DEFAULT_CRL_OPTIONS } from './revocation/crl-publisher.ts';
import { decodeFeed, REVOCATION_CHANNEL } from './revocation/feed.ts';

export const VERSION = '0.1.0';

export interface ControlPlane {
  readonly httpsUrl: string;
  readonly httpUrl: string;
  readonly boot: Bootstrapped;
  readonly crl: CrlPublisher;
  readonly checkpointer: Checkpointer;
  /** refusals of unverified callers, counted between flushes (audit/refusal-aggregator.ts) */
  readonly refusals: RefusalAggregator;
  /** what a gateway in the same process uses instead of the HTTPS API */
  readonly local: LocalFleetLink;
  /** the verifier, reference values and attestation feed (bench/attest.ts calls the service directly) */
  readonly attestation: AttestationParts;
  /** the telemetry store and consumer (startConsumer: the gateway `edgeseal up` runs) */
  readonly telemetry: TelemetryParts;
  close(): Promise<void>;
}

/** The control plane as an in-process gateway sees it (gateway/control-link.ts). */
export interface LocalFleetLink {
  /** issuing CA then root, DER */
  readonly chain: readonly Buffer[];
  serverIdentity(hosts: { dns: readonly string[]; ips: readonly string[] }): Promise<ServiceIdentity>;
  revokedSince(since: Date, afterSerial?: string): Promise<RevokedEntry[]>;
  /** entries empty = "re-read": too many were revoked elsewhere to list */
  onRevoked(l: (entries: readonly RevokedEntry[]) => void): () => void;
  /** take or renew a gateway lease (core/gateway-leases.ts); throws ERR_GATEWAY_CONFLICT */
  lease(req: LeaseRequest): Promise<void>;
  releaseLease(id: string): Promise<void>;
  /** attestation standing, live (ca-service/attestation/feed.ts) */
  readonly attestation: AttestationFeed;
}

export interface StartOptions {
  readonly log?: Logger;
  readonly clock?: Clock;
  /** an already-open database (tests share one PGlite across restarts) */
  readonly database?: Database;
  /** write control-plane.json for the CLI to find (default true) */
  readonly announce?: boolean;
  readonly crl?: Partial<CrlOptions>;
  readonly checkpointIntervalMs?: number;
  /** the telemetry consumer's gateway is given later (telemetry.startConsumer) */
  readonly telemetryConsumerLater?: boolean;
}

const urlHost = (h: string) => (h.includes(':') ? `[${h}]` : h === '0.0.0.0' ? '127.0.0.1' : h);

export async function startControlPlane(config: CaConfig, opts: StartOptions = {}): Promise<ControlPlane> {
  // every error logged below loses its SQL parameters (lib/safe-log.ts)
  const log = safeLogger(opts.log ?? pino({ level: config.logLevel, base: { service: 'ca' } }));
  const clock = opts.clock ?? { now: () => new Date() };
  const boot = await bootstrap(config, clock, opts.database);
  const { database, hierarchy } = boot;
  const issuanceStore = new IssuanceStore(database.db, () => clock.now());
  const refusals = new RefusalAggregator(issuanceStore, clock, log, {
    ...DEFAULT_REFUSAL_AGGREGATION,
    intervalMs: config.auditRefusalWindowSeconds * 1000,
  });
  refusals.start();
  const tokens = new TokenService(new TokenStore(database.db), clock, refusals);
  const authority = new Authority(
    hierarchy.issuing,
    hierarchy.chain,
    issuanceStore,
    clock,
    {
      trustDomain: config.trustDomain,
      deviceValidityDays: config.deviceCertDays,
      backdateSeconds: 300,
    },
    randomBytes,
    refusals,
  );
  const instanceId = randomUUID();
  const revocationStore = new RevocationStore(database.db, instanceId);
  const revocations = new RevocationService(revocationStore, clock);
  const gateways = new GatewayLeases(new GatewayLeaseStore(database.db), issuanceStore, clock);
  const crl = new CrlPublisher(hierarchy.issuing, revocationStore, clock, log, {
    ...DEFAULT_CRL_OPTIONS,
    ...opts.crl,
  });
  revocations.onRevoked((entries) => crl.add(entries));
  await crl.start();
  const auditLog = new AuditLogStore(database.db);
  const checkpointer = new Checkpointer(auditLog, boot.logKey, clock, log, opts.checkpointIntervalMs);
  await checkpointer.checkpointNow();
  checkpointer.start();
  const tlog = new TransparencyLog(new TlogStore(database.db), boot.logKey, clock);
  const attestation = await startAttestation({
    config,
    boot,
    clock,
    log,
    instanceId,
    version: VERSION,
    audit: {
      refused: (r) => refusals.refused(r),
      appendAudit: (e: AuditEvent) => issuanceStore.appendAudit(e),
    },
    certificate: (serial) => issuanceStore.getCertificate(serial),
    isRevoked: (serial) => !!crl.revoked(serial),
  });
  const telemetry = await startTelemetry({
    config,
    boot,
    clock,
    log,
    issuanceStore,
    consumerLater: opts.telemetryConsumerLater,
  });
  const releaseKeys = new ReleaseKeys(new ReleaseKeyStore(database.db), clock);
  const releases = new ReleaseService(
    new ReleaseStore(database.db),
    () => releaseKeys.active(),
    boot.keyServiceKey.key,
    (id, key) => wrapSecret(boot.kek.key, key, contentKeyAad(id)),
    refusals,
    clock,
  );
  const app = createApp({
    auditLog,
    tlog,
    inventory: new InventoryStore(database.db),
    logKey: boot.logKey,
    authority,
    issuanceStore,
    refusals,
    uiSessions: new UiSessionStore(database.db),
    batches: new BatchService(new BatchStore(database.db), clock),
    tokens,
    revocations,
    gateways,
    attestation,
    telemetryKey: boot.telemetryKey,
    keyServiceKey: boot.keyServiceKey,
    revokedSince: (since, afterSerial) => revocationStore.revokedSince(since, afterSerial),
    issuing: hierarchy.issuing,
    chain: hierarchy.chain,
    clock,
    log,
    maxBodyBytes: config.maxBodyBytes,
    maxPackageBytes: config.maxPackageBytes,
    releases,
    releaseKeys,
    devices: telemetry.store,
    trustDomain: config.trustDomain,
    version: VERSION,
    health: () => ping(database.db),
  });

  const identity = () =>
    issueServiceIdentity(
      hierarchy.issuing,
      { kind: 'server', hosts: config.hosts },
      issuanceStore,
      clock.now(),
    );
  const ocspIdentity = () =>
    issueServiceIdentity(hierarchy.issuing, { kind: 'ocsp' }, issuanceStore, clock.now());
  const ocsp = new OcspResponder({
    issuer: hierarchy.issuing,
    identity: await ocspIdentity(),
    issued: issuedSerialsLookup(database.db, hierarchy.issuing.id),
    revoked: (serial) => crl.revoked(serial),
    clock,
    log,
  });
  revocations.onRevoked((entries) => ocsp.invalidate(entries.map((e) => e.serial)));
  // Revocations made by other instances on the same database (revocation/feed.ts).
  const unlisten = await database.listen(REVOCATION_CHANNEL, (payload) => {
    const m = decodeFeed(payload);
    if (!m || m.origin === instanceId) return;
    if ('reload' in m) {
      ocsp.clearCache();
      crl.reloadNow().catch((err) => log.error({ err }, 'CRL reload after a remote revocation failed'));
      revocations.announce([], true);
    } else {
      revocations.announce(m.entries, false);
    }
  });
  const id = await identity();
  const caPem = hierarchy.chain.map((d) => toPem('CERTIFICATE', d)).join('');
  // the TLS policy also on renewal: setSecureContext starts from Node's defaults
  const tlsOptions = (i: typeof id) => ({ key: i.keyPem, cert: i.certChainPem, ...TLS_SERVER_POLICY });
  const https = createHttpsServer(
    {
      ...tlsOptions(id),
      ca: caPem,
      // Ask for a client certificate (EST re-enrollment) but do not require one: enrollment
      // and the API authenticate otherwise. Handlers check `authorized` themselves.
      requestCert: true,
      rejectUnauthorized: false,
    },
    getRequestListener(app.fetch),
  );
  https.keepAliveTimeout = 30_000;
  const http = createHttpServer(
    getRequestListener(
      createPublicApp(
        [hierarchy.issuing, hierarchy.root],
        (issuerId) => (issuerId === hierarchy.issuing.id ? crl.latest() : undefined),
        ocsp,
        log,
      ).fetch,
    ),
  );

  // Renew the server certificate at two thirds of its life without a restart.
  const renewEvery = (SERVER_CERT_DAYS * 2 * 86_400_000) / 3;
  const renewTimer = setInterval(() => {
    identity()
      .then((next) => https.setSecureContext({ ...tlsOptions(next), ca: caPem }))
      .catch((err) => log.error({ err }, 'server certificate renewal failed; will retry'));
  }, renewEvery);
  renewTimer.unref();
  const ocspRenewTimer = setInterval(
    () => {
      ocspIdentity()
        .then((next) => ocsp.use(next))
        .catch((err) => log.error({ err }, 'OCSP responder certificate renewal failed; will retry'));
    },
    (OCSP_CERT_DAYS * 2 * 86_400_000) / 3,
  );
  ocspRenewTimer.unref();

  let httpsPort: number;
  let httpPort: number;
  try {
    httpsPort = await listen(https, config.httpsPort, config.listenHost, 'EDGESEAL_HTTPS_PORT');
    httpPort = await listen(http, config.httpPort, config.listenHost, 'EDGESEAL_HTTP_PORT');
  } catch (e) {
    clearInterval(renewTimer);
    clearInterval(ocspRenewTimer);
    crl.stop();
    checkpointer.stop();
    await telemetry.close();
    await attestation.close();
    await refusals.close();
    https.close();
    if (!opts.database) await database.close();
    throw e;
  }
  const host = urlHost(
    config.listenHost === '127.0.0.1' ? (config.hosts.dns[0] ?? '127.0.0.1') : config.listenHost,
  );
  const httpsUrl = `https://${host}:${httpsPort}`;
  const httpUrl = `http://${host}:${httpPort}`;
  const endpointFile = dataPaths(config.dataDir).endpoint;
  if (opts.announce !== false) {
    writeFileSync(
      endpointFile,
      JSON.stringify({ https_url: httpsUrl, http_url: httpUrl, pid: process.pid }, null, 2),
    );
  }
  log.info(
    {
      https_url: httpsUrl,
      http_url: httpUrl,
      database: database.kind,
      issuer_id: hierarchy.issuing.id,
      kek_id: boot.kek.id,
      server_cert_serial: id.serial,
    },
    'control plane listening',
  );

  let closed = false;
  return {
    httpsUrl,
    httpUrl,
    boot,
    crl,
    checkpointer,
    refusals,
    attestation,
    telemetry,
    local: {
      chain: hierarchy.chain,
      serverIdentity: (hosts) =>
        issueServiceIdentity(hierarchy.issuing, { kind: 'server', hosts }, issuanceStore, clock.now()),
      revokedSince: (since, afterSerial) => revocationStore.revokedSince(since, afterSerial),
      onRevoked: (l) => revocations.onRevoked(l),
      lease: async (req) => {
        await gateways.acquire(req, 'system:in-process-gateway');
      },
      releaseLease: (id) => gateways.release(id, 'system:in-process-gateway'),
      attestation: attestation.feed,
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(renewTimer);
      clearInterval(ocspRenewTimer);
      crl.stop();
      checkpointer.stop();
      await unlisten().catch(() => {});
      await crl.settled();
      https.closeAllConnections();
      http.closeAllConnections();
      await Promise.all([new Promise((r) => https.close(r)), new Promise((r) => http.close(r))]);
      await telemetry.close(); // its last acknowledged messages are committed before the database goes
      await attestation.close();
      await refusals.close(); // what was counted since the last flush, before the database goes
      if (opts.announce !== false) rmSync(endpointFile, { force: true });
      if (!opts.database) await database.close();
    },
  };
}
