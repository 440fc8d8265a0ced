import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_DIR, agentCodeDigest, sha256File } from './measure.ts';

const shell = (dir: string) =>
  execFileSync(
    'sh',
    [
      '-c',
      "find . -name '*.ts' ! -name '*.test.ts' -printf '%P\\n' | LC_ALL=C sort | xargs sha256sum | sha256sum",
    ],
    { cwd: dir, encoding: 'utf8' },
  ).split(' ')[0];

describe('measurements', () => {
  it('the firmware digest is the SHA-256 of the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agent-measure-'));
    const bytes = randomBytes(300_000);
    writeFileSync(join(dir, 'fw.bin'), bytes);
    expect(await sha256File(join(dir, 'fw.bin'))).toBe(createHash('sha256').update(bytes).digest('hex'));
    await expect(sha256File(join(dir, 'missing.bin'))).rejects.toMatchObject({ code: 'ERR_STATE' });
  });

  it('the agent digest is what the documented sha256sum pipeline prints, tests excluded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agent-code-'));
    mkdirSync(join(dir, 'net'));
    writeFileSync(join(dir, 'main.ts'), 'export {};\n');
    writeFileSync(join(dir, 'Zeta.ts'), 'z\n'); // bytewise order: uppercase first
    writeFileSync(join(dir, 'net', 'a.ts'), 'a\n');
    writeFileSync(join(dir, 'main.test.ts'), 'not measured\n');
    writeFileSync(join(dir, 'README.md'), 'not measured\n');
    const d = await agentCodeDigest(dir);
    expect(d).toBe(shell(dir));
    writeFileSync(join(dir, 'main.test.ts'), 'changed\n');
    expect(await agentCodeDigest(dir)).toBe(d);
    writeFileSync(join(dir, 'net', 'a.ts'), 'b\n');
    expect(await agentCodeDigest(dir)).not.toBe(d);
  });

  it('measures this agent the same way', async () => {
    expect(await agentCodeDigest()).toBe(shell(AGENT_DIR));
  });
});
