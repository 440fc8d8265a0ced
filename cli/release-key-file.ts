// Release signing keys on the release engineer's machine: made here, stored only wrapped
// under the KEK (like every private key of edgeseal: PRODUCT.md), one file per key named by
// its kid, in <data dir>/release-keys/ (0700, files 0600).
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CaConfig } from '../ca-service/config.ts';
import { loadKek } from '../ca-service/keys/kek-source.ts';
import { unwrapPrivateKey, wrapPrivateKey } from '../lib/key-wrap.ts';
import { releaseKeyId } from '../lib/model-package/index.ts';
import { UsageError } from './output.ts';

const aad = (kid: string) => `edgeseal-release-key:${kid}`;
export const releaseKeyDir = (dataDir: string) => join(dataDir, 'release-keys');

export function createReleaseKey(
  config: CaConfig,
  out?: string,
): { kid: string; path: string; key: KeyObject } {
  const kek = loadKek({ envKek: config.kek, kekFile: config.kekFile, dataDir: config.dataDir });
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = releaseKeyId(privateKey);
  const dir = releaseKeyDir(config.dataDir);
  const path = out ?? join(dir, `${kid}.key`);
  if (!out) mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (existsSync(path)) throw new UsageError(`${path} exists; not overwriting a release key`);
  writeFileSync(path, wrapPrivateKey(kek.key, privateKey, aad(kid)), { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return { kid, path, key: privateKey };
}

/** The release key in `file`, or the only one in the data directory. */
export function loadReleaseKey(config: CaConfig, file?: string): { kid: string; key: KeyObject } {
  let path = file;
  if (!path) {
    const dir = releaseKeyDir(config.dataDir);
    const found = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.key')) : [];
    if (found.length !== 1) {
      throw new UsageError(
        found.length
          ? `${found.length} release keys in ${dir}; say which with --release-key FILE`
          : `no release key in ${dir}; make one with \`edgeseal release key create\` (admin registers it)`,
      );
    }
    path = join(dir, found[0]!);
  }
  if (!existsSync(path)) throw new UsageError(`--release-key ${path}: no such file`);
  const kid = /([A-Za-z0-9_-]{43})\.key$/.exec(path)?.[1];
  if (!kid)
    throw new UsageError(
      `--release-key ${path}: expected a <kid>.key file made by \`edgeseal release key create\``,
    );
  const kek = loadKek({ envKek: config.kek, kekFile: config.kekFile, dataDir: config.dataDir });
  const key = unwrapPrivateKey(kek.key, readFileSync(path), aad(kid));
  if (releaseKeyId(key) !== kid) throw new UsageError(`--release-key ${path}: the key inside is not ${kid}`);
  return { kid, key };
}
