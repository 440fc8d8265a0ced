// What the agent measures for its evidence: the firmware image it was provisioned with (read
// again before every attestation: a changed image must show) and its own code.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fail } from '../errors.ts';

/** SHA-256 of a file, lowercase hex, streamed (firmware images can be large). */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  } catch (e) {
    return fail('ERR_STATE', `cannot read firmware file ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  return h.digest('hex');
}

/** The agent's own source directory (this file is in device-agent/attest/). */
export const AGENT_DIR = join(import.meta.dirname, '..');

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sourceFiles(p)));
    else if (e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/**
 * SHA-256 of the agent's code: every device-agent/**\/*.ts file except tests (they do not run
 * on a device), sorted by path (bytewise), hashed as `sha256sum` lists them and that list
 * hashed again. Anyone can compute the reference value with standard tools:
 *
 *   cd device-agent && find . -name '*.ts' ! -name '*.test.ts' -printf '%P\n' \
 *     | LC_ALL=C sort | xargs sha256sum | sha256sum
 */
export async function agentCodeDigest(dir: string = AGENT_DIR): Promise<string> {
  const files = (await sourceFiles(dir))
    .map((p) => ({ p, rel: relative(dir, p).split(sep).join('/') }))
    .sort((a, b) => Buffer.compare(Buffer.from(a.rel), Buffer.from(b.rel)));
  const list = createHash('sha256');
  for (const f of files) {
    const digest = createHash('sha256')
      .update(await readFile(f.p))
      .digest('hex');
    list.update(`${digest}  ${f.rel}\n`);
  }
  return list.digest('hex');
}
