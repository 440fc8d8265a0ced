// Two gateways bridging to one upstream broker (the local Mosquitto at 127.0.0.1:1883 in
// the integration suite): devices on either gateway reach backends on the broker, commands
// reach the right device through whichever gateway it is on, QoS 1 messages wait upstream
// for an offline device, and a revocation cuts the device on both gateways.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../gateway/main.ts';
import { remoteControlLink } from '../gateway/revocation/remote-link.ts';
import { MqttClient } from '../lib/mqtt/client.ts';
import {
  deviceIdentity,
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
import {
  createToken,
  enrollDevice,
  type EnrolledDevice,
  startStack,
  type TestStack,
  revokeVia,
} from './helpers/stack.ts';

const upstream = process.env.MQTT_UPSTREAM_TEST_URL;

describe.runIf(!!upstream)('two gateways on one upstream broker', () => {
  let s: TestStack;
  let gw1: Gateway;
  let gw2: Gateway;
  let root: string;
  let backend: MqttClient;
  let a: EnrolledDevice;
  let b: EnrolledDevice;
  const run = randomBytes(3).toString('hex'); // the shared broker may hold other runs' sessions
  const idA = `cam-${run}-a`;
  const idB = `cam-${run}-b`;
  const received: string[] = [];

  beforeAll(async () => {
    s = await startStack();
    root = rootOf(s);
    const env = { MQTT_UPSTREAM_URL: upstream! };
    gw1 = await startTestGateway(s, env); // in-process control link
    gw2 = await startTestGateway(
      s,
      env,
      remoteControlLink({
        caUrl: s.cp.httpsUrl,
        token: await createToken(s, 'gateway'),
        rootPem: readFileSync(root, 'utf8'),
        log: pino({ level: 'silent' }),
      }),
    );
    a = await enrollDevice(s, idA);
    b = await enrollDevice(s, idB);
    // a backend on the broker itself takes a client id no device can have (device ids have no ':')
    backend = await MqttClient.connect({ url: upstream!, clientId: `svc:backend-${run}` });
    backend.onMessage = (m, ack) => {
      received.push(`${m.topic} ${m.payload.toString()}`);
      ack();
    };
    expect(await backend.subscribe(`devices/+/telemetry`, 1)).toEqual([1]);
  }, 60_000);

  afterAll(async () => {
    await backend?.end();
    await gw1?.close();
    await gw2?.close();
    await s?.stop();
  });

  it('telemetry from devices on either gateway reaches a backend on the broker', async () => {
    const ja = jwe('a');
    const jb = jwe('b');
    expect(
      (
        await mosquittoPub(gw1, root, deviceIdentity(a), idA, [
          '-t',
          `devices/${idA}/telemetry`,
          '-q',
          '1',
          '-m',
          ja,
        ])
      ).status,
    ).toBe(0);
    expect(
      (
        await mosquittoPub(gw2, root, deviceIdentity(b), idB, [
          '-t',
          `devices/${idB}/telemetry`,
          '-q',
          '1',
          '-m',
          jb,
        ])
      ).status,
    ).toBe(0);
    const end = Date.now() + 3000;
    while (received.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(received.sort()).toEqual(
      [`devices/${idA}/telemetry ${ja}`, `devices/${idB}/telemetry ${jb}`].sort(),
    );
  });

  it('a command from the broker reaches the device on whichever gateway it is on, and only that device', async () => {
    const subA = mosquittoSub(gw1, root, deviceIdentity(a), idA, ['-t', `devices/${idA}/#`, '-q', '1']);
    const subB = mosquittoSub(gw2, root, deviceIdentity(b), idB, ['-t', `devices/${idB}/cmd`, '-q', '1']);
    try {
      await untilSessions(gw1, 1);
      await untilSessions(gw2, 1);
      await new Promise((r) => setTimeout(r, 300));
      await backend.publish(`devices/${idB}/cmd`, 'for-b', 1);
      await backend.publish(`devices/${idA}/ota`, 'for-a', 1);
      // the broker would deliver telemetry under devices/<a>/#; the gateway's read ACL does not
      await backend.publish(`devices/${idA}/telemetry`, jwe('echo'), 1);
      await subB.waitFor((l) => l === `devices/${idB}/cmd for-b`);
      await subA.waitFor((l) => l === `devices/${idA}/ota for-a`);
      await new Promise((r) => setTimeout(r, 300));
      expect(subA.lines).toEqual([`devices/${idA}/ota for-a`]);
      expect(subB.lines).toEqual([`devices/${idB}/cmd for-b`]);
    } finally {
      await subA.stop();
      await subB.stop();
    }
    expect(
      metric(await metricsText(gw1), 'edgeseal_gateway_messages_dropped_total{reason="acl_receive"}'),
    ).toBeGreaterThanOrEqual(1);
  });

  it('an offline device gets its QoS 1 commands when it returns, even through the other gateway', async () => {
    const args = ['-c', '-q', '1', '-t', `devices/${idB}/cmd`];
    const first = mosquittoSub(gw2, root, deviceIdentity(b), idB, args);
    await untilSessions(gw2, 1);
    await new Promise((r) => setTimeout(r, 300));
    await first.stop();
    await untilSessions(gw2, 0);
    await new Promise((r) => setTimeout(r, 200));
    await backend.publish(`devices/${idB}/cmd`, 'while-away-1', 1);
    await backend.publish(`devices/${idB}/cmd`, 'while-away-2', 1);
    const back = mosquittoSub(gw1, root, deviceIdentity(b), idB, args);
    try {
      await back.waitFor((l) => l.endsWith('while-away-2'));
      expect(back.lines).toEqual([`devices/${idB}/cmd while-away-1`, `devices/${idB}/cmd while-away-2`]);
    } finally {
      await back.stop();
    }
    // clean the broker's persistent session for this id
    await mosquittoPub(gw1, root, deviceIdentity(b), idB, ['-t', `devices/${idB}/status`, '-m', 'bye']);
  });

  it("a device enrolled under a service's name cannot obtain the service's upstream session", async () => {
    const name = `sink-${run}`;
    const svc = await serviceIdentity(s, name);
    const namesake = await enrollDevice(s, name);
    // the backend, through gateway 1, keeps a persistent upstream session reading all telemetry
    const args = ['-c', '-q', '1', '-t', 'devices/+/telemetry'];
    const first = mosquittoSub(gw1, root, svc, `svc:${name}`, args);
    await untilSessions(gw1, 1);
    await new Promise((r) => setTimeout(r, 300));
    await first.stop();
    await untilSessions(gw1, 0);
    // the attacker, through gateway 2, under the service's name as its own device id
    const attacker = mosquittoSub(gw2, root, deviceIdentity(namesake), name, [
      '-c',
      '-q',
      '1',
      '-t',
      `devices/${name}/cmd`,
    ]);
    const body = jwe('up');
    try {
      await untilSessions(gw2, 1);
      await new Promise((r) => setTimeout(r, 300));
      const r = await mosquittoPub(gw1, root, deviceIdentity(a), idA, [
        '-t',
        `devices/${idA}/telemetry`,
        '-q',
        '1',
        '-m',
        body,
      ]);
      expect(r.status, r.out).toBe(0);
      await new Promise((r) => setTimeout(r, 500));
      expect(attacker.lines).toEqual([]);
    } finally {
      await attacker.stop();
    }
    // the service's upstream session kept the message for the service
    const back = mosquittoSub(gw2, root, svc, `svc:${name}`, args);
    try {
      await back.waitFor((l) => l === `devices/${idA}/telemetry ${body}`);
    } finally {
      await back.stop();
    }
    // clean the broker's persistent sessions of this run
    await mosquittoPub(gw1, root, svc, `svc:${name}`, ['-t', `devices/${idA}/cmd`, '-m', 'bye']);
    await mosquittoPub(gw1, root, deviceIdentity(namesake), name, [
      '-t',
      `devices/${name}/status`,
      '-m',
      'bye',
    ]);
  });

  it('revocation cuts the device on both gateways within a second', async () => {
    const subA = mosquittoSub(gw1, root, deviceIdentity(a), idA, ['-t', `devices/${idA}/cmd`]);
    const subB = mosquittoSub(gw2, root, deviceIdentity(b), idB, ['-t', `devices/${idB}/cmd`]);
    await untilSessions(gw1, 1);
    await untilSessions(gw2, 1);
    const t0 = Date.now();
    for (const id of [idA, idB]) {
      const r = await revokeVia(s, { device_id: id });
      expect(r.status).toBe(200);
    }
    await untilSessions(gw1, 0, 1000);
    await untilSessions(gw2, 0, 1000);
    expect(Date.now() - t0).toBeLessThan(1000);
    await subA.stop();
    await subB.stop();
    for (const g of [gw1, gw2]) {
      const r = await mosquittoPub(g, root, deviceIdentity(b), idB, [
        '-t',
        `devices/${idB}/status`,
        '-m',
        'x',
      ]);
      expect(r.out).toMatch(/not authori[sz]ed/i);
    }
  });
});
