// npm run bench:attest — full attestation appraisals per second and their latency at
// concurrency 32, on PGlite and on Postgres, in one run. A round is what a device does to
// attest: ask for a challenge (a nonce stored in the database), sign evidence over it with its
// own key (no pre-signing: the nonce is fresh every round), submit it; the verifier checks
// chain, signature, revocation and claims, appraises against the reference values, signs an
// EAR result, and in one transaction uses up the nonce and records the result as the device's
// latest with its audit event. Two ways:
//   - in-process: the control plane runs in this process and rounds call its AttestationService
//     directly (no HTTP, no TLS). The devices' signing runs on the same thread: its CPU is
//     measured apart (signEvidence alone) and reported as the load generator's share.
//   - https: `edgeseal up ca` in its own process; each device has its own keep-alive mTLS
//     connection (its certificate) and POSTs /v1/attestation/challenge and /evidence. The load
//     generator (this process) shares the machine's two cores with the server.
// The peer is Veraison's published figure (~400 appraisals/s on three VMs). Last line: one
// JSON object.
//
// Env: BENCH_SECONDS (default 10), BENCH_CONCURRENCY (32), BENCH_DEVICES (256),
// BENCH_ONLY (some of inprocess,https,pglite,postgres: a side runs when its way and its
// database are listed, or its group lists none; default everything), BENCH_PGLITE (dir, the
// default: a data directory as `edgeseal up` has; memory: in-memory PGlite, in-process only),
// DATABASE_URL (Postgres side; default postgres://postgres@127.0.0.1:5432/test, a fresh database
// made and dropped, skipped if unreachable), BENCH_NODE_ARGS (node flags for the https side's
// server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { EAT_JWT_MEDIA_TYPE } from '../attestation/index.ts';
import { parseCaConfig } from '../ca-service/config.ts';
import { startControlPlane } from '../ca-service/main.ts';
import { openDatabase } from '../ca-service/store/db.ts';
import {
  type BenchDevice,
  deviceAgent,
  devicePost,
  evidence,
  MODEL,
  prepareFleet,
} from './lib/attest-fleet.ts';
import { freshPostgres } from './lib/fresh-postgres.ts';
import { freePort, start, stop, waitFor } from './lib/processes.ts';
import { type RoundOutcome, type RoundsResult, runRounds } from './lib/rounds.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const DEVICES = Math.max(Number(process.env.BENCH_DEVICES ?? 256), CONCURRENCY);
const WARMUP = Math.min(2, SECONDS / 4);
const ONLY = new Set((process.env.BENCH_ONLY ?? '').split(',').filter(Boolean));
const pick = <T extends string>(all: readonly T[]): T[] =>
  all.some((x) => ONLY.has(x)) ? all.filter((x) => ONLY.has(x)) : [...all];
const WAYS = pick(['inprocess', 'https'] as const);
const DATABASES = pick(['pglite', 'postgres'] as const);
const PGLITE_MEMORY = process.env.BENCH_PGLITE === 'memory';
const PG_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const BIN = join(import.meta.dirname, '..', 'bin', 'edgeseal.mjs');
const GOAL = 2000;
const VERAISON = 400;
const log = (s: string) => process.stderr.write(`${s}\n`);
const round2 = (x: number) => Math.round(x * 100) / 100;

interface Side {
  readonly appraisals_per_second: number;
  readonly ok: number;
  readonly errors: number;
  readonly seconds: number;
  /** POST /evidence, or submitEvidence in-process: verify, appraise, sign, commit */
  readonly evidence_p50_ms: number;
  readonly evidence_p99_ms: number;
  /** challenge + device signing + evidence */
  readonly round_p50_ms: number;
  readonly round_p99_ms: number;
  readonly cpu: {
    readonly bench_process_cores: number;
    readonly server_process_cores?: number;
    readonly bench_us_per_appraisal: number;
    readonly server_us_per_appraisal?: number;
    /** of the CPU this side used (in-process: this process; https: both), the devices' part */
    readonly load_generator_share: number;
  };
  readonly first_error?: string;
}

function side(r: RoundsResult, loadGeneratorShare: number): Side {
  return {
    appraisals_per_second: r.per_second,
    ok: r.ok,
    errors: r.errors,
    seconds: r.seconds,
    evidence_p50_ms: r.step_p50_ms,
    evidence_p99_ms: r.step_p99_ms,
    round_p50_ms: r.round_p50_ms,
    round_p99_ms: r.round_p99_ms,
    cpu: {
      bench_process_cores: r.bench_process_cores,
      ...(r.server_process_cores !== undefined ? { server_process_cores: r.server_process_cores } : {}),
      bench_us_per_appraisal: r.bench_cpu_us_per_round,
      ...(r.server_cpu_us_per_round !== undefined
        ? { server_us_per_appraisal: r.server_cpu_us_per_round }
        : {}),
      load_generator_share: round2(loadGeneratorShare),
    },
    ...(r.first_error ? { first_error: r.first_error } : {}),
  };
}

/** Worker w owns devices w, w+C, w+2C…: at most one round in flight per device. */
const perWorker = Math.floor(DEVICES / CONCURRENCY);
const deviceOf = (w: number, n: number) => w + CONCURRENCY * (n % perWorker);
const affirming = (status: unknown) => status === 'affirming';

/** CPU microseconds one signEvidence costs this process (all threads), at the bench's concurrency. */
async function signCost(devices: readonly BenchDevice[]): Promise<number> {
  const n = 2000;
  let next = 0;
  const before = process.cpuUsage();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await evidence(devices[next++ % devices.length]!, 'AAAAAAAAAAAAAAAAAAAAAA');
    }),
  );
  const d = process.cpuUsage(before);
  return Math.round((d.user + d.system) / n);
}

let signCpuUs = 0;

async function inProcess(databaseUrl: string | undefined): Promise<Side> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeseal-bench-att-'));
  const config = parseCaConfig({
    EDGESEAL_DATA_DIR: dir,
    EDGESEAL_HTTPS_PORT: '0',
    EDGESEAL_HTTP_PORT: '0',
    EDGESEAL_LOG_LEVEL: 'silent',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  });
  const database = PGLITE_MEMORY && !databaseUrl ? await openDatabase({}) : undefined;
  const cp = await startControlPlane(config, {
    log: pino({ level: 'silent' }),
    announce: false,
    ...(database ? { database } : {}),
  });
  try {
    const root = readFileSync(cp.boot.paths.rootPem, 'utf8');
    const admin = readFileSync(cp.boot.paths.adminToken, 'utf8').trim();
    log(`  enrolling ${DEVICES} devices…`);
    const devices = await prepareFleet(cp.httpsUrl, root, admin, DEVICES);
    if (!signCpuUs) signCpuUs = await signCost(devices);
    const service = cp.attestation.service;
    // what the HTTP layer makes of a verified mTLS client certificate (http/device-caller.ts)
    const callers = devices.map((d) => ({
      deviceId: d.id,
      serial: d.serial,
      hardwareModel: MODEL,
      source: '127.0.0.1',
    }));
    const round = async (i: number): Promise<RoundOutcome> => {
      const { nonce } = await service.challenge(callers[i]!);
      const token = Buffer.from(await evidence(devices[i]!, nonce));
      const s = performance.now();
      const r = await service.submitEvidence(callers[i]!, EAT_JWT_MEDIA_TYPE, token);
      return { ok: affirming(r.status), stepMs: performance.now() - s, error: `status ${r.status}` };
    };
    // one round per device first: a fleet that re-attests keeps the verified-leaf cache warm
    await Promise.all(devices.map((_, i) => round(i)));
    const r = await runRounds({
      concurrency: CONCURRENCY,
      seconds: SECONDS,
      warmupSeconds: WARMUP,
      round: (w, n) => round(deviceOf(w, n)),
    });
    return side(r, r.bench_cpu_us_per_round ? signCpuUs / r.bench_cpu_us_per_round : 0);
  } finally {
    await cp.close();
    await database?.close();
  }
}

async function overHttps(databaseUrl: string | undefined): Promise<Side> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeseal-bench-att-'));
  const [https, http] = [await freePort(), await freePort()];
  const nodeArgs = process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : [];
  const p = start('node', [...nodeArgs, BIN, 'up', 'ca'], {
    ...process.env,
    EDGESEAL_DATA_DIR: dir,
    EDGESEAL_HTTPS_PORT: String(https),
    EDGESEAL_HTTP_PORT: String(http),
    EDGESEAL_LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl ?? '',
  });
  try {
    await waitFor(() => existsSync(join(dir, 'control-plane.json')), 'edgeseal up ca');
    const base = `https://localhost:${https}`;
    const root = readFileSync(join(dir, 'ca', 'root.pem'), 'utf8');
    const admin = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
    log(`  enrolling ${DEVICES} devices…`);
    const devices = await prepareFleet(base, root, admin, DEVICES);
    const agents = devices.map((d) => deviceAgent(d, root));
    const round = async (i: number): Promise<RoundOutcome> => {
      const c = await devicePost(`${base}/v1/attestation/challenge`, agents[i]!, '');
      if (c.status !== 201) return { ok: false, stepMs: 0, error: `challenge ${c.status} ${c.body}` };
      const token = await evidence(devices[i]!, (JSON.parse(c.body) as { nonce: string }).nonce);
      const s = performance.now();
      const e = await devicePost(`${base}/v1/attestation/evidence`, agents[i]!, token, EAT_JWT_MEDIA_TYPE);
      const stepMs = performance.now() - s;
      const ok = e.status === 200 && affirming((JSON.parse(e.body) as { status?: unknown }).status);
      return { ok, stepMs, error: `evidence ${e.status} ${e.body.slice(0, 200)}` };
    };
    // one round per device first: every device's TLS connection is up before the clock starts
    await Promise.all(devices.map((_, i) => round(i)));
    const r = await runRounds({
      concurrency: CONCURRENCY,
      seconds: SECONDS,
      warmupSeconds: WARMUP,
      round: (w, n) => round(deviceOf(w, n)),
      serverPid: p.pid!,
    });
    for (const a of agents) a.destroy();
    const all = r.bench_process_cores + (r.server_process_cores ?? 0);
    return side(r, all ? r.bench_process_cores / all : 0);
  } finally {
    await stop(p);
  }
}

function show(name: string, r: Side | null) {
  if (!r) return log(`${name.padEnd(20)} skipped`);
  const c = r.cpu;
  log(
    `${name.padEnd(20)} ${String(r.appraisals_per_second).padStart(5)} appraisals/s  evidence p50 ${r.evidence_p50_ms}` +
      ` p99 ${r.evidence_p99_ms} ms  round p99 ${r.round_p99_ms} ms  CPU/appraisal ${c.bench_us_per_appraisal}` +
      `${c.server_us_per_appraisal !== undefined ? ` + ${c.server_us_per_appraisal} (server)` : ''} µs` +
      `  cores ${c.bench_process_cores}${c.server_process_cores !== undefined ? ` + ${c.server_process_cores}` : ''}` +
      `  load generator ${Math.round(c.load_generator_share * 100)}%  (${r.ok} ok, ${r.errors} errors` +
      `${r.first_error ? `; first: ${r.first_error}` : ''})`,
  );
}

const results: Record<string, Side | null> = {};
for (const db of ['pglite', 'postgres'] as const) {
  for (const way of ['inprocess', 'https'] as const) {
    const name = `${way}_${db}`;
    results[name] = null;
    if (!DATABASES.includes(db) || !WAYS.includes(way)) continue;
    const pg = db === 'postgres' ? await freshPostgres(PG_URL) : undefined;
    if (db === 'postgres' && !pg) break;
    log(`${way} on ${db}…`);
    try {
      results[name] = way === 'inprocess' ? await inProcess(pg?.url) : await overHttps(pg?.url);
    } finally {
      await pg?.drop();
    }
    show(`${way} (${db})`, results[name]);
  }
}

const summary = {
  bench: 'attestation',
  concurrency: CONCURRENCY,
  seconds: SECONDS,
  devices: DEVICES,
  pglite: PGLITE_MEMORY ? 'in-memory (in-process side), data directory (https side)' : 'data directory',
  sign_evidence_cpu_us: signCpuUs || null,
  ...results,
  goal_per_second: GOAL,
  peer: { name: 'Veraison (published)', appraisals_per_second: VERAISON, setup: 'three VMs' },
  ratio_vs_veraison: Object.fromEntries(
    Object.entries(results).map(([k, r]) => [k, r ? round2(r.appraisals_per_second / VERAISON) : null]),
  ),
};
process.stdout.write(`${JSON.stringify(summary)}\n`);
// a side that ran without a single affirming appraisal is broken, not slow (CI runs a smoke);
// keep-alive sockets and the in-process control plane's timers must not hold the process open
process.exit(Object.values(results).some((r) => r && r.ok === 0) ? 1 : 0);
