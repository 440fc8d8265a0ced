// Starting and stopping the servers under test as separate processes.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 60_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// A bench that fails half-way must not leave its servers running.
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

export function start(cmd: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  // not detached: `openssl ocsp -multi` makes its own process group and kills its children on SIGTERM
  const p = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (c: Buffer) => {
    err = (err + c.toString()).slice(-4000);
  });
  running.add(p);
  p.on('exit', (code) => {
    running.delete(p);
    if (code && code !== 0 && code !== 143) process.stderr.write(`${cmd} exited ${code}: ${err}\n`);
  });
  return p;
}

function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

export async function stop(p: ChildProcess): Promise<void> {
  const done = p.exitCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', r));
  // forked workers (openssl ocsp -multi) would outlive their parent: end them too
  for (const child of childrenOf(p.pid!)) {
    try {
      process.kill(child, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  p.kill('SIGTERM');
  await Promise.race([done, new Promise((r) => setTimeout(r, 10_000))]);
  if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  p.stderr?.destroy();
}

/** Resident set size of a process in KiB (Linux). */
export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

export const have = (bin: string): boolean => {
  try {
    execFileSync('which', [bin], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
