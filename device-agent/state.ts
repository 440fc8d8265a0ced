// The state directory of one device: where each file lives, and how files get there. Every
// write is atomic (a temporary file in the same directory, fsync, rename, fsync of the
// directory), so a power cut leaves the old file or the new one, never half of either.
// The directory is 0700 and the key 0600; nothing else in it is secret.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, mkdir, open, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fail } from './errors.ts';

export interface StatePaths {
  readonly dir: string;
  /** the device key, PKCS#8 PEM, 0600: never read by anything but this agent */
  readonly key: string;
  /** the current device certificate, PEM */
  readonly cert: string;
  /** the issuing CA that signed it, PEM */
  readonly issuingCa: string;
  /** the root every server of the fleet chains to, PEM */
  readonly root: string;
  /** who this device is and where its servers are (device.ts); written last at provisioning */
  readonly device: string;
  /** the installed model release: id and release counter, the version floor (model/installed.ts) */
  readonly model: string;
  /** downloaded packages, ciphertext only: <release id>.pkg, and <release id>.pkg.part while downloading */
  readonly packages: string;
  /** telemetry JWEs waiting for their PUBACK (telemetry/outbox.ts) */
  readonly outbox: string;
}

export function statePaths(dir: string): StatePaths {
  const d = resolve(dir);
  return {
    dir: d,
    key: join(d, 'key.pem'),
    cert: join(d, 'cert.pem'),
    issuingCa: join(d, 'issuing-ca.pem'),
    root: join(d, 'root.pem'),
    device: join(d, 'device.json'),
    model: join(d, 'model.json'),
    packages: join(d, 'packages'),
    outbox: join(d, 'outbox'),
  };
}

export const KEY_MODE = 0o600;
export const FILE_MODE = 0o644;
export const DIR_MODE = 0o700;

/** Writes `data` to `path` atomically with `mode`; the file never exists with other content or mode. */
export async function writeAtomic(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  // O_EXCL: never write through a file (or link) someone placed at the temporary name
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    await fh.chmod(mode); // the umask may have taken bits away; never leaves more than `mode`
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await syncDir(resolve(path, '..'));
}

/** fsync of a directory makes a rename in it durable (POSIX leaves it to the directory). */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY);
  try {
    await fh.sync();
  } catch {
    // some file systems refuse fsync on a directory; the rename itself has happened
  } finally {
    await fh.close();
  }
}

/** A subdirectory of the state directory (0700), made if missing. */
export async function ensureDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: DIR_MODE });
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes the state directory (0700) for a new device. Refuses one that already holds a device.
 * Returns whether it was made here, so a failed provisioning can take it away again.
 */
export async function prepareStateDir(p: StatePaths): Promise<{ created: boolean }> {
  if (await exists(p.device)) {
    fail(
      'ERR_ALREADY_PROVISIONED',
      `${p.dir} is already provisioned (${p.device} exists); not overwriting it`,
    );
  }
  let created = false;
  try {
    await mkdir(p.dir, { mode: DIR_MODE });
    created = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
      fail('ERR_BAD_VALUE', `cannot create state directory ${p.dir}: ${(e as Error).message}`);
    }
    const s = await stat(p.dir);
    if (!s.isDirectory()) fail('ERR_BAD_VALUE', `state directory ${p.dir} is not a directory`);
  }
  await chmod(p.dir, DIR_MODE);
  return { created };
}

/** Takes away what a failed provisioning wrote: its files, and the directory if it made it. */
export async function undoProvisioning(p: StatePaths, created: boolean): Promise<void> {
  for (const f of [p.device, p.cert, p.issuingCa, p.root, p.key]) await rm(f, { force: true });
  if (created) await rmdir(p.dir).catch(() => undefined);
}

export async function readStateFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    return fail('ERR_STATE', `cannot read the ${what} at ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
}

/** The key file's permission bits beyond 0600 (0 when it is private), for a warning at start. */
export async function keyExposure(p: StatePaths): Promise<number> {
  const s = await stat(p.key);
  return s.mode & 0o077;
}
