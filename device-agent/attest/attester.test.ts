import { describe, expect, it, vi } from 'vitest';
import { testPki } from '../../attestation/test-pki.ts';
import { newUeid } from '../device.ts';
import { cert } from '../identity/certs.ts';
import { CurrentIdentity, makeIdentity } from '../identity/identity.ts';
import { newWrappingKey } from '../keys/wrapping-key.ts';
import type { AgentLog } from '../log.ts';
import type { Appraised } from '../net/control-plane.ts';
import { Attester, reattestDelay } from './attester.ts';

const silent: AgentLog = { info: () => {}, warn: () => {}, error: () => {}, child: () => silent };

describe('Attester', async () => {
  const pki = testPki();
  const dev = pki.device({ id: 'cam-0009' });
  const issuing = cert(Buffer.from(pki.issuingCa.raw));
  const identity = new CurrentIdentity(
    makeIdentity('cam-0009', dev.key, cert(dev.certDer), issuing, issuing),
  );
  const wrapping = await newWrappingKey();

  function setup(answer: (jwt: string) => Appraised) {
    let now = new Date('2026-12-02T10:00:00Z');
    const evidence: string[] = [];
    const cp = {
      challenge: vi.fn(async () => ({
        nonce: 'bm9uY2Utbm9uY2Utbm9uY2U',
        expiresAt: new Date(now.getTime() + 60_000),
      })),
      evidence: vi.fn(async (jwt: string) => {
        evidence.push(jwt);
        return answer(jwt);
      }),
    };
    const digests = ['11'.repeat(32), '22'.repeat(32)];
    const measureFirmware = vi.fn(async () => digests.shift() ?? '33'.repeat(32));
    const changes: string[] = [];
    const attester = new Attester(
      {
        cp,
        measureFirmware,
        identity,
        wrapping,
        device: { ueid: newUeid(), hardware_model: 'cam-v2' },
        agentSha256: 'ab'.repeat(32),
        log: silent,
        now: () => now,
        onChange: (st) => changes.push(st),
      },
      '00'.repeat(32),
    );
    return {
      attester,
      cp,
      evidence,
      measureFirmware,
      changes,
      advance: (ms: number) => (now = new Date(now.getTime() + ms)),
    };
  }

  const affirming = (expiresInMs: number, from = new Date('2026-12-02T10:00:00Z')): Appraised => ({
    status: 'affirming',
    result: 'eyJ.result.sig',
    expiresAt: new Date(from.getTime() + expiresInMs),
    reasons: [],
  });

  it('challenge → evidence → result; measured again each time; re-attests at 2/3 of the remaining life', async () => {
    const t = setup(() => affirming(600_000));
    expect(t.attester.standing()).toBe('none');
    expect(await t.attester.run()).toBe(400_000);
    expect(t.attester.standing()).toBe('affirming');
    expect(t.changes).toEqual(['affirming']);
    expect(t.attester.firmwareSha256).toBe('11'.repeat(32));
    expect(t.evidence[0]!.split('.')).toHaveLength(3);
    // not due yet: no request
    t.advance(100_000);
    expect(await t.attester.run()).toBe(300_000);
    expect(t.cp.challenge).toHaveBeenCalledTimes(1);
    // a command forces one now, and the firmware is read again
    t.attester.force();
    await t.attester.run();
    expect(t.cp.challenge).toHaveBeenCalledTimes(2);
    expect(t.measureFirmware).toHaveBeenCalledTimes(2);
    expect(t.attester.firmwareSha256).toBe('22'.repeat(32));
  });

  it('a result past its expiry counts as expired', async () => {
    const t = setup(() => affirming(30_000));
    await t.attester.run();
    t.advance(30_001);
    expect(t.attester.standing()).toBe('expired');
    t.attester.stop();
  });

  it('a refused challenge or evidence throws for the Job to log and retry; the last result stays', async () => {
    const t = setup(() => affirming(600_000));
    await t.attester.run();
    t.cp.evidence.mockRejectedValueOnce(new Error('NonceReplayed'));
    t.attester.force();
    await expect(t.attester.run()).rejects.toThrow('NonceReplayed');
    expect(t.attester.standing()).toBe('affirming');
  });

  it.each([
    [600_000, 400_000],
    [15_000, 10_000],
    [1_000, 5_000], // never sooner than 5 s
  ])('reattestDelay for %i ms left is %i ms', (left, delay) => {
    const now = new Date();
    expect(reattestDelay(now, new Date(now.getTime() + left))).toBe(delay);
  });
});
