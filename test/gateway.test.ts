// The MQTT gateway with real mosquitto clients and CA-issued certificates: identity from
// the certificate, the topic ACL, refusals with their reason codes, live revocation,
// payload policy, persistent sessions, metrics.
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
import { enrollDevice, type EnrolledDevice, startStack, type TestStack, revokeVia } from './helpers/stack.ts';

let s: TestStack;
let gw: Gateway;
let root: string;
let devA: EnrolledDevice;
let devB: EnrolledDevice;
let backend: Identity;

beforeAll(async () => {
  s = await startStack();
  gw = await startTestGateway(s, { EDGESEAL_GATEWAY_RATE: '20', EDGESEAL_GATEWAY_BURST: '20' });
  root = rootOf(s);
  devA = await enrollDevice(s, 'cam-a1');
  devB = await enrollDevice(s, 'cam-b1');
  backend = await serviceIdentity(s, 'telemetry-sink');
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await s?.stop();
});

describe('gateway: identity and topics', () => {
  it('a device publishes telemetry (a JWE) on its own topic and a backend service receives it', async () => {
    const sink = mosquittoSub(gw, root, backend, 'svc:telemetry-sink', [
      '-t',
      'devices/+/telemetry',
      '-q',
      '1',
    ]);
    try {
      await untilSessions(gw, 1);
      await new Promise((r) => setTimeout(r, 200)); // SUBSCRIBE after CONNACK
      const body = jwe('{"temp":21.5}');
      const r = await mosquittoPub(gw, root, deviceIdentity(devA), 'cam-a1', [
        '-t',
        'devices/cam-a1/telemetry',
        '-q',
        '1',
        '-m',
        body,
      ]);
      expect(r.status, r.out).toBe(0);
      expect(await sink.waitFor((l) => l.startsWith('devices/cam-a1/telemetry '))).toBe(
        `devices/cam-a1/telemetry ${body}`,
      );
    } finally {
      await sink.stop();
    }
  });

  it('a device receives commands on its own cmd topic from a backend', async () => {
    const dev = mosquittoSub(gw, root, deviceIdentity(devA), 'cam-a1', [
      '-t',
      'devices/cam-a1/cmd',
      '-q',
      '1',
    ]);
    try {
      await untilSessions(gw, 1);
      await new Promise((r) => setTimeout(r, 200));
      const r = await mosquittoPub(gw, root, backend, 'svc:telemetry-sink', [
        '-t',
        'devices/cam-a1/cmd',
        '-q',
        '1',
        '-m',
        'reboot',
      ]);
      expect(r.status, r.out).toBe(0);
      expect(await dev.waitFor((l) => l.startsWith('devices/cam-a1/cmd'))).toBe('devices/cam-a1/cmd reboot');
    } finally {
      await dev.stop();
    }
  });

  it("refuses a publish to another device's topic: the connection is closed and nothing is routed", async () => {
    const before = metric(await metricsText(gw), 'edgeseal_gateway_denials_total{reason="acl_publish"}');
    const sink = mosquittoSub(gw, root, backend, 'svc:telemetry-sink', ['-t', 'devices/#', '-q', '1']);
    try {
      await untilSessions(gw, 1);
      await new Promise((r) => setTimeout(r, 200));
      const r = await mosquittoPub(gw, root, deviceIdentity(devA), 'cam-a1', [
        '-t',
        'devices/cam-b1/telemetry',
        '-q',
        '1',
        '-m',
        jwe('x'),
      ]);
      expect(r.status).not.toBe(0);
      const ok = await mosquittoPub(gw, root, deviceIdentity(devB), 'cam-b1', [
        '-t',
        'devices/cam-b1/status',
        '-q',
        '1',
        '-m',
        'online',
      ]);
      expect(ok.status, ok.out).toBe(0);
      await sink.waitFor((l) => l.startsWith('devices/cam-b1/status'));
      expect(sink.lines.filter((l) => l.startsWith('devices/cam-b1/telemetry'))).toEqual([]);
    } finally {
      await sink.stop();
    }
    const after = metric(await metricsText(gw), 'edgeseal_gateway_denials_total{reason="acl_publish"}');
    expect(after).toBe(before + 1);
  });

  it("refuses subscriptions to '#', another device's subtree and wildcards beyond its own", async () => {
    for (const filter of [
      '#',
      'devices/cam-b1/cmd',
      'devices/+/cmd',
      '+/cam-a1/cmd',
      'devices/cam-a1/telemetry',
    ]) {
      const sub = mosquittoSub(gw, root, deviceIdentity(devA), 'cam-a1', ['-t', filter, '-q', '1']);
      const r = await Promise.race([
        sub.exited,
        new Promise<undefined>((res) => setTimeout(() => res(undefined), 4000)),
      ]);
      await sub.stop();
      expect(r, filter).toBeDefined();
      expect(r!.out, filter).toMatch(/denied/i);
    }
    // its own subtree with a wildcard is fine
    const ok = mosquittoSub(gw, root, deviceIdentity(devA), 'cam-a1', ['-t', 'devices/cam-a1/#', '-q', '1']);
    await untilSessions(gw, 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(ok.proc.exitCode).toBeNull();
    await ok.stop();
  });

  it('refuses a client id that is not the device id (CONNACK identifier rejected)', async () => {
    const r = await mosquittoPub(gw, root, deviceIdentity(devA), 'cam-b1', [
      '-t',
      'devices/cam-b1/status',
      '-m',
      'x',
    ]);
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/identifier rejected/i);
    expect(
      metric(await metricsText(gw), 'edgeseal_gateway_refusals_total{reason="client_id_mismatch"}'),
    ).toBeGreaterThan(0);
  });
});

describe('gateway: live revocation', () => {
  it('cuts a revoked device within a second and refuses it afterwards', async () => {
    const dev = await enrollDevice(s, 'cam-rv1');
    const sub = mosquittoSub(gw, root, deviceIdentity(dev), 'cam-rv1', [
      '-t',
      'devices/cam-rv1/cmd',
      '-q',
      '1',
    ]);
    await untilSessions(gw, 1);
    const t0 = Date.now();
    const r = await revokeVia(s, { device_id: 'cam-rv1', reason: 'keyCompromise' });
    expect(r.status).toBe(200);
    await untilSessions(gw, 0, 1000);
    expect(Date.now() - t0).toBeLessThan(1000);
    await sub.stop();
    const again = await mosquittoPub(gw, root, deviceIdentity(dev), 'cam-rv1', [
      '-t',
      'devices/cam-rv1/status',
      '-m',
      'x',
    ]);
    expect(again.status).not.toBe(0);
    expect(again.out).toMatch(/not authori[sz]ed/i);
    const m = await metricsText(gw);
    expect(metric(m, 'edgeseal_gateway_revocation_disconnects_total')).toBe(1);
    expect(metric(m, 'edgeseal_gateway_refusals_total{reason="revoked"}')).toBe(1);
  });
});
