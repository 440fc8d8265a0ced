// edgeseal init / edgeseal up
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import pino, { type Logger } from 'pino';
import { bootstrap, dataPaths } from '../ca-service/bootstrap.ts';
import type { CaConfig } from '../ca-service/config.ts';
import { startControlPlane } from '../ca-service/main.ts';
import { parseGatewayConfig, type GatewayConfig } from '../gateway/config.ts';
import { startGateway } from '../gateway/main.ts';
import { remoteControlLink } from '../gateway/revocation/remote-link.ts';
import { startGatewayThread } from '../gateway/thread.ts';
import { connect, runningEndpoint } from './client.ts';
import { print, UsageError } from './output.ts';

const clock = { now: () => new Date() };

export async function initCommand(config: CaConfig, json: boolean): Promise<void> {
  const running = runningEndpoint(config.dataDir);
  if (running) {
    // PGlite admits one process; the running control plane already did everything init does.
    print(
      json,
      { running: true, https_url: running.https_url, data_dir: config.dataDir },
      () =>
        `already initialized; the control plane is running at ${running.https_url} (data in ${config.dataDir})`,
    );
    return;
  }
  const b = await bootstrap(config, clock);
  try {
    const out = {
      created: b.hierarchy.created,
      data_dir: b.paths.dataDir,
      database: b.database.location,
      kek: b.kek.source === 'env' ? 'EDGESEAL_KEK' : b.kek.path,
      kek_id: b.kek.id,
      root_ca: b.paths.rootPem,
      ca_chain: b.paths.chainPem,
      admin_token: b.paths.adminToken,
      admin_token_created: b.adminTokenCreated,
      root_id: b.hierarchy.root.id,
      issuing_id: b.hierarchy.issuing.id,
      trust_domain: config.trustDomain,
    };
    print(json, out, () =>
      [
        b.hierarchy.created ? 'created a new CA hierarchy' : 'CA hierarchy already present (nothing changed)',
        `  data directory   ${out.data_dir}`,
        `  database         ${out.database}`,
        `  KEK              ${out.kek} (id ${out.kek_id})`,
        `  root CA          ${out.root_ca}  (${out.root_id})`,
        `  CA chain         ${out.ca_chain}  (issuing ${out.issuing_id})`,
        `  admin token      ${out.admin_token}${b.adminTokenCreated ? ' (new)' : ''}`,
        '  private keys are stored only encrypted under the KEK',
      ].join('\n'),
    );
  } finally {
    await b.database.close();
  }
}

export async function upCommand(config: CaConfig, what: string | undefined): Promise<void> {
  if (what && what !== 'ca' && what !== 'gateway') {
    throw new UsageError(`unknown service "${what}"; use ca or gateway (or nothing for both)`);
  }
  // Parsed up front: a bad gateway setting stops start-up before anything listens.
  const gwConfig = what === 'ca' ? undefined : parseGatewayConfig(process.env);
  if (what === 'gateway') return gatewayAlone(config, gwConfig!);
  if (runningEndpoint(config.dataDir)) {
    throw new UsageError(`a control plane is already running for ${config.dataDir}`);
  }
  const log = pino({ level: config.logLevel, base: { service: 'ca' } });
  // the telemetry consumer reads through the gateway started below (or the configured one)
  const cp = await startControlPlane(config, { log, telemetryConsumerLater: !!gwConfig });
  let gw: { mqttsUrl: string; metricsUrl: string; close(): Promise<void> } | undefined;
  try {
    if (gwConfig) gw = await gatewayThread(config, cp.httpsUrl, readFileSync(cp.boot.paths.rootPem, 'utf8'));
    if (gw && !config.telemetryGatewayUrl) cp.telemetry.startConsumer(gw.mqttsUrl);
  } catch (e) {
    await cp.close();
    throw e;
  }
  const p = cp.boot.paths;
  process.stderr.write(
    [
      `edgeseal up`,
      `  HTTPS (EST, /v1, /openapi.json)  ${cp.httpsUrl}`,
      `  HTTP (CA certs, CRL, OCSP)       ${cp.httpUrl}`,
      ...(gw
        ? [
            `  MQTTS gateway (mTLS)             ${gw.mqttsUrl}`,
            `  gateway metrics / health         ${gw.metricsUrl}/metrics  ${gw.metricsUrl}/health`,
          ]
        : []),
      `  data                             ${p.dataDir} (${cp.boot.database.kind})`,
      `  root CA                          ${p.rootPem}`,
      `  admin token                      ${p.adminToken}${cp.boot.adminTokenCreated ? ' (created now)' : ''}`,
      `  next: edgeseal batch create --hardware-model cam-v2 --quota 100 --expires 8h`,
      '',
    ].join('\n'),
  );
  onSignals(log, async () => {
    await cp.telemetry.close(); // before its gateway goes, so it does not try to reconnect
    await gw?.close();
    await cp.close();
  });
}

/**
 * The gateway of `edgeseal up`, on its own thread with a `gateway` token of its own (revoked
 * when it stops), following the control plane over HTTPS like a lone gateway.
 */
async function gatewayThread(
  config: CaConfig,
  caUrl: string,
  rootPem: string,
): Promise<{ mqttsUrl: string; metricsUrl: string; close(): Promise<void> }> {
  const api = connect(config.dataDir, undefined, caUrl);
  const created = await api.call<{ id: string; token: string }>('POST', '/v1/tokens', {
    role: 'gateway',
    label: `gateway thread of edgeseal up, ${hostname()} pid ${process.pid}`,
    expires_in: '365d',
  });
  const revoke = () => api.call('POST', `/v1/tokens/${created.id}/revoke`).then(() => {});
  try {
    const t = await startGatewayThread({ env: { ...process.env }, caUrl, token: created.token, rootPem });
    return {
      ...t,
      async close() {
        await t.close();
        await revoke().catch(() => {});
      },
    };
  } catch (e) {
    await revoke().catch(() => {});
    throw e;
  }
}

/** `edgeseal up gateway`: a gateway on its own, talking to a running control plane over HTTPS. */
async function gatewayAlone(config: CaConfig, gw: GatewayConfig): Promise<void> {
  if (!gw.upstreamUrl && !gw.onlyGateway) {
    // [issue 7, item 12] its own broker could reach only the devices connected to it
    throw new UsageError(
      "a gateway without MQTT_UPSTREAM_URL routes through its own in-process broker and cannot deliver to devices on any other gateway; set MQTT_UPSTREAM_URL (every gateway of the fleet on one broker), or EDGESEAL_GATEWAY_ONLY=true if this is the fleet's only gateway",
    );
  }
  const log = pino({ level: gw.logLevel, base: { service: 'gateway' } });
  const caUrl = gw.caUrl ?? runningEndpoint(config.dataDir)?.https_url;
  if (!caUrl) {
    throw new UsageError(
      `no control plane found for ${config.dataDir}; start one (edgeseal up ca) or set EDGESEAL_CA_URL`,
    );
  }
  const rootFile = dataPaths(config.dataDir).rootPem;
  if (!existsSync(rootFile)) {
    throw new UsageError(
      `no CA root at ${rootFile}: copy the control plane's ca/root.pem there (EDGESEAL_DATA_DIR)`,
    );
  }
  let token = gw.token;
  if (!token) {
    // Same machine as the control plane: mint a gateway token with the admin credential.
    const created = await connect(config.dataDir, undefined, caUrl).call<{ token: string }>(
      'POST',
      '/v1/tokens',
      {
        role: 'gateway',
        label: `gateway ${hostname()} pid ${process.pid}`,
        expires_in: '30d',
      },
    );
    token = created.token;
  }
  const g = await startGateway(
    gw,
    remoteControlLink({ caUrl, token, rootPem: readFileSync(rootFile, 'utf8'), log }),
    { log },
  );
  process.stderr.write(
    [
      `edgeseal gateway up (control plane ${caUrl})`,
      `  MQTTS (mTLS)       ${g.mqttsUrl}`,
      `  metrics / health   ${g.metricsUrl}/metrics  ${g.metricsUrl}/health`,
      '',
    ].join('\n'),
  );
  onSignals(log, () => g.close());
}

function onSignals(log: Logger, close: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    close().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
