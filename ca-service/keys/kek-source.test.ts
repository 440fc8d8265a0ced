import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tmp } from '../../test/helpers/openssl.ts';
import { loadKek } from './kek-source.ts';

describe('loadKek', () => {
  it('creates a 0600 KEK file on first start and reads the same key after', () => {
    const dir = tmp();
    const first = loadKek({ dataDir: dir });
    expect(first.created).toBe(true);
    expect(statSync(join(dir, 'kek')).mode & 0o777).toBe(0o600);
    const again = loadKek({ dataDir: dir });
    expect(again.created).toBe(false);
    expect(again.key.equals(first.key)).toBe(true);
  });

  it('takes EDGESEAL_KEK as base64 or hex and names a bad one', () => {
    const hex = 'ab'.repeat(32);
    expect(loadKek({ envKek: hex, dataDir: tmp() }).key.toString('hex')).toBe(hex);
    expect(loadKek({ envKek: Buffer.alloc(32, 7).toString('base64'), dataDir: tmp() }).source).toBe('env');
    expect(() => loadKek({ envKek: 'short', dataDir: tmp() })).toThrow(/EDGESEAL_KEK must be 32 bytes/);
  });

  it('refuses a KEK file others can read', () => {
    const dir = tmp();
    loadKek({ dataDir: dir });
    chmodSync(join(dir, 'kek'), 0o644);
    expect(() => loadKek({ dataDir: dir })).toThrow(/readable by others \(mode 644\); chmod 600/);
  });

  it('refuses a corrupt KEK file', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'kek'), 'not a key', { mode: 0o600 });
    expect(() => loadKek({ dataDir: dir })).toThrow(/KEK file .* must be 32 bytes/);
    expect(readFileSync(join(dir, 'kek'), 'utf8')).toBe('not a key');
  });
});
