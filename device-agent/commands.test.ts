import { describe, expect, it } from 'vitest';
import { parseCommand } from './commands.ts';

describe('parseCommand', () => {
  it.each([
    ['{"type":"attest"}', { type: 'attest' }],
    ['{"type":"update"}', { type: 'update' }],
    ['{"type":"reboot"}', { type: 'unknown', name: 'reboot' }],
    ['{}', { type: 'unknown', name: '(no type)' }],
    ['attest', { type: 'unknown', name: '(not JSON)' }],
  ])('%s → %o', (payload, cmd) => {
    expect(parseCommand(Buffer.from(payload))).toEqual(cmd);
  });
});
