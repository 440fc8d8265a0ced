// npm run bench:ca — enrollment throughput and latency at concurrency 32 against the running
// control plane (`edgeseal up` in its own process), on PGlite and on Postgres, side by side
// in the same run with `cfssl serve` signing the same CSRs through /api/v1/cfssl/sign.
// edgeseal stores and audits every certificate; cfssl stores nothing. Last line: one JSON object.
//
// Env: BENCH_SECONDS (default 10), BENCH_CONCURRENCY (32), DATABASE_URL (Postgres side;
// default postgres://postgres@127.0.0.1:5432/test, skipped if unreachable), BENCH_CSRS.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { toPem } from '../lib/pem.ts';
import { makeCsrs } from './lib/csrs.ts';
import { httpsJson } from './lib/https-json.ts';
import { type LoadResult, runLoad } from './lib/load.ts';
import { freePort, have, start, stop, waitFor } from './lib/processes.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const WARMUP = Math.min(2, SECONDS / 4);
const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const BIN = join(import.meta.dirname, '..', 'bin', 'edgeseal.mjs');
const log = (s: string) => process.stderr.write(`${s}\n`);

const nCsrs = Number(process.env.BENCH_CSRS ?? Math.ceil((SECONDS + WARMUP) * 7000));
log(`making ${nCsrs} distinct P-256 CSRs…`);
const csrs = makeCsrs(nCsrs);
const csrB64 = csrs.map((d) => d.toString('base64'));
const csrPem = csrs.map((d) => toPem('CERTIFICATE REQUEST', d));

async function benchEdgeseal(databaseUrl: string | undefined): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeseal-bench-'));
  const [https, http] = [await freePort(), await freePort()];
  // BENCH_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the server under load.
  const nodeArgs = process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : [];
  const p = start('node', [...nodeArgs, BIN, 'up'], {
    ...process.env,
    EDGESEAL_DATA_DIR: dir,
    EDGESEAL_HTTPS_PORT: String(https),
    EDGESEAL_HTTP_PORT: String(http),
    EDGESEAL_LOG_LEVEL: 'warn',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { DATABASE_URL: '' }),
  });
  try {
    await waitFor(() => existsSync(join(dir, 'control-plane.json')), 'edgeseal up');
    const base = `https://localhost:${https}`;
    const ca = readFileSync(join(dir, 'ca', 'root.pem'), 'utf8');
    const token = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
    const batch = await httpsJson<{ id: string; secret: string }>(`${base}/v1/batches`, ca, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: { hardware_model: 'bench', quota: 10_000_000, expires_in: '1d' },
    });
    const auth = `Basic ${Buffer.from(`${batch.id}:${batch.secret}`).toString('base64')}`;
    let i = 0;
    return await runLoad({
      base,
      ca,
      concurrency: CONCURRENCY,
      seconds: SECONDS,
      warmupSeconds: WARMUP,
      next: () =>
        i < csrB64.length
          ? {
              path: '/.well-known/est/simpleenroll',
              headers: { authorization: auth, 'content-type': 'application/pkcs10' },
              body: csrB64[i++]!,
            }
          : undefined,
      ok: (status) => status === 200,
    });
  } finally {
    await stop(p);
  }
}

async function benchCfssl(): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'cfssl-bench-'));
  const key = join(dir, 'ca-key.pem');
  const cert = join(dir, 'ca.pem');
  execFileSync('openssl', [
    'genpkey',
    '-algorithm',
    'EC',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-out',
    key,
  ]);
  execFileSync('openssl', [
    'req',
    '-x509',
    '-new',
    '-key',
    key,
    '-subj',
    '/CN=cfssl bench CA',
    '-days',
    '30',
    '-out',
    cert,
    '-addext',
    'basicConstraints=critical,CA:TRUE,pathlen:0',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      signing: { default: { expiry: '8760h', usages: ['digital signature', 'client auth'] } },
    }),
  );
  const port = await freePort();
  const p = start(
    'cfssl',
    [
      'serve',
      '-address',
      '127.0.0.1',
      '-port',
      String(port),
      '-ca',
      cert,
      '-ca-key',
      key,
      '-config',
      join(dir, 'config.json'),
    ],
    process.env,
  );
  try {
    await waitFor(async () => {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/api/v1/cfssl/info`, { method: 'POST', body: '{}' });
        return r.status < 500;
      } catch {
        return false;
      }
    }, 'cfssl serve');
    let i = 0;
    return await runLoad({
      base: `http://127.0.0.1:${port}`,
      concurrency: CONCURRENCY,
      seconds: SECONDS,
      warmupSeconds: WARMUP,
      next: () =>
        i < csrPem.length
          ? {
              path: '/api/v1/cfssl/sign',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ certificate_request: csrPem[i++] }),
            }
          : undefined,
      ok: (status, body) => status === 200 && body.includes('"success":true'),
    });
  } finally {
    await stop(p);
  }
}

async function freshPostgres(): Promise<{ url: string; drop: () => Promise<void> } | undefined> {
  try {
    const admin = postgres(PG_URL, { max: 1, onnotice: () => {}, connect_timeout: 3 });
    const name = `edgeseal_bench_${Date.now()}`;
    await admin.unsafe(`create database ${name}`);
    await admin.end();
    const u = new URL(PG_URL);
    u.pathname = `/${name}`;
    return {
      url: u.toString(),
      drop: async () => {
        const a = postgres(PG_URL, { max: 1, onnotice: () => {} });
        await a.unsafe(`drop database if exists ${name} with (force)`);
        await a.end();
      },
    };
  } catch (e) {
    log(`Postgres at ${PG_URL} unreachable (${String(e)}); skipping the Postgres side`);
    return undefined;
  }
}

const show = (name: string, r: LoadResult | null) =>
  log(
    r
      ? `${name.padEnd(20)} ${String(r.per_second).padStart(6)} certs/s  p50 ${r.p50_ms} ms  p99 ${r.p99_ms} ms  (${r.ok} ok, ${r.errors} errors${r.first_error ? `; first: ${r.first_error}` : ''})`
      : `${name.padEnd(20)} skipped`,
  );

const pglite = await benchEdgeseal(undefined);
show('edgeseal (PGlite)', pglite);
const pg = await freshPostgres();
let onPostgres: LoadResult | null = null;
if (pg) {
  try {
    onPostgres = await benchEdgeseal(pg.url);
  } finally {
    await pg.drop();
  }
}
show('edgeseal (Postgres)', onPostgres);
const cfssl = have('cfssl') ? await benchCfssl() : null;
show('cfssl serve', cfssl);
const ratio = (r: LoadResult | null) =>
  r && cfssl?.per_second ? Math.round((r.per_second / cfssl.per_second) * 100) / 100 : null;
const summary = {
  bench: 'ca-enrollment',
  concurrency: CONCURRENCY,
  seconds: SECONDS,
  edgeseal_pglite: pglite,
  edgeseal_postgres: onPostgres,
  cfssl,
  ratio_pglite_vs_cfssl: ratio(pglite),
  ratio_postgres_vs_cfssl: ratio(onPostgres),
};
process.stdout.write(`${JSON.stringify(summary)}\n`);
// keep-alive sockets must not hold the process open after the result is out
process.exit(0);
