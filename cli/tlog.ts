// edgeseal tlog sth | verify --cert FILE [--since STH_FILE]
// Checks, here and with the pinned log key, that a certificate was logged and that the log
// only grew since a tree head saved earlier.
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { dataPaths } from '../ca-service/bootstrap.ts';
import { leafHash, verifyConsistency, verifyInclusion } from '../lib/merkle.ts';
import { fromPemAll } from '../lib/pem.ts';
import { sthMessage } from '../lib/tlog-sth.ts';
import { parseCertificate } from '../lib/x509/parse-certificate.ts';
import type { ApiClient } from './client.ts';
import { print, UsageError } from './output.ts';

interface Sth {
  tree_size: number;
  root_hash: string;
  timestamp: number;
  signature: string;
}

function logKey(dataDir: string): KeyObject {
  const p = dataPaths(dataDir).logKeyPem;
  if (!existsSync(p))
    throw new UsageError(`no pinned log key at ${p}; copy it from the control plane's data directory`);
  return createPublicKey(readFileSync(p, 'utf8'));
}

function checkSth(sth: Sth, key: KeyObject, what: string): void {
  const ok = verify(
    'sha256',
    sthMessage(sth.tree_size, Buffer.from(sth.root_hash, 'base64'), sth.timestamp),
    key,
    Buffer.from(sth.signature, 'base64'),
  );
  if (!ok)
    throw new UsageError(`${what} tree head (size ${sth.tree_size}) is not signed by the pinned log key`);
}

export async function tlogCommand(
  argv: string[],
  client: () => ApiClient,
  json: boolean,
  dataDir: string,
): Promise<void> {
  const [verb, ...rest] = argv;
  if (verb === 'sth') {
    const sth = await client().call<Sth>('GET', '/v1/tlog/sth');
    checkSth(sth, logKey(dataDir), 'the current');
    print(
      json,
      sth,
      () =>
        `tree size ${sth.tree_size}, root ${sth.root_hash}, at ${new Date(sth.timestamp).toISOString()} (signature OK)`,
    );
    return;
  }
  if (verb !== 'verify') throw new UsageError(`unknown tlog command "${verb ?? ''}"; use sth or verify`);
  const { values } = parseArgs({
    args: rest,
    options: { cert: { type: 'string' }, since: { type: 'string' } },
    strict: true,
  });
  if (!values.cert) throw new UsageError('tlog verify needs --cert FILE (PEM or DER)');
  if (!existsSync(values.cert)) throw new UsageError(`--cert ${values.cert}: no such file`);
  const raw = readFileSync(values.cert);
  const pem = fromPemAll(raw.toString('latin1')).find((b) => b.label === 'CERTIFICATE');
  const der = pem?.der ?? raw;
  let serial: string;
  try {
    serial = parseCertificate(der).serialHex;
  } catch {
    throw new UsageError(`--cert ${values.cert}: not a certificate (PEM or DER)`);
  }
  const key = logKey(dataDir);
  const c = client();
  const sth = await c.call<Sth>('GET', '/v1/tlog/sth');
  checkSth(sth, key, 'the current');
  const proof = await c.call<{ leaf_index: number; tree_size: number; audit_path: string[] }>(
    'GET',
    `/v1/tlog/inclusion?serial=${serial}&tree_size=${sth.tree_size}`,
  );
  const included = verifyInclusion(
    leafHash(der),
    proof.leaf_index,
    sth.tree_size,
    proof.audit_path.map((p) => Buffer.from(p, 'base64')),
    Buffer.from(sth.root_hash, 'base64'),
  );
  const result: Record<string, unknown> = {
    serial,
    leaf_index: proof.leaf_index,
    tree_size: sth.tree_size,
    included,
  };
  if (values.since) {
    if (!existsSync(values.since)) throw new UsageError(`--since ${values.since}: no such file`);
    const old = JSON.parse(readFileSync(values.since, 'utf8')) as Sth;
    checkSth(old, key, 'the saved');
    const cons = await c.call<{ proof: string[] }>(
      'GET',
      `/v1/tlog/consistency?first=${old.tree_size}&second=${sth.tree_size}`,
    );
    result.consistent_since = old.tree_size;
    result.consistent = verifyConsistency(
      old.tree_size,
      sth.tree_size,
      Buffer.from(old.root_hash, 'base64'),
      Buffer.from(sth.root_hash, 'base64'),
      cons.proof.map((p) => Buffer.from(p, 'base64')),
    );
  }
  const ok = included && result.consistent !== false;
  print(json, { ok, ...result }, () =>
    [
      included
        ? `certificate ${serial} is in the log (leaf ${proof.leaf_index} of ${sth.tree_size})`
        : `certificate ${serial}: inclusion proof FAILED`,
      ...(values.since
        ? [
            result.consistent
              ? `the log only grew since size ${result.consistent_since}`
              : `consistency with size ${result.consistent_since} FAILED: the log was rewritten`,
          ]
        : []),
    ].join('\n'),
  );
  if (!ok) process.exitCode = 1;
}
