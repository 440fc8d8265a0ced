// MQTT 5 clients (mosquitto_pub/sub -V mqttv5) get the same policy with reasons: CONNACK,
// PUBACK, SUBACK and DISCONNECT reason codes instead of a silently closed connection.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../gateway/main.ts';
import {
  deviceIdentity,
  type Identity,
  jwe,
  metric,
  metricsText,
  mosquittoPub,
  mosquittoSub,
  rootOf,
  serviceIdentity,
  startTestGateway,
  untilSessions,
} from './helpers/mqtt.ts';
import { enrollDevice, type EnrolledDevice, revokeVia, startStack, type TestStack } from './helpers/stack.ts';

let s: TestStack;
let gw: Gateway;
let root: string;
let dev: EnrolledDevice;
let backend: Identity;
const V5 = ['-V', 'mqttv5'];

beforeAll(async () => {
  s = await startStack();
  gw = await startTestGateway(s);
  root = rootOf(s);
  dev = await enrollDevice(s, 'cam-v5');
  backend = await serviceIdentity(s, 'sink5');
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await s?.stop();
});

describe('gateway with MQTT 5 clients', () => {
  it('routes telemetry up and commands down, as for 3.1.1', async () => {
    const sink = mosquittoSub(gw, root, backend, 'svc:sink5', [
      ...V5,
      '-t',
      'devices/+/telemetry',
      '-q',
      '1',
    ]);
    const device = mosquittoSub(gw, root, deviceIdentity(dev), 'cam-v5', [
      ...V5,
      '-t',
      'devices/cam-v5/cmd',
      '-q',
      '1',
    ]);
    try {
      await untilSessions(gw, 2);
      await new Promise((r) => setTimeout(r, 200));
      const down = await mosquittoPub(gw, root, backend, 'svc:sink5:ops', [
        ...V5,
        '-t',
        'devices/cam-v5/cmd',
        '-q',
        '1',
        '-m',
        'reboot',
      ]);
      expect(down.status, down.out).toBe(0);
      await device.waitFor((l) => l === 'devices/cam-v5/cmd reboot');
      await device.stop();
      await untilSessions(gw, 1);
      const wrongId = await mosquittoPub(gw, root, deviceIdentity(dev), 'cam-v5-pub', [
        ...V5,
        '-t',
        'x',
        '-m',
        'x',
      ]);
      expect(wrongId.out).toMatch(/client identifier not valid/i); // CONNACK 0x85
      const body = jwe('{"t":1}');
      const r = await mosquittoPub(gw, root, deviceIdentity(dev), 'cam-v5', [
        ...V5,
        '-t',
        'devices/cam-v5/telemetry',
        '-q',
        '1',
        '-m',
        body,
      ]);
      expect(r.status, r.out).toBe(0);
      await sink.waitFor((l) => l === `devices/cam-v5/telemetry ${body}`);
    } finally {
      await sink.stop();
      await device.stop();
    }
  });

  it('answers a refused QoS 1 publish with a PUBACK reason (not authorized, payload format invalid)', async () => {
    const acl = await mosquittoPub(gw, root, deviceIdentity(dev), 'cam-v5', [
      ...V5,
      '-t',
      'devices/other/telemetry',
      '-q',
      '1',
      '-m',
      jwe('x'),
    ]);
    expect(acl.out).toMatch(/not authori[sz]ed/i);
    const plain = await mosquittoPub(gw, root, deviceIdentity(dev), 'cam-v5', [
      ...V5,
      '-t',
      'devices/cam-v5/telemetry',
      '-q',
      '1',
      '-m',
      '{"t":1}',
    ]);
    expect(plain.out).toMatch(/payload format invalid/i);
    const m = await metricsText(gw);
    expect(metric(m, 'edgeseal_gateway_denials_total{reason="acl_publish"}')).toBe(1);
    expect(metric(m, 'edgeseal_gateway_denials_total{reason="payload_not_jwe"}')).toBe(1);
  });

  it("refuses '#' in SUBACK", async () => {
    const sub = mosquittoSub(gw, root, deviceIdentity(dev), 'cam-v5', [...V5, '-t', '#']);
    const r = await Promise.race([
      sub.exited,
      new Promise<undefined>((res) => setTimeout(() => res(undefined), 4000)),
    ]);
    await sub.stop();
    expect(r?.out).toMatch(/denied/i);
  });

  it('tells a revoked device why its session ends, then refuses it at CONNACK', async () => {
    const victim = await enrollDevice(s, 'cam-v5-rv');
    const sub = mosquittoSub(gw, root, deviceIdentity(victim), 'cam-v5-rv', [
      ...V5,
      '-t',
      'devices/cam-v5-rv/cmd',
    ]);
    await untilSessions(gw, 1);
    const t0 = Date.now();
    expect((await revokeVia(s, { device_id: 'cam-v5-rv' })).status).toBe(200);
    await untilSessions(gw, 0, 1000);
    expect(Date.now() - t0).toBeLessThan(1000);
    await sub.stop();
    const again = await mosquittoPub(gw, root, deviceIdentity(victim), 'cam-v5-rv', [
      ...V5,
      '-t',
      'devices/cam-v5-rv/status',
      '-m',
      'x',
    ]);
    expect(again.out).toMatch(/not authori[sz]ed/i);
  });
});
