// Where the key-encryption key comes from: EDGESEAL_KEK, or a file in the data directory
// created on first start with mode 0600. The KEK itself is never logged.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { EdgesealError } from '../../lib/errors.ts';
import { kekId } from '../../lib/key-wrap.ts';

export interface Kek {
  readonly key: Buffer;
  readonly id: string;
  readonly source: 'env' | 'file';
  readonly path?: string;
  readonly created: boolean;
}

/** Accepts 32 bytes as base64/base64url (43–44 chars) or hex (64 chars). */
export function parseKek(text: string, what: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (key.length !== 32) {
    throw new EdgesealError(
      'ERR_CONFIG',
      `${what} must be 32 bytes as base64 or 64 hex digits (got ${key.length} bytes)`,
    );
  }
  return key;
}

export function loadKek(opts: {
  envKek?: string | undefined;
  kekFile?: string | undefined;
  dataDir: string;
}): Kek {
  if (opts.envKek) {
    const key = parseKek(opts.envKek, 'EDGESEAL_KEK');
    return { key, id: kekId(key).toString('hex'), source: 'env', created: false };
  }
  const path = opts.kekFile ?? join(opts.dataDir, 'kek');
  if (existsSync(path)) {
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077) {
      throw new EdgesealError(
        'ERR_KEK',
        `KEK file ${path} is readable by others (mode ${mode.toString(8)}); chmod 600 it`,
      );
    }
    const key = parseKek(readFileSync(path, 'utf8'), `KEK file ${path}`);
    return { key, id: kekId(key).toString('hex'), source: 'file', path, created: false };
  }
  const key = randomBytes(32);
  // O_EXCL: two processes starting at once must not both create (and one overwrite) it.
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, `${key.toString('base64')}\n`);
  } finally {
    closeSync(fd);
  }
  return { key, id: kekId(key).toString('hex'), source: 'file', path, created: true };
}
