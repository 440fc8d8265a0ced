// The control plane's HTTPS app: EST, /v1, OpenAPI, health. Routes are mounted, not defined, here.
import { Hono } from 'hono';
import type { Logger } from 'pino';
import { EdgesealError } from '../../lib/errors.ts';
import { toPem } from '../../lib/pem.ts';
import type { Authority } from '../core/authority.ts';
import type { BatchService } from '../core/batches.ts';
import type { GatewayLeases } from '../core/gateway-leases.ts';
import type { AttestationParts } from '../attestation/start.ts';
import type { SigningKey } from '../keys/hierarchy.ts';
import type { Issuer } from '../core/issuer.ts';
import type { AuthorityStore, Clock } from '../core/ports.ts';
import type { RefusalSink } from '../core/refusals.ts';
import type { RevocationService, RevokedEntry } from '../core/revocation.ts';
import type { LogKey } from '../keys/hierarchy.ts';
import type { AuditLogStore } from '../store/audit-log.ts';
import type { TransparencyLog } from '../transparency/tlog.ts';
import type { InventoryStore } from '../store/inventory-store.ts';
import type { TokenService } from '../core/tokens.ts';
import { auditedBodyLimit } from './body-limit.ts';
import type { AppEnv } from './env.ts';
import { estRoutes } from './est.ts';
import { openApiDocument } from './openapi.ts';
import { errorResponse } from './problem.ts';
import { requestLog } from './request-log.ts';
import { batchRoutes } from './v1/batches.ts';
import { certificateRoutes } from './v1/certificates.ts';
import { enrollRoutes } from './v1/enroll.ts';
import { gatewayRoutes } from './v1/gateways.ts';
import { attestationRoutes, keyRoutes } from './v1/attestation.ts';
import { firmwareRoutes } from './v1/firmware.ts';
import { encryptionKeyRoute } from './v1/encryption-key.ts';
import { releaseKeyRoutes, releaseRoutes } from './v1/releases.ts';
import type { ReleaseService } from '../core/releases.ts';
import type { ReleaseKeys } from '../core/release-keys.ts';
import { TokenWatcher } from './token-watch.ts';
import { revocationRoutes } from './v1/revocations.ts';
import { auditRoutes } from './v1/audit.ts';
import { tlogRoutes } from './v1/tlog.ts';
import { inventoryRoutes } from './v1/inventory.ts';
import { uiRoutes } from '../ui/routes.tsx';
import type { UiSessionPort } from '../ui/sessions.ts';
import { serviceRoutes } from './v1/services.ts';
import { tokenRoutes } from './v1/tokens.ts';
import { deviceRoutes } from './v1/devices.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';

export interface AppDeps {
  readonly authority: Authority;
  readonly issuanceStore: AuthorityStore;
  /** refusals outside the core (413, dashboard): bounded for unverified callers */
  readonly refusals: RefusalSink;
  readonly uiSessions: UiSessionPort;
  readonly batches: BatchService;
  readonly tokens: TokenService;
  readonly revocations: RevocationService;
  readonly gateways: GatewayLeases;
  readonly attestation: AttestationParts;
  /** the fleet's telemetry key (public half served to devices) */
  readonly telemetryKey: SigningKey;
  /** the key service's key (public half served to release engineers) */
  readonly keyServiceKey: SigningKey;
  readonly revokedSince: (since: Date, afterSerial?: string) => Promise<RevokedEntry[]>;
  readonly auditLog: AuditLogStore;
  readonly logKey: LogKey;
  readonly tlog: TransparencyLog;
  readonly inventory: InventoryStore;
  readonly issuing: Issuer;
  readonly chain: readonly Buffer[];
  readonly clock: Clock;
  readonly log: Logger;
  readonly maxBodyBytes: number;
  readonly maxPackageBytes: number;
  readonly releases: ReleaseService;
  readonly releaseKeys: ReleaseKeys;
  /** fleet state: devices with their telemetry (telemetry/start.ts) */
  readonly devices: TelemetryStore;
  readonly trustDomain: string;
  readonly version: string;
  readonly health: () => Promise<void>;
}

export function createApp(d: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', requestLog(d.log));
  // one body limit for everything but model packages, which have their own (and whose
  // route authenticates the release manager before it reads the body)
  const bodyLimit = auditedBodyLimit(d.maxBodyBytes, d.refusals, d.clock);
  const packageLimit = auditedBodyLimit(d.maxPackageBytes, d.refusals, d.clock);
  app.use('*', (c, next) =>
    c.req.method === 'POST' && c.req.path === '/v1/releases' ? packageLimit(c, next) : bodyLimit(c, next),
  );
  app.onError((err, c) => errorResponse(err, c));
  app.notFound((c) =>
    errorResponse(new EdgesealError('ERR_NOT_FOUND', `no route for ${c.req.method} ${c.req.path}`), c),
  );

  app.route('/.well-known/est', estRoutes(d.authority, d.chain));
  app.route('/v1', enrollRoutes(d.authority));
  app.route('/v1/batches', batchRoutes(d.batches, d.tokens, d.clock));
  app.route('/v1', inventoryRoutes(d.inventory, d.tokens, d.clock));
  app.route('/v1/certificates', certificateRoutes(d.issuanceStore, d.tokens, d.clock));
  app.route('/v1/tokens', tokenRoutes(d.tokens, d.clock));
  app.route('/v1/revocations', revocationRoutes(d.revocations, d.revokedSince, d.tokens));
  app.route('/v1/gateways', gatewayRoutes(d.gateways, d.tokens));
  app.route('/v1/firmware', firmwareRoutes(d.attestation.firmware, d.tokens));
  app.route(
    '/v1/attestation',
    attestationRoutes({
      service: d.attestation.service,
      store: d.attestation.store,
      tokens: d.tokens,
      device: d.attestation.device,
      feed: d.attestation.feed,
      watcher: new TokenWatcher(d.tokens),
      now: () => d.clock.now(),
    }),
  );
  app.route(
    '/v1/keys',
    keyRoutes({ service: d.attestation.service, tokens: d.tokens, device: d.attestation.device }),
  );
  app.route(
    '/v1/releases',
    releaseRoutes({
      releases: d.releases,
      tokens: d.tokens,
      device: d.attestation.device,
      maxPackageBytes: d.maxPackageBytes,
    }),
  );
  app.route(
    '/v1/release-keys',
    releaseKeyRoutes({ keys: d.releaseKeys, tokens: d.tokens, device: d.attestation.device }),
  );
  app.get('/v1/telemetry-key', encryptionKeyRoute(d.telemetryKey));
  app.route('/v1/devices', deviceRoutes(d.devices, d.tokens, d.clock));
  app.get('/v1/key-service-key', encryptionKeyRoute(d.keyServiceKey));
  app.route('/v1/audit', auditRoutes(d.auditLog, d.logKey, d.tokens));
  app.route('/v1/tlog', tlogRoutes(d.tlog, d.tokens));
  app.route(
    '/v1/service-certificates',
    serviceRoutes({
      tokens: d.tokens,
      issuing: d.issuing,
      root: d.chain[d.chain.length - 1]!,
      store: d.issuanceStore,
      clock: d.clock,
      trustDomain: d.trustDomain,
    }),
  );
  app.route(
    '/ui',
    uiRoutes({
      tokens: d.tokens,
      sessions: d.uiSessions,
      refusals: d.refusals,
      inventory: d.inventory,
      auditLog: d.auditLog,
      logKey: d.logKey,
      clock: d.clock,
      attestation: {
        results: (limit) => d.attestation.store.statuses(undefined, limit),
        references: () => d.attestation.firmware.list(),
      },
      devices: d.devices,
    }),
  );
  const ca = {
    issuer_id: d.issuing.id,
    trust_domain: d.trustDomain,
    issuing: toPem('CERTIFICATE', d.chain[0]!),
    root: toPem('CERTIFICATE', d.chain[d.chain.length - 1]!),
  };
  app.get('/v1/ca', (c) => c.json(ca));
  const doc = openApiDocument(d.version);
  app.get('/openapi.json', (c) => c.json(doc));
  app.get('/health', async (c) => {
    await d.health();
    return c.json({ status: 'ok' });
  });
  return app;
}
