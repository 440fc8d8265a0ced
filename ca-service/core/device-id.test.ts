// What a device may be called: the CN of its CSR, checked at enrollment.
import { describe, expect, it } from 'vitest';
import { checkDeviceId } from './device-id.ts';

const code = (f: () => unknown) => {
  try {
    f();
    return 'accepted';
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

describe('device ids', () => {
  it.each(['cam-0001', 'A', 'cam_01.v2', 'svc-gw', 'x'.repeat(64)])('accepts %s', (id) =>
    expect(checkDeviceId(id, null)).toBe(id),
  );

  it.each([
    'svc:ops', // a service's MQTT client id: no device may enroll under one
    'svc:ops:worker-1',
    'cam:1', // nor under any id with ':', the service client-id separator
    ':cam',
    '',
    '-cam',
    'cam/1',
    'cam+1',
    'cam#1',
    'x'.repeat(65),
  ])('refuses %s', (id) => expect(code(() => checkDeviceId(id, null))).toBe('ERR_DEVICE_ID_INVALID'));

  it("holds to the batch's prefix", () => {
    expect(checkDeviceId('lab-1', 'lab-')).toBe('lab-1');
    expect(code(() => checkDeviceId('cam-1', 'lab-'))).toBe('ERR_DEVICE_ID_INVALID');
  });
});
