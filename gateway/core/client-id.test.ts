// Client ids as attack surface: a device and a service can never name the same session.
import { describe, expect, it } from 'vitest';
import { DEVICE_ID_RE } from '../../ca-service/core/device-id.ts';
import { ownsClientId, resolveClientId } from './client-id.ts';
import type { Principal } from './identity.ts';

const device = (id: string): Principal => ({ kind: 'device', id, serial: '01' });
const service = (id: string): Principal => ({ kind: 'service', id, serial: '02' });
const v311 = { protocolLevel: 4, cleanSession: true };

describe('client ids: one namespace per identity', () => {
  it.each([
    // [principal, client id, allowed]
    [device('cam-1'), 'cam-1', true],
    [device('cam-1'), 'cam-2', false],
    [device('cam-1'), 'cam-1-x', false],
    [device('gw-a'), 'svc:gw', false], // a device cannot squat a service's client id
    [device('gw'), 'svc:gw', false], // not even one whose id is the service's name
    [device('gw'), 'svc:gw:w1', false],
    [service('gw'), 'svc:gw', true],
    [service('gw'), 'svc:gw:worker-1', true],
    [service('gw'), 'gw', false], // the old bare-name form
    [service('gw'), 'gw-a', false], // the old <name>-… form: a device's id
    [service('gw'), 'svc:gw-a', false], // another service's
    [service('gw'), 'svc:gw-a:w', false],
    [service('gw'), 'svc:gw:', false],
    [service('gw'), 'svc:gw:a:b', false],
    [service('gw'), 'svc:gw:a/b', false],
    [service('gw'), `svc:gw:${'w'.repeat(65)}`, false],
  ])('%o may use %s: %s', (p, clientId, allowed) => {
    expect(ownsClientId(p, clientId)).toBe(allowed);
    expect(resolveClientId(p, clientId, v311).ok).toBe(allowed);
  });

  it('no device id can equal or prefix-match a service client id (device ids have no ":")', () => {
    for (const id of ['svc:gw', 'svc:gw:w', 'svc:', 'cam:1']) expect(DEVICE_ID_RE.test(id)).toBe(false);
    expect(DEVICE_ID_RE.test('svc-gw')).toBe(true); // a device may be called so: it is not `svc:`
    expect(ownsClientId(service('gw'), 'svc-gw')).toBe(false);
  });

  it('assigns the identity its own client id when it sends none', () => {
    expect(resolveClientId(device('cam-1'), '', v311)).toEqual({
      ok: true,
      clientId: 'cam-1',
      assigned: true,
    });
    expect(resolveClientId(service('gw'), '', v311)).toEqual({
      ok: true,
      clientId: 'svc:gw',
      assigned: true,
    });
  });

  it('refuses a zero-byte client id with clean session 0 in MQTT 3.1.1 [MQTT-3.1.3-8], not in MQTT 5', () => {
    expect(resolveClientId(device('cam-1'), '', { protocolLevel: 4, cleanSession: false })).toMatchObject({
      ok: false,
      reason: 'client_id_required',
    });
    expect(resolveClientId(device('cam-1'), '', { protocolLevel: 5, cleanSession: false })).toMatchObject({
      ok: true,
      clientId: 'cam-1',
    });
  });
});
