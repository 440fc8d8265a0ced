// The whole device half through the CLI, as a newcomer would run it (README): `edgeseal up`,
// a release key, the shipped model packaged and published, firmware registered, two devices
// provisioned and run as real agents — one with a steady sensor, one whose sensor drifts.
// Both attest, get their model key, decrypt the model in memory and infer; their telemetry
// reaches the control plane's consumer through the gateway; `edgeseal devices` shows each
// one's model, latest inference and input statistics, and flags only the drifting one.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tmp } from './helpers/openssl.ts';
import { freshDatabaseUrl } from './helpers/stack.ts';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'edgeseal.mjs');
const dataDir = tmp();
const work = tmp();
let db: Awaited<ReturnType<typeof freshDatabaseUrl>>;
let env: NodeJS.ProcessEnv;
let up: ChildProcess | undefined;
let upErr = '';
const agents: ChildProcess[] = [];

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)('node', [BIN, ...args], { env, encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

async function ok(args: string[]): Promise<string> {
  const r = await cli(args);
  expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

function run(state: string, args: string[]): { proc: ChildProcess; out: () => string } {
  const proc = spawn('node', [BIN, 'agent', 'run', '--state', state, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
  });
  proc.stderr!.on('data', (b: Buffer) => {
    out += b.toString();
  });
  agents.push(proc);
  return { proc, out: () => out };
}

async function until<T>(f: () => Promise<T | undefined>, ms: number, what: () => string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

beforeAll(async () => {
  db = await freshDatabaseUrl();
  env = {
    ...process.env,
    EDGESEAL_DATA_DIR: dataDir,
    EDGESEAL_HTTPS_PORT: '0',
    EDGESEAL_HTTP_PORT: '0',
    EDGESEAL_GATEWAY_PORT: '0',
    EDGESEAL_GATEWAY_METRICS_PORT: '0',
    EDGESEAL_LOG_LEVEL: 'warn',
    ...(db.url ? { DATABASE_URL: db.url } : {}),
  };
  delete env.EDGESEAL_KEK;
  up = spawn('node', [BIN, 'up'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  up.stderr!.on('data', (c: Buffer) => {
    upErr += c.toString();
  });
  const deadline = Date.now() + 60_000;
  while (!existsSync(join(dataDir, 'control-plane.json')) || !/MQTTS gateway/.test(upErr)) {
    if (Date.now() > deadline || up.exitCode !== null) throw new Error(`up did not start: ${upErr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 90_000);

afterAll(async () => {
  for (const a of agents) if (a.exitCode === null) a.kill('SIGTERM');
  await Promise.all(
    agents.map((a) => new Promise((r) => (a.exitCode !== null ? r(null) : a.once('exit', r)))),
  );
  up?.kill('SIGTERM');
  await new Promise((r) => (up && up.exitCode === null ? up.once('exit', r) : r(null)));
  await db.drop();
});

interface DeviceRow {
  device_id: string;
  model: { release_id: string | null; version: string | null } | null;
  latest_inference: { label: string } | null;
  drift: { score: number | null; drifting: boolean } | null;
  messages: number;
}

describe('a fleet, end to end, through the CLI', () => {
  it('publishes a protected model, runs two agents on it, and flags only the device whose sensor drifts', async () => {
    // release engineering
    await ok(['release', 'key', 'create', '--label', 'e2e']);
    const rm = JSON.parse(await ok(['token', 'create', '--role', 'release-manager', '--json']))
      .token as string;
    const pkg = join(work, 'vibration.pkg');
    const onnx = join(ROOT, 'ml', 'models', 'vibration.onnx');
    await ok([
      'model',
      'package',
      '--in',
      onnx,
      '--model-id',
      'vibration',
      '--version',
      '1.0.0',
      '--hardware-model',
      'cam-v2',
      '--out',
      pkg,
      '--token',
      rm,
    ]);
    expect(await ok(['release', 'publish', pkg, '--token', rm])).toMatch(/published vibration 1.0.0/);
    // reference values and a production batch
    const firmware = join(work, 'fw.bin');
    const image = randomBytes(4096);
    writeFileSync(firmware, image);
    const fwSha = createHash('sha256').update(image).digest('hex');
    const sec = JSON.parse(await ok(['token', 'create', '--role', 'security-admin', '--json']))
      .token as string;
    await ok([
      'firmware',
      'add',
      '--hardware-model',
      'cam-v2',
      '--version',
      '1.0.0',
      '--svn',
      '1',
      '--sha256',
      fwSha,
      '--token',
      sec,
    ]);
    const batch = JSON.parse(
      await ok(['batch', 'create', '--hardware-model', 'cam-v2', '--quota', '2', '--json']),
    ) as {
      id: string;
      secret: string;
      est_url: string;
    };
    // two devices at the factory
    for (const id of ['e2e-steady', 'e2e-drift']) {
      await ok([
        'agent',
        'provision',
        '--state',
        join(work, id),
        '--est-url',
        batch.est_url.replace(/\/simpleenroll$/, ''),
        '--batch',
        batch.id,
        `--secret=${batch.secret}`,
        '--device-id',
        id,
        '--hardware-model',
        'cam-v2',
        '--firmware',
        firmware,
        '--ca-file',
        join(dataDir, 'ca', 'root.pem'),
      ]);
    }
    // windows every 50 ms, telemetry every second: the drift verdict needs 150 windows
    const gateway = /MQTTS gateway \(mTLS\) +(mqtts:\/\/\S+)/.exec(upErr)![1]!;
    const fast = [
      '--gateway',
      gateway,
      '--window-interval',
      '0.05',
      '--telemetry-interval',
      '1',
      '--sensor',
      'normal',
    ];
    const steady = run(join(work, 'e2e-steady'), fast);
    const drifting = run(join(work, 'e2e-drift'), [...fast, '--sensor-drift']);
    const devices = async () =>
      JSON.parse(await ok(['devices', '--json', '--token', sec])) as DeviceRow[] | { items: DeviceRow[] };
    const rows = (d: Awaited<ReturnType<typeof devices>>) => (Array.isArray(d) ? d : d.items);
    let last: unknown;
    const verdict = await until(
      async () => {
        const list = rows(await devices());
        last = list;
        const s = list.find((d) => d.device_id === 'e2e-steady');
        const d = list.find((x) => x.device_id === 'e2e-drift');
        return s?.drift?.score !== null && s?.drift?.score !== undefined && d?.drift?.drifting
          ? { s, d }
          : undefined;
      },
      90_000,
      () =>
        `the drifting device flagged (devices: ${JSON.stringify(last)})\n(agents said:\n${steady.out().slice(0, 6000)}\n${drifting.out().slice(-3000)})`,
    );
    expect(verdict.d.drift!.drifting).toBe(true);
    expect(verdict.s.drift!.drifting).toBe(false);
    expect(verdict.s.model?.version).toBe('1.0.0');
    expect(verdict.s.latest_inference?.label).toBe('normal');
    // the CLI's filter says the same
    const flagged = rows(JSON.parse(await ok(['devices', '--drifting', '--json', '--token', sec])));
    expect(flagged.map((x) => x.device_id)).toEqual(['e2e-drift']);
    const shown = JSON.parse(await ok(['devices', 'show', 'e2e-steady', '--json', '--token', sec]));
    expect(JSON.stringify(shown)).toContain('vibration');
    // each agent logged its model loaded from memory
    expect(steady.out()).toMatch(/"event":"model_loaded"/);
    expect(drifting.out()).toMatch(/"event":"model_loaded"/);
  }, 180_000);
});
