import { describe, expect, it } from 'vitest';
import { canPublish, canReceive, canSubscribe } from './acl.ts';
import { identify, normalizeSerial, type Principal } from './identity.ts';
import { checkPayload, isJwe } from './payload-policy.ts';
import { TokenBucket } from './token-bucket.ts';

const dev: Principal = { kind: 'device', id: 'cam-1', serial: '01' };
const svc: Principal = { kind: 'service', id: 'sink', serial: '02' };

describe('topic ACL (PRODUCT.md § Topics), deny by default', () => {
  it.each([
    ['devices/cam-1/telemetry', true],
    ['devices/cam-1/status', true],
    ['devices/cam-1/ota', false],
    ['devices/cam-1/cmd', false],
    ['devices/cam-2/telemetry', false],
    ['devices/cam-1/telemetry/extra', false],
    ['other', false],
  ])('device publish %s → %s', (t, want) => expect(canPublish(dev, t)).toBe(want));

  it.each([
    ['devices/cam-1/ota', true],
    ['devices/cam-1/cmd', true],
    ['devices/cam-1/#', true],
    ['devices/cam-1/+', true],
    ['devices/cam-1/telemetry', false],
    ['devices/+/cmd', false],
    ['devices/#', false],
    ['#', false],
    ['+/cam-1/cmd', false],
    ['devices/cam-2/cmd', false],
  ])('device subscribe %s → %s', (f, want) => expect(canSubscribe(dev, f)).toBe(want));

  it('re-checks every delivery: a device never receives telemetry, even its own', () => {
    expect(canReceive(dev, 'devices/cam-1/telemetry')).toBe(false);
    expect(canReceive(dev, 'devices/cam-1/cmd')).toBe(true);
    expect(canReceive(dev, 'devices/cam-2/cmd')).toBe(false);
  });

  it('lets a service read telemetry and status and write ota and cmd, nothing else', () => {
    expect(canSubscribe(svc, 'devices/+/telemetry')).toBe(true);
    expect(canSubscribe(svc, 'devices/#')).toBe(true);
    expect(canSubscribe(svc, '#')).toBe(false);
    expect(canSubscribe(svc, 'devices/+/cmd')).toBe(false);
    expect(canReceive(svc, 'devices/x/cmd')).toBe(false);
    expect(canPublish(svc, 'devices/x/ota')).toBe(true);
    expect(canPublish(svc, 'devices/x/telemetry')).toBe(false);
  });
});

describe('identity from the verified certificate', () => {
  const ok = { authorized: true, verifyError: undefined, serialNumber: '00AB' };
  it('takes the device id from the SPIFFE URI SAN', () => {
    expect(
      identify({ ...ok, subjectAltName: 'URI:spiffe://edgeseal.local/device/cam-1' }, 'edgeseal.local'),
    ).toEqual({
      ok: true,
      principal: { kind: 'device', id: 'cam-1', serial: 'ab' },
    });
  });
  it.each([
    [
      { authorized: false, verifyError: 'CERT_HAS_EXPIRED', subjectAltName: '', serialNumber: '01' },
      'cert_expired',
    ],
    [
      { authorized: false, verifyError: 'SELF_SIGNED_CERT_IN_CHAIN', subjectAltName: '', serialNumber: '01' },
      'unknown_ca',
    ],
    [
      { authorized: false, verifyError: undefined, subjectAltName: undefined, serialNumber: undefined },
      'no_certificate',
    ],
    [{ ...ok, subjectAltName: 'DNS:cam-1' }, 'no_identity'],
    [{ ...ok, subjectAltName: 'URI:spiffe://other.example/device/cam-1' }, 'foreign_trust_domain'],
    [
      {
        ...ok,
        subjectAltName: 'URI:spiffe://edgeseal.local/device/cam-1, URI:spiffe://edgeseal.local/device/cam-2',
      },
      'no_identity',
    ],
  ])('refuses %o as %s', (peer, reason) => {
    const r = identify(peer, 'edgeseal.local');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toBe(reason);
  });
  it('normalizes serials as the CA stores them', () => {
    expect(normalizeSerial('0A:FF')).toBe('0aff');
    expect(normalizeSerial('00FF')).toBe('ff');
    expect(normalizeSerial('ABC')).toBe('0abc');
  });
});

describe('payload policy', () => {
  const compact = (h: object) => `${Buffer.from(JSON.stringify(h)).toString('base64url')}..aXY.Y3Q.dGFn`;
  it.each([
    [compact({ alg: 'dir', enc: 'A256GCM' }), true],
    [compact({ alg: 'ECDH-ES', enc: 'A256GCM' }).replace('..', '.a2V5.'), true],
    [
      JSON.stringify({
        protected: Buffer.from('{"enc":"A256GCM"}').toString('base64url'),
        header: { alg: 'dir' },
        iv: 'aXY',
        ciphertext: 'Y3Q',
        tag: 'dGFn',
      }),
      true,
    ],
    [compact({ alg: 'dir' }), false],
    ['{"temp":21}', false],
    ['a.b.c', false],
    ['', false],
    ['eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aXY.Y3Q.dG$n', false],
  ])('isJwe(%s) → %s', (text, want) => expect(isJwe(Buffer.from(text))).toBe(want));

  it('applies the JWE rule to device telemetry only, and the size limit to everything', () => {
    expect(checkPayload(dev, 'devices/cam-1/status', Buffer.from('online'), 100).ok).toBe(true);
    expect(checkPayload(dev, 'devices/cam-1/telemetry', Buffer.from('plain'), 100)).toMatchObject({
      reason: 'payload_not_jwe',
    });
    expect(checkPayload(dev, 'devices/cam-1/status', Buffer.alloc(101), 100)).toMatchObject({
      reason: 'payload_too_large',
    });
  });
});

describe('token bucket', () => {
  it('allows the burst, then the rate', () => {
    const b = new TokenBucket(10, 3, 0);
    expect([b.take(0), b.take(0), b.take(0), b.take(0)]).toEqual([true, true, true, false]);
    expect(b.take(100)).toBe(true); // 0.1 s → one token
    expect(b.take(100)).toBe(false);
    expect(b.idle(1000)).toBe(true);
  });
});
