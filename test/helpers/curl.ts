// curl as the EST client a factory tool would use: the request exactly as RFC 7030 shows it.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmp } from './openssl.ts';

export interface CurlResult {
  readonly status: number;
  readonly body: Buffer;
  readonly headers: string;
}

/** Async on purpose: the server under test runs in this process, so a sync child would deadlock it. */
export async function curl(url: string, args: string[] = [], body?: string | Buffer): Promise<CurlResult> {
  const dir = tmp();
  const out = join(dir, 'body');
  const hdr = join(dir, 'headers');
  const extra: string[] = [];
  if (body !== undefined) {
    writeFileSync(join(dir, 'req'), body);
    extra.push('--data-binary', `@${join(dir, 'req')}`);
  }
  const { stdout: status } = await promisify(execFile)(
    'curl',
    ['-sS', '--max-time', '20', '-o', out, '-D', hdr, '-w', '%{http_code}', ...extra, ...args, url],
    { encoding: 'utf8' },
  );
  return { status: Number(status), body: readFileSync(out), headers: readFileSync(hdr, 'utf8') };
}
