// openssl as an independent peer in tests: it makes keys and CSRs the way a device tool
// would, and checks what edgeseal returns.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const tmp = (): string => mkdtempSync(join(tmpdir(), 'edgeseal-test-'));

export function openssl(args: string[], input?: string | Buffer): string {
  return execFileSync('openssl', args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

/** openssl that returns {status, out: stdout + stderr} instead of throwing. */
export function opensslTry(args: string[], input?: string | Buffer): { status: number; out: string } {
  const r = spawnSync('openssl', args, { input, encoding: 'utf8' });
  return { status: r.status ?? 1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

export type KeySpec = 'ec-p256' | 'ec-p384' | 'ed25519' | 'rsa-1024' | 'rsa-2048' | 'ec-secp256k1';

const GENPKEY: Record<KeySpec, string[]> = {
  'ec-p256': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'ec-p384': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  'ec-secp256k1': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1'],
  ed25519: ['-algorithm', 'ED25519'],
  'rsa-1024': ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'],
  'rsa-2048': ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
};

export interface DeviceKey {
  readonly dir: string;
  readonly keyPath: string;
}

export function makeKey(spec: KeySpec = 'ec-p256', dir = tmp()): DeviceKey {
  const keyPath = join(dir, `device-${spec}-${Math.random().toString(36).slice(2)}.key`);
  openssl(['genpkey', ...GENPKEY[spec], '-out', keyPath]);
  return { dir, keyPath };
}

/** A CSR made by `openssl req`, as DER. */
export function makeCsr(key: DeviceKey, subject: string): Buffer {
  const out = join(key.dir, `req-${Math.random().toString(36).slice(2)}.der`);
  openssl(['req', '-new', '-key', key.keyPath, '-subj', subject, '-outform', 'DER', '-out', out]);
  return execFileSync('cat', [out]);
}

export function writeTmp(dir: string, name: string, data: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

/** openssl as a network client of a server in this process: must not block the event loop. */
export function opensslAsync(args: string[]): Promise<{ status: number; out: string }> {
  return new Promise((resolve) => {
    execFile('openssl', args, { encoding: 'utf8', timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}
