import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KEY_MODE, prepareStateDir, statePaths, undoProvisioning, writeAtomic } from './state.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'agent-state-'));

describe('state directory', () => {
  it('writes atomically with the mode asked for, whatever the umask, and leaves no temporary file', async () => {
    const dir = tmp();
    const old = process.umask(0);
    try {
      await writeAtomic(join(dir, 'key.pem'), 'secret', KEY_MODE);
    } finally {
      process.umask(old);
    }
    expect(statSync(join(dir, 'key.pem')).mode & 0o777).toBe(0o600);
    await writeAtomic(join(dir, 'key.pem'), 'replaced', KEY_MODE);
    expect(readFileSync(join(dir, 'key.pem'), 'utf8')).toBe('replaced');
    expect(readdirSync(dir)).toEqual(['key.pem']);
  });

  it('makes the directory 0700, refuses one already provisioned, and undoes a failed provisioning', async () => {
    const p = statePaths(join(tmp(), 'dev'));
    expect(await prepareStateDir(p)).toEqual({ created: true });
    expect(statSync(p.dir).mode & 0o777).toBe(0o700);
    writeFileSync(p.key, 'k');
    await undoProvisioning(p, true);
    expect(() => statSync(p.dir)).toThrow();
    await prepareStateDir(p);
    writeFileSync(p.device, '{}');
    await expect(prepareStateDir(p)).rejects.toMatchObject({ code: 'ERR_ALREADY_PROVISIONED' });
  });
});
