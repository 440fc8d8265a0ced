import { describe, expect, it } from 'vitest';
import { newSecret } from './credentials.ts';

describe('newSecret', () => {
  it('never starts with "-" (a command line would read it as an option): such a draw is drawn again', () => {
    const draws = [Buffer.alloc(32, 0xf8), Buffer.alloc(32, 0)];
    let calls = 0;
    const s = newSecret(() => draws[calls++]!);
    expect(calls).toBe(2);
    expect(s).toBe('A'.repeat(43));
  });
});
