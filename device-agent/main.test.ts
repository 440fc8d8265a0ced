import { describe, expect, it } from 'vitest';
import { estUrlFor } from './main.ts';

describe('estUrlFor', () => {
  it.each([
    // [provisioned EST URL, provisioned control plane, control plane now, EST URL now]
    [
      'https://ca:8443/.well-known/est',
      'https://ca:8443',
      'https://ca2:9443',
      'https://ca2:9443/.well-known/est',
    ],
    [
      'https://ca:8443/.well-known/est',
      'https://ca:8443',
      'https://ca:8443',
      'https://ca:8443/.well-known/est',
    ],
    [
      'https://est.example/.well-known/est',
      'https://cp.example',
      'https://cp2.example',
      'https://est.example/.well-known/est',
    ],
  ])('%s (cp %s → %s) is %s', (est, cp, now, out) => {
    expect(estUrlFor(est, cp, now)).toBe(out);
  });
});
