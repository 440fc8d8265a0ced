// edgeseal agent provision|run: flags in, device-agent/ does the work. Exit codes: 2 for a
// value to fix on the command line, 1 for a refusal or failure, 0 when `run` was stopped
// by SIGINT/SIGTERM.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { dataPaths } from '../ca-service/bootstrap.ts';
import { normalizeFingerprint } from '../device-agent/identity/certs.ts';
import type { TrustSource } from '../device-agent/identity/trust.ts';
import { AgentError } from '../device-agent/errors.ts';
import { print, UsageError } from './output.ts';

function need(values: Record<string, string | boolean | undefined>, flag: string, verb: string): string {
  const v = values[flag];
  if (typeof v !== 'string' || v.length === 0) throw new UsageError(`agent ${verb} needs --${flag}`);
  return v;
}

function trustSource(values: Record<string, string | boolean | undefined>, dataDir: string): TrustSource {
  const file = values['ca-file'];
  const fp = values['ca-fingerprint'];
  if (typeof file === 'string' && typeof fp === 'string') {
    throw new UsageError('give either --ca-file or --ca-fingerprint, not both');
  }
  if (typeof file === 'string') return { kind: 'file', path: file };
  if (typeof fp === 'string') {
    const sha256 = normalizeFingerprint(fp);
    if (!sha256)
      throw new UsageError(`--ca-fingerprint "${fp}" must be a SHA-256 fingerprint (64 hex digits)`);
    return { kind: 'fingerprint', sha256 };
  }
  const local = dataPaths(dataDir).rootPem;
  if (existsSync(local)) return { kind: 'local-ca', path: local };
  throw new UsageError(
    `agent provision needs the EST server's root: --ca-file ROOT.pem or --ca-fingerprint SHA256HEX (no CA root at ${local} either)`,
  );
}

async function provisionCommand(argv: string[], json: boolean, dataDir: string): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      state: { type: 'string' },
      'est-url': { type: 'string' },
      batch: { type: 'string' },
      secret: { type: 'string' },
      'device-id': { type: 'string' },
      'hardware-model': { type: 'string' },
      firmware: { type: 'string' },
      'ca-file': { type: 'string' },
      'ca-fingerprint': { type: 'string' },
      gateway: { type: 'string' },
      'control-plane': { type: 'string' },
      'key-id': { type: 'string' },
    },
    strict: true,
  });
  const v = values as Record<string, string | undefined>;
  const req = (f: string) => need(v, f, 'provision');
  const opts = {
    stateDir: req('state'),
    estUrl: req('est-url'),
    batch: { id: req('batch'), secret: req('secret') },
    deviceId: req('device-id'),
    hardwareModel: req('hardware-model'),
    firmwarePath: req('firmware'),
    ...(v['control-plane'] ? { controlPlaneUrl: v['control-plane'] } : {}),
    ...(v.gateway ? { gatewayUrl: v.gateway } : {}),
    ...(v['key-id'] ? { keyId: v['key-id'] } : {}),
  };
  const { provision } = await import('../device-agent/provision.ts');
  const p = await provision({ ...opts, trust: trustSource(v, dataDir) });
  print(
    json,
    {
      ...p.device,
      state_dir: p.paths.dir,
      cert_serial: p.certSerial,
      not_after: p.notAfter.toISOString(),
      root_sha256: p.rootSha256,
    },
    () =>
      [
        `provisioned ${p.device.device_id} (${p.device.hardware_model}) in ${p.paths.dir}`,
        `certificate ${p.certSerial}, valid until ${p.notAfter.toISOString()}`,
        `control plane ${p.device.control_plane_url}, gateway ${p.device.gateway_url}`,
        `run it: edgeseal agent run --state ${p.paths.dir}`,
      ].join('\n'),
  );
}

async function runCommand(argv: string[]): Promise<void> {
  // loaded here, not at the CLI's start: onnxruntime, MQTT.js and jose are for `agent run` only
  const { parseRunArgs } = await import('../device-agent/run-args.ts');
  const { runAgentUntilSignal } = await import('../device-agent/run-main.ts');
  await runAgentUntilSignal(parseRunArgs(argv));
}

export async function agentCommand(argv: string[], json: boolean, dataDir: string): Promise<void> {
  const [verb, ...rest] = argv;
  try {
    if (verb === 'provision') return await provisionCommand(rest, json, dataDir);
    if (verb === 'run') return await runCommand(rest);
  } catch (e) {
    if (!(e instanceof AgentError)) throw e;
    if (e.code === 'ERR_BAD_VALUE') throw new UsageError(e.detail);
    process.stderr.write(`edgeseal: ${e.detail}\n`);
    process.exitCode = 1;
    return;
  }
  throw new UsageError(`agent needs provision or run, got "${verb ?? ''}"; see edgeseal --help`);
}
