import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { agentLog } from './log.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, dest };
}

describe('agent log', () => {
  it('one JSON object per event with time, level (as text), device_id and event', () => {
    const { lines, dest } = capture();
    const log = agentLog({ device_id: 'cam-1' }, dest);
    log.info('started', { cert_serial: 'ab' });
    log.warn('renewal_refused', { status: 403 });
    expect(lines[0]).toMatchObject({
      level: 'info',
      device_id: 'cam-1',
      event: 'started',
      cert_serial: 'ab',
    });
    expect(lines[1]).toMatchObject({ level: 'warn', event: 'renewal_refused', status: 403 });
    expect(Number.isNaN(Date.parse(String(lines[0]!.time)))).toBe(false);
  });

  it('redacts fields that could carry a secret, even if a caller slips', () => {
    const { lines, dest } = capture();
    agentLog({ device_id: 'cam-1' }, dest).info('oops', {
      nonce: 'n0nce',
      result: 'eyJ.result',
      key: 'k',
      jwe: 'a.b.c.d.e',
      jwk: { kty: 'EC', d: 'private' },
    });
    const text = JSON.stringify(lines[0]);
    for (const secret of ['n0nce', 'eyJ.result', 'a.b.c.d.e', 'private']) expect(text).not.toContain(secret);
    expect(lines[0]).toMatchObject({
      nonce: '[redacted]',
      result: '[redacted]',
      jwk: { kty: 'EC', d: '[redacted]' },
    });
  });
});
