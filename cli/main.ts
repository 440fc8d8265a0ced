// The edgeseal CLI: one composition root; each verb group lives in its own file.
import { parseCaConfig } from '../ca-service/config.ts';
import { EdgesealError } from '../lib/errors.ts';
import { agentCommand } from './agent.ts';
import { attestCommand } from './attest.ts';
import { auditCommand } from './audit.ts';
import { batchCommand } from './batch.ts';
import { devicesCommand } from './devices.ts';
import { firmwareCommand } from './firmware.ts';
import { modelCommand } from './model.ts';
import { releaseCommand } from './release.ts';
import { certsCommand, findingsCommand } from './certs.ts';
import { ApiError, connect } from './client.ts';
import { initCommand, upCommand } from './init-up.ts';
import { UsageError } from './output.ts';
import { revokeCommand } from './revoke.ts';
import { tlogCommand } from './tlog.ts';
import { tokenCommand } from './token.ts';

const HELP = `edgeseal — chain of trust for edge-AI device fleets

usage: edgeseal <command> [options] [--json]

  init                         create the CA hierarchy, KEK and admin token if missing; say where
  up [ca|gateway]              run the control plane and the MQTT gateway (what npm start runs),
                               or one of them (a lone gateway finds the control plane through
                               the data directory or EDGESEAL_CA_URL)
  batch create --hardware-model M --quota N [--expires 8h] [--id-prefix P]
                               a production batch credential for a factory station
  batch list | show ID | revoke ID
  token create --role auditor|security-admin|release-manager|admin [--expires 30d] [--label L]
  token list | revoke ID
  revoke --serial S | --device D | --batch B [--reason keyCompromise|superseded|…]
                               (needs a security-admin token: --token or EDGESEAL_TOKEN)
  audit verify                 check the audit hash chain and its signed checkpoints; names any
                               changed, deleted, inserted or reordered event (exit 1 if any)
  certs [--device D] [--batch B] [--model M] [--serial S] [--status valid|revoked|expired]
        [--expiring-within DAYS] [--limit N] [--csv]
                               find certificates (--csv exports every match)
  findings                     hygiene: shared keys, valid certs of revoked batches, weak keys, expiring
  tlog sth                     the current signed tree head of the transparency log
  tlog verify --cert FILE [--since STH.json]
                               prove the certificate was logged, and that the log only grew
  firmware add --hardware-model M --version V --svn N --sha256 HEX [--component firmware|agent]
  firmware deny --sha256 HEX [--reason R] | min-svn --hardware-model M --svn N
  firmware policy --hardware-model M --attestation auto|required|off | retire ID | list
                               reference values devices are appraised against (security-admin)
  attest status [--device D]   the latest attestation result per device, with its reasons
  devices [--hardware-model M] [--anomalous] [--drifting] [--limit N] | devices show D
                               fleet state: certificate, attestation, model, latest inference,
                               anomalies, input drift (PSI against the training distribution)
  release key create [--label L] | key list | key revoke KID
                               manifest signing keys (made here, wrapped under the KEK; admin registers)
  model package --in model.onnx --model-id ID --version V --hardware-model M [--hardware-model M2]
        [--min-firmware-svn N] [--release-counter N] [--release-key FILE] --out FILE
                               encrypt (AES-256-GCM chunks) and sign a model into a package
  release publish FILE | release list [--model-id ID]
                               upload a package (its signature and digests are checked; release-manager)
  agent provision --state DIR --est-url URL --batch ID --secret S --device-id ID
        --hardware-model M --firmware FILE [--ca-file PEM | --ca-fingerprint SHA256HEX]
        [--gateway mqtts://HOST:PORT] [--control-plane https://HOST:PORT] [--key-id K]
                               at manufacture: device key made in DIR (0600), EST enrollment
  agent run --state DIR [--control-plane URL] [--gateway mqtts://…] [--key-id K]
        [--telemetry-interval SECONDS] [--window-interval SECONDS] [--outbox-max-bytes N]
        [--sensor normal|bearing_wear|imbalance|looseness] [--sensor-drift] [--sensor-file FILE|-]
                               run the device: renewal, attestation, its model (decrypted in
                               memory only), inference, encrypted telemetry (buffered on disk
                               while offline); one JSON log line per event; SIGINT/SIGTERM stop it

global options: --json (machine-readable output), --token T (API token; default: the data
directory's admin token), --url U (control plane URL; default: the running one)
environment: EDGESEAL_DATA_DIR (default ./.edgeseal), DATABASE_URL, EDGESEAL_KEK, … (docs/configuration.md)`;

async function main(argv: string[]): Promise<void> {
  const json = argv.includes('--json');
  const args = argv.filter((a) => a !== '--json');
  const take = (flag: string): string | undefined => {
    const i = args.indexOf(flag);
    if (i < 0) return undefined;
    const v = args[i + 1];
    if (!v || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    args.splice(i, 2);
    return v;
  };
  const token = take('--token') ?? process.env.EDGESEAL_TOKEN;
  const url = take('--url');
  const [cmd, ...rest] = args;
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const config = parseCaConfig(process.env);
  const client = () => connect(config.dataDir, token, url);
  switch (cmd) {
    case 'init':
      return initCommand(config, json);
    case 'up':
      return upCommand(config, rest[0]);
    case 'batch':
      return batchCommand(rest, client, json);
    case 'token':
      return tokenCommand(rest, client, json);
    case 'revoke':
      return revokeCommand(rest, client, json);
    case 'audit':
      return auditCommand(rest, client, json, config.dataDir);
    case 'certs':
      return certsCommand(rest, client, json);
    case 'findings':
      return findingsCommand(client, json);
    case 'tlog':
      return tlogCommand(rest, client, json, config.dataDir);
    case 'agent':
      return agentCommand(rest, json, config.dataDir);
    case 'firmware':
      return firmwareCommand(rest, client, json);
    case 'attest':
      return attestCommand(rest, client, json);
    case 'devices':
      return devicesCommand(rest, client, json);
    case 'model':
      return modelCommand(rest, client, json, config);
    case 'release':
      return releaseCommand(rest, client, json, config);
    default:
      throw new UsageError(`unknown command "${cmd}"; see edgeseal --help`);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (
    e instanceof UsageError ||
    (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
  ) {
    process.stderr.write(`edgeseal: ${e.message}\n`);
    process.exit(2);
  }
  if (e instanceof ApiError) {
    process.stderr.write(`edgeseal: ${e.message}${e.problem.code ? ` (${e.problem.code})` : ''}\n`);
    process.exit(1);
  }
  if (e instanceof EdgesealError) {
    process.stderr.write(`edgeseal: ${e.detail}\n`);
    process.exit(1);
  }
  process.stderr.write(
    `edgeseal: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
  );
  process.exit(1);
});
