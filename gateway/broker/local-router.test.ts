// The in-process router's sessions under an identity that is not theirs (defence in depth:
// client ids are disjoint per identity, core/client-id.ts, so the broker should never let
// this happen; the router must not hand over a session even if it did).
import { afterEach, describe, expect, it } from 'vitest';
import type { Principal } from '../core/identity.ts';
import type { Connection } from './connection.ts';
import { LocalRouter } from './local-router.ts';

interface Sent {
  topic: string;
  payload: string;
  qos: number;
}

/** just what the router uses of a connection: identity, session flags, and its outbox */
function fakeConnection(principal: Principal, clientId: string, persistent: boolean) {
  const sent: Sent[] = [];
  const c = {
    principal,
    clientId,
    persistent,
    receiveMaximum: 65_535,
    state: 'open',
    routerState: undefined as unknown,
    blockedBy: undefined,
    socket: { once() {}, pause() {}, resume() {} },
    backlog: () => 0,
    sendPublish(topic: string, payload: Buffer, qos: number) {
      sent.push({ topic, payload: payload.toString(), qos });
      return true;
    },
  };
  return { conn: c as unknown as Connection, sent };
}

const service: Principal = { kind: 'service', id: 'gw', serial: 'aa' };
const device: Principal = { kind: 'device', id: 'gw', serial: 'bb' };
const otherDevice: Principal = { kind: 'device', id: 'cam-1', serial: 'cc' };
const drops: string[] = [];
let router: LocalRouter;

afterEach(async () => {
  drops.length = 0;
  await router?.stop();
});

function newRouter() {
  router = new LocalRouter({ maxQueued: 100, sessionExpiryMs: 60_000, now: Date.now }, (r) => drops.push(r));
  return router;
}

const publish = (from: Connection, topic: string, payload: string, qos: 0 | 1 = 1) =>
  router.publish(from, { topic, payload: Buffer.from(payload), qos, retain: false });

describe('local router: a persistent session belongs to the identity that made it', () => {
  it('another identity under the same client id gets a fresh session: not the old subscriptions, not the queue', async () => {
    newRouter();
    const pub = fakeConnection(otherDevice, 'cam-1', false);
    await router.open(pub.conn, true);
    // a service makes a persistent session reading every device's telemetry, and leaves
    const svc = fakeConnection(service, 'shared-id', true);
    expect(await router.open(svc.conn, false)).toBe(false);
    router.subscribe(svc.conn, [{ filter: 'devices/+/telemetry', qos: 1 }]);
    router.close(svc.conn, true);
    publish(pub.conn, 'devices/cam-1/telemetry', 'queued-for-the-service');
    // a device connects under the same client id, asking to resume
    const dev = fakeConnection(device, 'shared-id', true);
    expect(await router.open(dev.conn, false)).toBe(false); // session present: no
    router.resume(dev.conn);
    publish(pub.conn, 'devices/cam-1/telemetry', 'live');
    expect(dev.sent).toEqual([]);
    // and the service's session is gone: the queue was not kept for anyone
    router.close(dev.conn, true);
    const back = fakeConnection(service, 'shared-id', true);
    expect(await router.open(back.conn, false)).toBe(false);
    router.resume(back.conn);
    expect(back.sent).toEqual([]);
  });

  it('the same identity resumes its session, also with a renewed certificate (new serial)', async () => {
    newRouter();
    const pub = fakeConnection(otherDevice, 'cam-1', false);
    await router.open(pub.conn, true);
    const first = fakeConnection(service, 'svc:gw', true);
    await router.open(first.conn, false);
    router.subscribe(first.conn, [{ filter: 'devices/+/telemetry', qos: 1 }]);
    router.close(first.conn, true);
    publish(pub.conn, 'devices/cam-1/telemetry', 'while-away');
    const again = fakeConnection({ ...service, serial: 'dd' }, 'svc:gw', true);
    expect(await router.open(again.conn, false)).toBe(true);
    router.resume(again.conn);
    expect(again.sent).toEqual([{ topic: 'devices/cam-1/telemetry', payload: 'while-away', qos: 1 }]);
  });

  it('checks every delivery against the principal connected now, not the one stored with the session', async () => {
    newRouter();
    const pub = fakeConnection(otherDevice, 'cam-1', false);
    await router.open(pub.conn, true);
    const svc = fakeConnection(service, 'svc:gw', true);
    await router.open(svc.conn, false);
    router.subscribe(svc.conn, [{ filter: 'devices/+/telemetry', qos: 1 }]);
    // however a connection came to be attached to this session, what goes out on it is read-checked for it
    (svc.conn as { principal: Principal }).principal = device;
    publish(pub.conn, 'devices/cam-1/telemetry', 'x', 1);
    publish(pub.conn, 'devices/cam-1/telemetry', 'y', 0);
    expect(svc.sent).toEqual([]);
    expect(drops).toEqual(['acl_receive', 'acl_receive']);
  });
});
