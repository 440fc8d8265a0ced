// `edgeseal agent provision` as a factory station runs it: the real CLI as a process against a
// real control plane. The key is made in the state directory and stays there; the
// certificate chains to the root; refusals name what was refused and leave nothing behind.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openssl, tmp } from './helpers/openssl.ts';
import { createBatch, startStack, type TestStack } from './helpers/stack.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'edgeseal.mjs');

let s: TestStack;
let batch: { id: string; secret: string };
let estUrl: string;
let root: string;
let firmware: string;
const work = tmp();
/** a data directory without a CA: the station has no local root unless a test says so */
const emptyDataDir = tmp();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], dataDir = emptyDataDir): Promise<Run> {
  const env = { ...process.env, EDGESEAL_DATA_DIR: dataDir, EDGESEAL_LOG_LEVEL: 'silent' };
  try {
    const r = await promisify(execFile)('node', [BIN, ...args], { env, encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

let n = 0;
const deviceId = () => `agent-p${++n}-${randomBytes(3).toString('hex')}`;

function provisionArgs(state: string, id: string, extra: string[] = [], creds = batch): string[] {
  return [
    'agent',
    'provision',
    '--state',
    state,
    '--est-url',
    estUrl,
    '--batch',
    creds.id,
    `--secret=${creds.secret}`,
    '--device-id',
    id,
    '--hardware-model',
    'cam-v2',
    `--firmware=${firmware}`,
    ...extra,
  ];
}

function allFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? allFiles(join(dir, e.name)) : [join(dir, e.name)],
  );
}

beforeAll(async () => {
  s = await startStack();
  batch = await createBatch(s, { hardware_model: 'cam-v2', quota: 20 });
  estUrl = `${s.cp.httpsUrl}/.well-known/est`;
  root = s.cp.boot.paths.rootPem;
  firmware = join(work, 'firmware-1.0.bin');
  writeFileSync(firmware, randomBytes(4096));
});
afterAll(() => s?.stop());

describe('agent provision', () => {
  let state: string;
  let id: string;
  let first: Run;

  beforeAll(async () => {
    state = join(work, 'dev-ok');
    id = deviceId();
    first = await cli([...provisionArgs(state, id, ['--ca-file', root]), '--json']);
  });

  it('makes the key inside the state directory (0600, directory 0700) and nowhere else', () => {
    expect(first.code, first.stderr).toBe(0);
    expect(statSync(state).mode & 0o777).toBe(0o700);
    const keyPath = join(state, 'key.pem');
    expect(statSync(keyPath).mode & 0o777).toBe(0o600);
    const keyPem = readFileSync(keyPath, 'utf8');
    expect(keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/); // PKCS#8
    expect(openssl(['pkey', '-in', keyPath, '-noout', '-text'])).toMatch(/prime256v1|P-256/);
    const body = keyPem.split('\n')[1]!; // the first line of key material
    for (const f of allFiles(state).filter((p) => p !== keyPath)) {
      expect(readFileSync(f, 'utf8'), f).not.toContain(body);
    }
    expect(first.stdout + first.stderr).not.toContain(body);
    expect(readdirSync(state).sort()).toEqual([
      'cert.pem',
      'device.json',
      'issuing-ca.pem',
      'key.pem',
      'root.pem',
    ]);
  });

  it('stores a certificate for that key, CN = device id and OU = hardware model, that chains to the root', () => {
    const cert = join(state, 'cert.pem');
    const verify = openssl([
      'verify',
      '-CAfile',
      join(state, 'root.pem'),
      '-untrusted',
      join(state, 'issuing-ca.pem'),
      cert,
    ]);
    expect(verify.trim()).toBe(`${cert}: OK`);
    expect(readFileSync(join(state, 'root.pem'), 'utf8')).toBe(readFileSync(root, 'utf8'));
    const subject = openssl(['x509', '-in', cert, '-noout', '-subject', '-nameopt', 'RFC2253']);
    expect(subject).toContain(`CN=${id}`);
    expect(subject).toContain('OU=cam-v2');
    const certKey = openssl(['x509', '-in', cert, '-noout', '-pubkey']);
    expect(openssl(['pkey', '-in', join(state, 'key.pem'), '-pubout'])).toBe(certKey);
  });

  it('writes device.json: id, model, absolute firmware path, a RAND UEID, URLs, time', () => {
    const d = JSON.parse(readFileSync(join(state, 'device.json'), 'utf8'));
    const out = JSON.parse(first.stdout);
    expect(d).toMatchObject({
      version: 1,
      device_id: id,
      hardware_model: 'cam-v2',
      firmware_path: firmware,
      est_url: estUrl,
      control_plane_url: new URL(s.cp.httpsUrl).origin,
      gateway_url: `mqtts://${new URL(estUrl).hostname}:8883`,
    });
    const ueid = Buffer.from(d.ueid, 'base64url');
    expect(ueid.length).toBe(33);
    expect(ueid[0]).toBe(0x01); // RFC 9711 §4.2.1.1 type RAND
    expect(Date.now() - Date.parse(d.provisioned_at)).toBeLessThan(60_000);
    expect(out.device_id).toBe(id);
    expect(out.cert_serial).toMatch(/^[0-9a-f]+$/);
    const serial = openssl(['x509', '-in', join(state, 'cert.pem'), '-noout', '-serial'])
      .trim()
      .split('=')[1]!;
    expect(serial.toLowerCase().replace(/^0+/, '')).toBe(out.cert_serial.replace(/^0+/, ''));
  });

  it('refuses to provision the same directory again, naming it, and changes nothing', async () => {
    const before = readFileSync(join(state, 'cert.pem'), 'utf8');
    const again = await cli(provisionArgs(state, deviceId(), ['--ca-file', root]));
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(state);
    expect(again.stderr).toMatch(/already provisioned/);
    expect(readFileSync(join(state, 'cert.pem'), 'utf8')).toBe(before);
  });
});

describe('agent provision refusals', () => {
  it('a wrong batch secret: the server refusal, exit 1, nothing written', async () => {
    const state = join(work, 'dev-badsecret');
    const r = await cli(
      provisionArgs(state, deviceId(), ['--ca-file', root], { id: batch.id, secret: 'wrong' }),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unknown batch or wrong batch secret');
    expect(r.stderr).toContain('HTTP 401');
    expect(existsSync(state)).toBe(false);
  });

  it('an unknown batch: the same refusal, and an existing empty directory stays empty', async () => {
    const state = join(work, 'dev-unknownbatch');
    mkdirSync(state);
    const r = await cli(
      provisionArgs(state, deviceId(), ['--ca-file', root], { id: 'no-such-batch', secret: 'x' }),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unknown batch or wrong batch secret');
    expect(readdirSync(state)).toEqual([]);
  });

  it('a hardware model the batch is not for: refused by the CA with its detail', async () => {
    const state = join(work, 'dev-model');
    const args = provisionArgs(state, deviceId(), ['--ca-file', root]);
    args[args.indexOf('cam-v2')] = 'cam-v9';
    const r = await cli(args);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cam-v9.*does not match batch/);
    expect(existsSync(state)).toBe(false);
  });

  it('an unreadable firmware file is named (exit 2)', async () => {
    const state = join(work, 'dev-nofw');
    const missing = join(work, 'no-such-firmware.bin');
    const args = provisionArgs(state, deviceId(), ['--ca-file', root]).map((a) =>
      a.startsWith('--firmware=') ? `--firmware=${missing}` : a,
    );
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(missing);
    expect(r.stderr).toContain('ENOENT');
    expect(existsSync(state)).toBe(false);
  });

  it('a bad EST URL is named (exit 2)', async () => {
    const args = provisionArgs(join(work, 'dev-badurl'), deviceId(), ['--ca-file', root]);
    args[args.indexOf(estUrl)] = 'http://localhost:1/.well-known/est';
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--est-url "http://localhost:1/.well-known/est" must be a https:// URL');
  });

  it('with no trust source and no local CA root: a usage error naming both flags', async () => {
    const r = await cli(provisionArgs(join(work, 'dev-notrust'), deviceId()));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--ca-file');
    expect(r.stderr).toContain('--ca-fingerprint');
  });

  it('a factory station beside the CA uses $EDGESEAL_DATA_DIR/ca/root.pem', async () => {
    const state = join(work, 'dev-local');
    const r = await cli(provisionArgs(state, deviceId()), s.dir);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(state, 'root.pem'), 'utf8')).toBe(readFileSync(root, 'utf8'));
  });
});

describe('agent provision --ca-fingerprint (bootstrap)', () => {
  const fingerprint = () =>
    openssl(['x509', '-in', root, '-noout', '-fingerprint', '-sha256']).trim().split('=')[1]!;

  it('trusts the root cacerts offers when its SHA-256 fingerprint matches (openssl form, with colons)', async () => {
    const state = join(work, 'dev-fp');
    const r = await cli(provisionArgs(state, deviceId(), ['--ca-fingerprint', fingerprint()]));
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(state, 'root.pem'), 'utf8')).toBe(readFileSync(root, 'utf8'));
    const plain = fingerprint().replace(/:/g, '').toLowerCase();
    const state2 = join(work, 'dev-fp2');
    expect((await cli(provisionArgs(state2, deviceId(), [`--ca-fingerprint=${plain}`]))).code).toBe(0);
  });

  it('refuses a root whose fingerprint is not the given one, and writes nothing', async () => {
    const state = join(work, 'dev-fpbad');
    const wrong = randomBytes(32).toString('hex');
    const r = await cli(provisionArgs(state, deviceId(), ['--ca-fingerprint', wrong]));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(wrong);
    expect(r.stderr).toMatch(/fingerprint/);
    expect(existsSync(state)).toBe(false);
  });

  it('a malformed fingerprint is a usage error', async () => {
    const r = await cli(provisionArgs(join(work, 'dev-fpmal'), deviceId(), ['--ca-fingerprint', 'abc']));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--ca-fingerprint "abc"');
  });
});
