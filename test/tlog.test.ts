// Transparency log: inclusion and consistency proofs checked by the CLI and by an
// independent verifier written in Python from the RFC text (test/tools/verify_merkle.py).
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeKey, openssl, tmp, writeTmp } from './helpers/openssl.ts';
import { createToken, enrollDevice, startStack, type TestStack } from './helpers/stack.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'edgeseal.mjs');
const PY = join(import.meta.dirname, 'tools', 'verify_merkle.py');
let s: TestStack;
let auditor: string;
const dir = tmp();

beforeAll(async () => {
  s = await startStack();
  auditor = await createToken(s, 'auditor');
});
afterAll(() => s?.stop());

const enroll = (cn: string) => enrollDevice(s, cn);

const get = async <T>(path: string): Promise<T> =>
  (await (await s.api(path, { token: auditor })).json()) as T;
const python = (q: unknown) => spawnSync('python3', [PY], { input: JSON.stringify(q), encoding: 'utf8' });

async function cli(args: string[]) {
  const env = { ...process.env, EDGESEAL_DATA_DIR: s.dir };
  try {
    const r = await promisify(execFile)('node', [BIN, ...args, '--url', s.cp.httpsUrl, '--token', auditor], {
      env,
      encoding: 'utf8',
    });
    return { code: 0, out: r.stdout };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, out: err.stdout + err.stderr };
  }
}

describe('transparency log', () => {
  it('proves inclusion of every issued certificate and consistency between tree heads, to two independent verifiers', async () => {
    const first = await enroll('tl-1');
    const sth1 = await get<{ tree_size: number; root_hash: string }>('/v1/tlog/sth');
    const sthFile = writeTmp(dir, 'sth1.json', JSON.stringify(sth1));
    const later = [await enroll('tl-2'), await enroll('tl-3'), await enroll('tl-4')];
    const sth2 = await get<{ tree_size: number; root_hash: string }>('/v1/tlog/sth');
    expect(sth2.tree_size).toBeGreaterThan(sth1.tree_size);

    for (const c of [first, ...later]) {
      const p = await get<{ leaf_index: number; tree_size: number; audit_path: string[] }>(
        `/v1/tlog/inclusion?serial=${c.serial}&tree_size=${sth2.tree_size}`,
      );
      const py = python({
        kind: 'inclusion',
        leaf_data: c.der.toString('base64'),
        ...p,
        root_hash: sth2.root_hash,
      });
      expect(py.stdout.trim(), py.stderr).toBe('ok');
    }
    const cons = await get<{ proof: string[] }>(
      `/v1/tlog/consistency?first=${sth1.tree_size}&second=${sth2.tree_size}`,
    );
    const py = python({
      kind: 'consistency',
      first: sth1.tree_size,
      second: sth2.tree_size,
      first_root: sth1.root_hash,
      second_root: sth2.root_hash,
      proof: cons.proof,
    });
    expect(py.stdout.trim()).toBe('ok');
    // and a forged old root is caught by the independent verifier
    const forged = python({
      kind: 'consistency',
      first: sth1.tree_size,
      second: sth2.tree_size,
      first_root: sth2.root_hash,
      second_root: sth2.root_hash,
      proof: cons.proof,
    });
    expect(forged.status).toBe(1);

    const r = await cli(['tlog', 'verify', '--cert', first.path, '--since', sthFile]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/certificate [0-9a-f]+ is in the log \(leaf \d+ of \d+\)/);
    expect(r.out).toMatch(new RegExp(`the log only grew since size ${sth1.tree_size}`));
  });

  it('says FAILED for a certificate the log does not hold, and refuses bad queries', async () => {
    const foreignKey = makeKey('ec-p256', dir);
    const foreign = join(dir, 'foreign.pem');
    openssl([
      'req',
      '-x509',
      '-new',
      '-key',
      foreignKey.keyPath,
      '-subj',
      '/CN=x',
      '-days',
      '1',
      '-out',
      foreign,
    ]);
    const r = await cli(['tlog', 'verify', '--cert', foreign]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/no certificate with serial [0-9a-f]+ in the log/);
    const bad = await s.api('/v1/tlog/consistency?first=5&second=2', { token: auditor });
    expect(bad.status).toBe(400);
    const nope = await cli(['tlog', 'verify', '--cert', join(dir, 'missing.pem')]);
    expect(nope.out).toMatch(/no such file/);
  });
});
