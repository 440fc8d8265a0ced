// edgeseal init / edgeseal up
import pino from 'pino';
import { bootstrap } from '../ca-service/bootstrap.ts';
import type { CaConfig } from '../ca-service/config.ts';
import { startControlPlane } from '../ca-service/main.ts';
import { runningEndpoint } from './client.ts';
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
  if (what && what !== 'ca') {
    throw new UsageError(
      what === 'gateway'
        ? 'the MQTT gateway is not built yet (issue #4); `edgeseal up ca` runs the control plane'
        : `unknown service "${what}"; use ca`,
    );
  }
  if (runningEndpoint(config.dataDir)) {
    throw new UsageError(`a control plane is already running for ${config.dataDir}`);
  }
  const log = pino({ level: config.logLevel, base: { service: 'ca' } });
  const cp = await startControlPlane(config, { log });
  const p = cp.boot.paths;
  process.stderr.write(
    [
      `edgeseal control plane up`,
      `  HTTPS (EST, /v1, /openapi.json)  ${cp.httpsUrl}`,
      `  HTTP (CA certs, CRL, OCSP)       ${cp.httpUrl}`,
      `  data                             ${p.dataDir} (${cp.boot.database.kind})`,
      `  root CA                          ${p.rootPem}`,
      `  admin token                      ${p.adminToken}${cp.boot.adminTokenCreated ? ' (created now)' : ''}`,
      `  next: edgeseal batch create --hardware-model cam-v2 --quota 100 --expires 8h`,
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    cp.close().then(
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
