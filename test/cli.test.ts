// The edgeseal CLI as a user runs it: init, up, batch commands against the running stack,
// and a device enrolling with the batch credential the CLI printed.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { connect as tlsConnect } from 'node:tls';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromPem } from '../lib/pem.ts';
import { unwrapPrivateKey } from '../lib/key-wrap.ts';
import { curl } from './helpers/curl.ts';
import { makeCsr, makeKey, tmp } from './helpers/openssl.ts';
import { freshDatabaseUrl } from './helpers/stack.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'edgeseal.mjs');
const dataDir = tmp();
let db: Awaited<ReturnType<typeof freshDatabaseUrl>>;
let upErr = '';
let env: NodeJS.ProcessEnv;
let up: ChildProcess | undefined;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)('node', [BIN, ...args], { env, encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
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
});

afterAll(async () => {
  up?.kill('SIGTERM');
  await new Promise((r) => (up ? up.once('exit', r) : r(null)));
  await db.drop();
});

/** A device enrolling over EST with the credential `batch create --json` printed. */
const estEnroll = (b: { est_url: string; id: string; secret: string }, csrB64: string) =>
  curl(
    b.est_url,
    [
      '--cacert',
      join(dataDir, 'ca', 'root.pem'),
      '-u',
      `${b.id}:${b.secret}`,
      '-H',
      'Content-Type: application/pkcs10',
    ],
    csrB64,
  );

function allFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? allFiles(join(dir, e.name)) : [join(dir, e.name)],
  );
}

describe('edgeseal init', () => {
  it('creates the hierarchy once, says where everything is, and is idempotent', async () => {
    const first = await cli(['init', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const out = JSON.parse(first.stdout);
    expect(out.created).toBe(true);
    expect(existsSync(out.root_ca)).toBe(true);
    expect(statSync(join(dataDir, 'kek')).mode & 0o777).toBe(0o600);
    expect(statSync(out.admin_token).mode & 0o777).toBe(0o600);
    // the embedded database's files are owner-only too (issue 7, item 13)
    if (!db.url) {
      const pg = allFiles(join(dataDir, 'pgdata'));
      expect(pg.length).toBeGreaterThan(10);
      expect(pg.filter((f) => (statSync(f).mode & 0o077) !== 0)).toEqual([]);
    }
    const again = JSON.parse((await cli(['init', '--json'])).stdout);
    expect(again.created).toBe(false);
    expect(again.issuing_id).toBe(out.issuing_id);
    const human = await cli(['init']);
    expect(human.stdout).toContain('root CA');
  });

  it('never writes a private key in plaintext: no PEM key and no PKCS#8 bytes of the CA keys on disk', async () => {
    const files = allFiles(dataDir);
    const kek = Buffer.from(readFileSync(join(dataDir, 'kek'), 'utf8').trim(), 'base64');
    // the CA keys, unwrapped here from the database rows, must not appear anywhere on disk
    const { openDatabase } = await import('../ca-service/store/db.ts');
    const { caKeys } = await import('../migrations/schema/index.ts');
    const d = await openDatabase(db.url ? { databaseUrl: db.url } : { pgliteDir: join(dataDir, 'pgdata') });
    const rows = await d.db.select().from(caKeys);
    await d.close();
    expect(rows.map((r) => r.role).sort()).toEqual([
      'issuing',
      'key-service',
      'log',
      'root',
      'telemetry',
      'verifier',
    ]);
    const secrets = rows.map((r) => {
      const k = unwrapPrivateKey(kek, r.keyWrapped, `edgeseal-ca-key:${r.id}`);
      const jwk = k.export({ format: 'jwk' });
      return Buffer.from(jwk.d!, 'base64url');
    });
    for (const f of files) {
      const bytes = readFileSync(f);
      expect(bytes.includes('PRIVATE KEY'), f).toBe(false);
      for (const s of secrets) expect(bytes.includes(s), `${f} holds a raw CA private scalar`).toBe(false);
    }
    // the public certificate files are there and parse
    expect(
      fromPem(readFileSync(join(dataDir, 'ca', 'root.pem'), 'utf8'), 'CERTIFICATE').length,
    ).toBeGreaterThan(100);
  });

  it('a bad configuration value stops with a message naming it', async () => {
    const r = await promisify(execFile)('node', [BIN, 'init'], {
      env: { ...env, EDGESEAL_HTTPS_PORT: 'eighty' },
    }).catch((e) => e);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/EDGESEAL_HTTPS_PORT="eighty"/);
  });
});

describe('edgeseal up and batch', () => {
  beforeAll(async () => {
    up = spawn('node', [BIN, 'up'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    up.stderr!.on('data', (c: Buffer) => {
      upErr += c.toString();
    });
    const deadline = Date.now() + 30_000;
    while (!existsSync(join(dataDir, 'control-plane.json')) || !upErr.includes('admin token')) {
      if (Date.now() > deadline || up.exitCode !== null) throw new Error(`up did not start: ${upErr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it('batch create prints a credential a device enrolls with over EST', async () => {
    const r = await cli([
      'batch',
      'create',
      '--hardware-model',
      'cam-v2',
      '--quota',
      '2',
      '--expires',
      '8h',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const b = JSON.parse(r.stdout);
    expect(b).toMatchObject({ hardware_model: 'cam-v2', quota: 2, enrolled: 0, status: 'active' });
    expect(b.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const csr = makeCsr(makeKey('ec-p256'), '/CN=cli-dev-1').toString('base64');
    const e = await estEnroll(b, csr);
    expect(e.status).toBe(200);
    const shown = JSON.parse((await cli(['batch', 'show', b.id, '--json'])).stdout);
    expect(shown.enrolled).toBe(1);
    const revoked = JSON.parse((await cli(['batch', 'revoke', b.id, '--json'])).stdout);
    expect(revoked.status).toBe('revoked');
    const list = JSON.parse((await cli(['batch', 'list', '--json'])).stdout);
    expect(list.map((x: { id: string }) => x.id)).toContain(b.id);
  });

  it('bad arguments get a message naming the value and a non-zero exit', async () => {
    const cases: [string[], number, RegExp][] = [
      [
        ['batch', 'create', '--hardware-model', 'cam', '--quota', 'many'],
        2,
        /--quota must be a positive integer, got "many"/,
      ],
      [['batch', 'create', '--quota', '3'], 2, /needs --hardware-model/],
      [
        ['batch', 'create', '--hardware-model', 'cam', '--quota', '3', '--expires', 'soon'],
        1,
        /duration "soon"/,
      ],
      [
        ['batch', 'create', '--hardware-model', 'cam', '--quota', '3', '--colour', 'red'],
        2,
        /Unknown option '--colour'/,
      ],
      [['batch', 'revoke', 'b_doesnotexist'], 1, /batch b_doesnotexist does not exist/],
      [['frobnicate'], 2, /unknown command "frobnicate"/],
      [['up'], 2, /already running/],
    ];
    for (const [args, code, msg] of cases) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr).toMatch(msg);
    }
  });

  it('token create makes a security-admin token that revoke uses; the admin token may not revoke', async () => {
    const t = JSON.parse(
      (await cli(['token', 'create', '--role', 'security-admin', '--label', 'soc', '--json'])).stdout,
    );
    expect(t).toMatchObject({ role: 'security-admin', label: 'soc', status: 'active' });
    const b = JSON.parse(
      (await cli(['batch', 'create', '--hardware-model', 'cam-v2', '--quota', '1', '--json'])).stdout,
    );
    const csr = makeCsr(makeKey('ec-p256'), '/CN=cli-rev-1').toString('base64');
    const e = await estEnroll(b, csr);
    expect(e.status).toBe(200);
    const denied = await cli(['revoke', '--device', 'cli-rev-1']);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/role admin may not certificate.revoke.*\(ERR_FORBIDDEN\)/);
    const r = await cli([
      'revoke',
      '--device',
      'cli-rev-1',
      '--reason',
      'key-compromise',
      '--token',
      t.token,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ revoked: 1, reason: 'keyCompromise' });
    const bad = await cli(['revoke', '--serial', 'ab', '--device', 'x', '--token', t.token]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/exactly one of --serial S, --device D, --batch B/);
    const list = JSON.parse((await cli(['token', 'list', '--json'])).stdout);
    expect(list.map((x: { id: string }) => x.id)).toContain(t.id);
    expect(JSON.parse((await cli(['token', 'revoke', t.id, '--json'])).stdout).status).toBe('revoked');
    expect((await cli(['token', 'create', '--role', 'overlord'])).stderr).toMatch(
      /--role must be one of .*got "overlord"/,
    );
  });

  it('a port in use stops start-up with a message naming the port and the setting', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const port = (blocker.address() as { port: number }).port;
    const other = tmp();
    const r = await promisify(execFile)('node', [BIN, 'up'], {
      env: { ...env, EDGESEAL_DATA_DIR: other, EDGESEAL_HTTPS_PORT: String(port), DATABASE_URL: '' },
      encoding: 'utf8',
    }).catch((e) => e);
    blocker.close();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use .*EDGESEAL_HTTPS_PORT`),
    );
    expect(r.stderr).not.toMatch(/unexpected error/);
  });

  it('runs the MQTT gateway beside the control plane, on a thread of its own with a token of its own', async () => {
    const metricsUrl = /gateway metrics \/ health +(http:\/\/\S+)\/metrics/.exec(upErr)?.[1];
    expect(upErr).toMatch(/MQTTS gateway \(mTLS\) +mqtts:\/\/localhost:\d+/);
    expect(metricsUrl, upErr).toBeDefined();
    const h = await fetch(`${metricsUrl}/health`);
    expect(await h.json()).toMatchObject({
      status: 'ok',
      revocation_feed: 'connected',
      routing: 'in-process',
    });
    // it follows the control plane with a gateway token of its own, and says how it routes
    const tokens = JSON.parse((await cli(['token', 'list', '--json'])).stdout) as {
      role: string;
      label: string;
      status: string;
    }[];
    expect(
      tokens.some((t) => t.role === 'gateway' && /edgeseal up/.test(t.label) && t.status === 'active'),
    ).toBe(true);
  });

  it("a second gateway that could not reach the first one's devices is refused, however it is started (issue 7, item 12)", async () => {
    const alone = (extra: Record<string, string>): Promise<{ code: number; stderr: string }> =>
      promisify(execFile)('node', [BIN, 'up', 'gateway'], {
        env: { ...env, ...extra },
        encoding: 'utf8',
      }).then(
        (r) => ({ code: 0, stderr: r.stderr }),
        (e) => e as { code: number; stderr: string },
      );
    // no upstream and not declared the only gateway: refused before anything starts
    const plain = await alone({});
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/without MQTT_UPSTREAM_URL .* EDGESEAL_GATEWAY_ONLY=true/);
    // declared the only gateway, but one already runs with its own broker: the control plane refuses
    const only = await alone({ EDGESEAL_GATEWAY_ONLY: 'true' });
    expect(only.code).toBe(1);
    expect(only.stderr).toMatch(
      /gateway \S+ \(its own in-process broker, since .*\) already serves this fleet/,
    );
    // with an upstream broker it still cannot join a fleet whose gateway keeps its own broker
    const up2 = await alone({ MQTT_UPSTREAM_URL: 'mqtt://127.0.0.1:1' });
    expect(up2.code).toBe(1);
    expect(up2.stderr).toMatch(/routes through its own broker and must stay the only gateway/);
    // the first gateway's lease is granted and each refusal audited
    const ep = JSON.parse(readFileSync(join(dataDir, 'control-plane.json'), 'utf8')) as { https_url: string };
    const admin = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
    const r = await curl(`${ep.https_url}/v1/audit/events?limit=1000`, [
      '--cacert',
      join(dataDir, 'ca', 'root.pem'),
      '-H',
      `Authorization: Bearer ${admin}`,
    ]);
    const events = (
      JSON.parse(r.body.toString()) as { items: { action: string; outcome: string; reason: string | null }[] }
    ).items.filter((e) => e.action === 'gateway.lease');
    expect(events.filter((e) => e.outcome === 'ok').length).toBe(1);
    expect(events.filter((e) => e.outcome === 'refused' && e.reason === 'ERR_GATEWAY_CONFLICT').length).toBe(
      2,
    );
  });

  it('clients dribbling CONNECTs into the gateway do not slow the control plane (issue 7, item 6)', async () => {
    const b = JSON.parse(
      (await cli(['batch', 'create', '--hardware-model', 'cam-v2', '--quota', '1', '--json'])).stdout,
    );
    const key = makeKey('ec-p256');
    const e = await estEnroll(b, makeCsr(key, '/CN=cli-dribble').toString('base64'));
    expect(e.status).toBe(200);
    const certPem = execFileSync('openssl', ['pkcs7', '-inform', 'DER', '-print_certs'], {
      input: Buffer.from(e.body.toString(), 'base64'),
      encoding: 'utf8',
    });
    const gwPort = Number(/MQTTS gateway \(mTLS\) +mqtts:\/\/localhost:(\d+)/.exec(upErr)![1]);
    // a CONNECT of ~60 KB (a long password), sent one byte per TLS record, by 4 clients at once
    const password = Buffer.alloc(60_000, 0x61);
    const body = Buffer.concat([
      Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0xc2, 0, 60]),
      Buffer.from([0, 11]),
      Buffer.from('cli-dribble'),
      Buffer.from([0, 1, 0x75]),
      Buffer.from([(password.length >> 8) & 0xff, password.length & 0xff]),
      password,
    ]);
    const len: number[] = [];
    for (let n = body.length; ; ) {
      len.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
      n >>= 7;
      if (!n) break;
    }
    const connect = Buffer.concat([Buffer.from([0x10, ...len]), body]);
    let stop = false;
    const dribble = async () => {
      while (!stop) {
        const sock = tlsConnect({
          host: '127.0.0.1',
          port: gwPort,
          ca: readFileSync(join(dataDir, 'ca', 'root.pem')),
          cert: certPem,
          key: readFileSync(key.keyPath),
          servername: 'localhost',
        });
        sock.on('error', () => {});
        await new Promise((r) => sock.once('secureConnect', r).once('close', r));
        for (let i = 0; i < connect.length && !stop && !sock.destroyed; i++) {
          sock.write(connect.subarray(i, i + 1));
          if (i % 64 === 0) await new Promise((r) => setImmediate(r));
        }
        sock.destroy();
      }
    };
    const dribblers = [dribble(), dribble(), dribble(), dribble()];
    const ep = JSON.parse(readFileSync(join(dataDir, 'control-plane.json'), 'utf8')) as { https_url: string };
    const slowest = { ms: 0 };
    try {
      await new Promise((r) => setTimeout(r, 500));
      for (let i = 0; i < 10; i++) {
        const t0 = Date.now();
        const h = await curl(`${ep.https_url}/health`, ['--cacert', join(dataDir, 'ca', 'root.pem')]);
        expect(h.status).toBe(200);
        slowest.ms = Math.max(slowest.ms, Date.now() - t0);
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      stop = true;
      await Promise.all(dribblers);
    }
    // the issue saw 10 s with the gateway on the control plane's event loop
    expect(slowest.ms).toBeLessThan(2000);
  });

  it('a bad gateway setting stops start-up with a message naming it', async () => {
    for (const [k, v, msg] of [
      ['EDGESEAL_GATEWAY_REVOCATION_POLICY', 'maybe', /EDGESEAL_GATEWAY_REVOCATION_POLICY="maybe"/],
      ['MQTT_UPSTREAM_URL', 'http://broker:1883', /MQTT_UPSTREAM_URL="http:\/\/broker:1883"/],
      ['EDGESEAL_GATEWAY_PORT', '-1', /EDGESEAL_GATEWAY_PORT="-1"/],
    ] as const) {
      const r = await promisify(execFile)('node', [BIN, 'up', 'gateway'], {
        env: { ...env, [k]: v },
        encoding: 'utf8',
      }).catch((e) => e);
      expect(r.code, k).toBe(1);
      expect(r.stderr).toMatch(msg);
    }
  });

  it('firmware reference values and attest status, as a security-admin runs them', async () => {
    const sec = JSON.parse((await cli(['token', 'create', '--role', 'security-admin', '--json'])).stdout)
      .token as string;
    const sha = 'ab'.repeat(32);
    const add = await cli([
      'firmware',
      'add',
      '--hardware-model',
      'cam-v9',
      '--version',
      '3.1.0',
      '--svn',
      '7',
      '--sha256',
      sha,
      '--token',
      sec,
      '--json',
    ]);
    expect(add.code, add.stderr).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({
      hardware_model: 'cam-v9',
      svn: 7,
      sha256: sha,
      status: 'active',
    });
    const min = await cli(['firmware', 'min-svn', '--hardware-model=cam-v9', '--svn', '6', '--token', sec]);
    expect(min.stdout).toMatch(/cam-v9: minimum SVN 6, attestation auto/);
    const deny = await cli(['firmware', 'deny', '--sha256', sha, '--reason', 'CVE-2026-1', '--token', sec]);
    expect(deny.stdout).toMatch(/is deny-listed/);
    const list = JSON.parse(
      (await cli(['firmware', 'list', '--hardware-model', 'cam-v9', '--json', '--token', sec])).stdout,
    );
    expect(list.items).toHaveLength(1);
    expect(list.denied.map((d: { sha256: string }) => d.sha256)).toContain(sha);
    expect(list.policies).toEqual([expect.objectContaining({ hardware_model: 'cam-v9', min_svn: 6 })]);
    // bad values are named; the admin token may not change reference values
    const cases: [string[], number, RegExp][] = [
      [
        ['firmware', 'add', '--hardware-model', 'm', '--version', '1', '--svn', 'seven', '--sha256', sha],
        2,
        /--svn must be an integer.*"seven"/,
      ],
      [['firmware', 'deny', '--sha256', 'xyz'], 2, /--sha256 must be 64 hexadecimal characters, got "xyz"/],
      [
        ['firmware', 'policy', '--hardware-model', 'm', '--attestation', 'maybe'],
        2,
        /--attestation must be auto, required or off, got "maybe"/,
      ],
      [['firmware', 'deny', '--sha256', sha], 1, /may not firmware.manage/],
      [
        ['attest', 'status', '--device', 'nobody', '--token', sec],
        1,
        /device "nobody" has no attestation result/,
      ],
    ];
    for (const [args, code, msg] of cases) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr).toMatch(msg);
    }
    const status = await cli(['attest', 'status', '--json', '--token', sec]);
    expect(status.code, status.stderr).toBe(0);
    expect(Array.isArray(JSON.parse(status.stdout))).toBe(true);
  });

  it('a release engineer makes a release key, packages the model and publishes it', async () => {
    const key = await cli(['release', 'key', 'create', '--label', 'ci', '--json']);
    expect(key.code, key.stderr).toBe(0);
    const k = JSON.parse(key.stdout) as { kid: string; path: string; status: string };
    expect(k.status).toBe('active');
    expect(statSync(k.path).mode & 0o777).toBe(0o600);
    expect(readFileSync(k.path).includes('PRIVATE KEY')).toBe(false); // wrapped under the KEK
    const rm = JSON.parse((await cli(['token', 'create', '--role', 'release-manager', '--json'])).stdout)
      .token as string;
    const out = join(tmp(), 'vibration.pkg');
    const onnx = join(import.meta.dirname, '..', 'ml', 'models', 'vibration.onnx');
    const pkg = await cli([
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
      out,
      '--token',
      rm,
      '--json',
    ]);
    expect(pkg.code, pkg.stderr).toBe(0);
    expect(JSON.parse(pkg.stdout)).toMatchObject({
      model_id: 'vibration',
      release_counter: 1,
      release_kid: k.kid,
    });
    // the package holds no plaintext model
    const model = readFileSync(onnx);
    expect(readFileSync(out).includes(model.subarray(4000, 4064))).toBe(false);
    const pub = await cli(['release', 'publish', out, '--token', rm]);
    expect(pub.code, pub.stderr).toBe(0);
    expect(pub.stdout).toMatch(/published vibration 1.0.0 \(release counter 1\) for cam-v2/);
    const again = await cli(['release', 'publish', out, '--token', rm]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already at release counter 1/);
    const list = JSON.parse((await cli(['release', 'list', '--json', '--token', rm])).stdout) as {
      model_id: string;
    }[];
    expect(list.map((x) => x.model_id)).toContain('vibration');
    const bad: [string[], number, RegExp][] = [
      [
        [
          'model',
          'package',
          '--in',
          '/nope.onnx',
          '--model-id',
          'm',
          '--version',
          '1',
          '--hardware-model',
          'x',
          '--out',
          out,
        ],
        2,
        /--in \/nope.onnx: ENOENT/,
      ],
      [
        [
          'model',
          'package',
          '--in',
          onnx,
          '--model-id',
          'm',
          '--version',
          '1 0',
          '--hardware-model',
          'x',
          '--out',
          out,
        ],
        2,
        /--version must be 1–64 .*"1 0"/,
      ],
      [
        [
          'model',
          'package',
          '--in',
          out,
          '--model-id',
          'm',
          '--version',
          '1',
          '--hardware-model',
          'x',
          '--out',
          out,
        ],
        2,
        /not an ONNX model/,
      ],
      [['release', 'publish', '/nope.pkg'], 2, /\/nope.pkg: ENOENT/],
    ];
    for (const [args, code, msg] of bad) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr).toMatch(msg);
    }
  });

  it('a wrong token is refused by the running control plane', async () => {
    const r = await cli(['batch', 'list', '--token', 'tok_nope.secret']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown or malformed API token \(ERR_UNAUTHENTICATED\)/);
  });
});
