// Composition root of the gateway: config, control link, revocation view, router, broker,
// the MQTTS listener and the metrics/health listener. Nothing below opens sockets but here
// (and the upstream router, which is an adapter by nature).
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { hostname } from 'node:os';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import pino, { type Logger } from 'pino';
import { EdgesealError } from '../lib/errors.ts';
import { listen } from '../lib/listen.ts';
import { TLS_SERVER_POLICY } from '../lib/tls-policy.ts';
import { Broker } from './broker/broker.ts';
import { Connection } from './broker/connection.ts';
import { LocalRouter } from './broker/local-router.ts';
import type { Router } from './broker/router.ts';
import type { GatewayConfig } from './config.ts';
import type { ControlLink, GatewayLeaseRequest } from './control-link.ts';
import type { PeerFacts, Principal } from './core/identity.ts';
import { GatewayMetrics } from './metrics.ts';
import { RevocationView } from './revocation/revocation-view.ts';
import { AttestationView } from './attestation/attestation-view.ts';
import { canReceive } from './core/acl.ts';
import { UpstreamRouter } from './upstream/upstream-router.ts';

export interface Gateway {
  readonly mqttsUrl: string;
  readonly metricsUrl: string;
  readonly port: number;
  readonly broker: Broker;
  readonly metrics: GatewayMetrics;
  readonly revocation: RevocationView;
  close(): Promise<void>;
}

function processGauges(): Record<string, number> {
  const m = process.memoryUsage();
  return {
    process_resident_memory_bytes: m.rss,
    nodejs_heap_used_bytes: m.heapUsed,
    nodejs_external_memory_bytes: m.external,
  };
}

function peerFacts(c: Connection): PeerFacts {
  const s = c.socket;
  // The X509Certificate view reads only the fields asked for (getPeerCertificate() renders
  // every field of the certificate into a JS object at each handshake).
  const cert = s.getPeerX509Certificate();
  return {
    authorized: s.authorized,
    verifyError: s.authorizationError
      ? String((s.authorizationError as Error & { code?: string }).code ?? s.authorizationError)
      : undefined,
    subjectAltName: cert ? (cert.subjectAltName ?? '') : undefined,
    serialNumber: cert?.serialNumber,
    notAfter: cert ? Date.parse(cert.validTo) : undefined,
    subject: cert?.subject,
  };
}

export async function startGateway(
  config: GatewayConfig,
  link: ControlLink,
  opts: { log?: Logger } = {},
): Promise<Gateway> {
  const log = opts.log ?? pino({ level: config.logLevel, base: { service: 'gateway' } });
  const revocation = new RevocationView(config.revocationPolicy, config.revocationGraceMs, log);
  const attestation = new AttestationView(log);
  // the read ACL every delivery is checked against, with the device's attestation standing
  const mayReceive = (p: Principal, topic: string) => canReceive(p, topic, attestation.quarantined(p));
  // The router counts drops into the metrics and the metrics read the router's and the
  // broker's gauges: each only calls the other once the gateway runs.
  const drop = (reason: string) => metrics.dropped.inc(reason);
  const router: Router = config.upstreamUrl
    ? new UpstreamRouter(config.upstreamUrl, log, drop, mayReceive)
    : new LocalRouter(
        { maxQueued: config.maxQueued, sessionExpiryMs: config.sessionExpiryMs, now: Date.now },
        drop,
        mayReceive,
      );
  const metrics: GatewayMetrics = new GatewayMetrics(() => ({
    ...processGauges(),
    edgeseal_gateway_connections: b.connectionCount,
    edgeseal_gateway_open_sessions: b.openSessions,
    edgeseal_gateway_quarantined_sessions: b.quarantinedSessions,
    edgeseal_gateway_attestation_feed_up: attestation.connected ? 1 : 0,
    edgeseal_gateway_revoked_serials: revocation.size,
    edgeseal_gateway_revocation_feed_up: revocation.connected ? 1 : 0,
    ...router.gauges(),
  }));
  const b = new Broker(
    {
      trustDomain: config.trustDomain,
      maxPayloadBytes: config.maxPayloadBytes,
      rate: config.rate,
      burst: config.burst,
      connectTimeoutMs: config.connectTimeoutMs,
      maxPacketBytes: config.maxPayloadBytes + 65_536,
    },
    router,
    revocation,
    metrics,
    log,
    peerFacts,
    Date.now,
    attestation,
  );

  // The lease first: a gateway that would split the fleet stops here, before anything listens.
  const lease = await holdLease(link, config, log);
  // Revocation next: with fail-closed nobody is admitted before the list is loaded.
  let stopFeed: () => void;
  try {
    stopFeed = await link.followRevocations(revocation);
  } catch (e) {
    await lease.release();
    throw e;
  }
  // Attestation standing: until it arrives, devices of models that require it are held to
  // status/ota (the view starts empty, so nobody is affirming yet).
  let stopAttestation: () => void;
  try {
    stopAttestation = await link.followAttestation(attestation);
  } catch (e) {
    stopFeed();
    await lease.release();
    throw e;
  }
  const identity = await link.serverIdentity(config.hosts);
  const trust = await link.trustPem();
  const tlsOptions = (i: typeof identity) => ({
    key: i.keyPem,
    cert: i.certChainPem,
    ca: trust,
    ...TLS_SERVER_POLICY, // also on renewal: setSecureContext starts from Node's defaults
  });
  let nextId = 0;
  const server = createTlsServer(
    {
      ...tlsOptions(identity),
      // Ask for and verify a client certificate; the verdict (`authorized`, and why not) is
      // turned into a CONNACK with its reason code, so a refused client is told, and counted.
      requestCert: true,
      rejectUnauthorized: false,
      handshakeTimeout: config.connectTimeoutMs,
    },
    (socket: TLSSocket) => {
      socket.setNoDelay(true);
      const c = new Connection(
        socket,
        ++nextId,
        // the same packet limit the broker announces (MQTT 5); CONNECT is bounded before auth
        { maxPacketBytes: config.maxPayloadBytes + 65_536, maxConnectBytes: config.maxConnectBytes },
        Date.now(),
        b.onPacket,
        b.onError,
      );
      b.accept(c);
    },
  );
  server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
    metrics.refusals.inc('tls_handshake');
    log.debug(
      { event: 'refused', reason: 'tls_handshake', detail: err.code ?? err.message },
      'TLS handshake failed',
    );
  });
  // Renew the server certificate at two thirds of its life without a restart.
  const renew = setInterval(
    () => {
      link
        .serverIdentity(config.hosts)
        .then((next) => server.setSecureContext(tlsOptions(next)))
        .catch((err) => log.error({ err }, 'gateway server certificate renewal failed; will retry'));
    },
    Math.max(60_000, ((identity.notAfter.getTime() - Date.now()) * 2) / 3),
  );
  renew.unref();

  const http = createHttpServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(metrics.render());
      return;
    }
    if (req.method === 'GET' && (path === '/health' || path === '/healthz')) {
      const ok = revocation.fresh || config.revocationPolicy === 'fail-open';
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          status: ok ? 'ok' : 'degraded',
          revocation_feed: revocation.connected ? 'connected' : revocation.fresh ? 'reconnecting' : 'stale',
          revocation_policy: config.revocationPolicy,
          connections: b.connectionCount,
          routing: config.upstreamUrl ? 'upstream' : 'in-process',
        }),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'application/problem+json' });
    res.end(
      JSON.stringify({
        type: 'about:blank',
        title: 'Not Found',
        status: 404,
        detail: `no ${path} here; try /metrics or /health`,
      }),
    );
  });

  let port: number;
  let metricsPort: number;
  try {
    port = await listen(server, config.port, config.listenHost, 'EDGESEAL_GATEWAY_PORT');
    metricsPort = await listen(http, config.metricsPort, config.listenHost, 'EDGESEAL_GATEWAY_METRICS_PORT');
  } catch (e) {
    clearInterval(renew);
    stopFeed();
    stopAttestation();
    server.close();
    b.stop();
    await router.stop();
    await lease.release();
    throw e;
  }
  const host =
    config.listenHost === '0.0.0.0'
      ? '127.0.0.1'
      : config.listenHost.includes(':')
        ? `[${config.listenHost}]`
        : config.listenHost;
  const mqttsUrl = `mqtts://${config.listenHost === '127.0.0.1' ? (config.hosts.dns[0] ?? host) : host}:${port}`;
  const metricsUrl = `http://${host}:${metricsPort}`;
  log.info(
    {
      mqtts_url: mqttsUrl,
      metrics_url: metricsUrl,
      control_plane: link.describe,
      routing: config.upstreamUrl ? `upstream ${new URL(config.upstreamUrl).host}` : 'in-process broker',
      revocation_policy: config.revocationPolicy,
      server_cert_serial: identity.serial,
    },
    'gateway listening',
  );
  let closed = false;
  return {
    mqttsUrl,
    metricsUrl,
    port,
    broker: b,
    metrics,
    revocation,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(renew);
      stopFeed();
      stopAttestation();
      b.stop();
      await Promise.all([
        new Promise((r) => server.close(r)),
        new Promise((r) => {
          http.closeAllConnections();
          http.close(r);
        }),
      ]);
      await router.stop();
      await lease.release();
    },
  };
}

/**
 * Takes this gateway's lease (how it routes) and renews it every third of its life. A
 * refusal at start stops start-up with the control plane's reason; a refusal later (the
 * lease lapsed during an outage and another gateway took the fleet) is logged as an error
 * on every renewal, since this gateway may then acknowledge what it cannot deliver.
 */
async function holdLease(
  link: ControlLink,
  config: GatewayConfig,
  log: Logger,
): Promise<{ release(): Promise<void> }> {
  const req: GatewayLeaseRequest = {
    id: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
    routing: config.upstreamUrl ? 'upstream' : 'local',
    upstream: config.upstreamUrl ? withoutCredentials(config.upstreamUrl) : null,
  };
  await link.lease(req);
  if (req.routing === 'local') {
    log.warn(
      { gateway_id: req.id, routing: 'in-process broker' },
      "this is the fleet's only gateway: it routes through its own in-process broker, and the control plane will refuse any other gateway while it runs (set MQTT_UPSTREAM_URL on every gateway to run several)",
    );
  }
  const timer = setInterval(() => {
    link.lease(req).catch((err: unknown) => {
      const conflict = err instanceof EdgesealError && err.code === 'ERR_GATEWAY_CONFLICT';
      if (conflict)
        log.error({ err, gateway_id: req.id }, 'the control plane no longer grants this gateway its lease');
      else log.warn({ err, gateway_id: req.id }, 'gateway lease renewal failed; will retry');
    });
  }, LEASE_RENEW_MS);
  timer.unref();
  return {
    async release() {
      clearInterval(timer);
      await link
        .releaseLease(req.id)
        .catch((err: unknown) => log.warn({ err }, 'gateway lease not released'));
    },
  };
}

const LEASE_RENEW_MS = 10_000;

function withoutCredentials(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return u.toString();
}
