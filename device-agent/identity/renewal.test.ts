import { describe, expect, it } from 'vitest';
import { renewalDue } from './renewal.ts';

describe('renewalDue: 2/3 of the certificate life', () => {
  it.each([
    ['2026-01-01T00:00:00Z', '2026-01-01T03:00:00Z', '2026-01-01T02:00:00Z'],
    ['2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z', '2026-09-01T08:00:00Z'],
    ['2026-01-01T00:00:00Z', '2026-01-01T00:00:03Z', '2026-01-01T00:00:02Z'],
  ])('%s → %s is due at %s', (nb, na, due) => {
    expect(renewalDue({ notBefore: new Date(nb), notAfter: new Date(na) }).toISOString()).toBe(
      new Date(due).toISOString(),
    );
  });
});
