// A session belongs to one identity: the attacks of issue 7 item 2, with real mosquitto
// clients. Devices and services once shared the client-id namespace and a persistent session
// kept the principal that made it, so a device enrolled under a service's name resumed the
// service's session (and read the fleet's telemetry), a device squatted a service's client
// id, and a service `gw` took over device `gw-a`. Now a service's client id is
// `svc:<name>[:<worker>]`, which no device id can be, and a session is bound to its identity.
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
import { makeCsr, makeKey, tmp } from './helpers/openssl.ts';
import {
  createBatch,
  enrollDevice,
  type EnrolledDevice,
  estSimpleEnroll,
  startStack,
  type TestStack,
} from './helpers/stack.ts';

let s: TestStack;
let gw: Gateway;
let root: string;
let sinkSvc: Identity; // service "ops-sink": reads every device's telemetry
let gwSvc: Identity; // service "gw": writes commands
let namesake: EnrolledDevice; // a device enrolled as "ops-sink", the service's name
let gwA: EnrolledDevice; // device "gw-a": prefix-matched by service "gw" in the old rules
let cam: EnrolledDevice; // an ordinary device whose telemetry the attacker wants

beforeAll(async () => {
  s = await startStack();
  gw = await startTestGateway(s);
  root = rootOf(s);
  sinkSvc = await serviceIdentity(s, 'ops-sink');
  gwSvc = await serviceIdentity(s, 'gw');
  const anyBatch = await createBatch(s); // any batch credential will do
  namesake = await enrollDevice(s, 'ops-sink', anyBatch);
  gwA = await enrollDevice(s, 'gw-a', anyBatch);
  cam = await enrollDevice(s, 'cam-s1', anyBatch);
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await s?.stop();
});

const refusals = async (reason: string) =>
  metric(await metricsText(gw), `edgeseal_gateway_refusals_total{reason="${reason}"}`);
const settle = (ms = 250) => new Promise((r) => setTimeout(r, ms));

async function telemetryFrom(d: EnrolledDevice, id: string, text: string): Promise<string> {
  const body = jwe(text);
  const r = await mosquittoPub(gw, root, deviceIdentity(d), id, [
    '-t',
    `devices/${id}/telemetry`,
    '-q',
    '1',
    '-m',
    body,
  ]);
  expect(r.status, r.out).toBe(0);
  return body;
}

describe("gateway sessions: one identity's session is never another's", () => {
  it("a device enrolled under a service's name gets its own fresh session, and none of the fleet's telemetry", async () => {
    // the backend keeps a persistent session reading all telemetry, then goes away
    const args = ['-c', '-q', '1', '-t', 'devices/+/telemetry'];
    const first = mosquittoSub(gw, root, sinkSvc, 'svc:ops-sink', args);
    await untilSessions(gw, 1);
    await settle();
    await first.stop();
    await untilSessions(gw, 0);
    // the attacker: a device whose id is the service's name, asking for a persistent session
    const attacker = mosquittoSub(gw, root, deviceIdentity(namesake), 'ops-sink', [
      '-c',
      '-q',
      '1',
      '-t',
      'devices/ops-sink/cmd',
    ]);
    let body: string;
    try {
      await untilSessions(gw, 1);
      await settle();
      body = await telemetryFrom(cam, 'cam-s1', '{"t":1}');
      await settle(500);
      expect(attacker.lines).toEqual([]); // nothing of the fleet's telemetry
      expect(attacker.proc.exitCode).toBeNull(); // and it was admitted: it just has its own session
    } finally {
      await attacker.stop();
    }
    // the service's session was neither taken nor emptied: what came while it was away waits for it
    const back = mosquittoSub(gw, root, sinkSvc, 'svc:ops-sink', args);
    try {
      expect(await back.waitFor((l) => l.startsWith('devices/cam-s1/telemetry '))).toBe(
        `devices/cam-s1/telemetry ${body}`,
      );
    } finally {
      await back.stop();
    }
    // clean the service's persistent session for the next tests
    await mosquittoPub(gw, root, sinkSvc, 'svc:ops-sink', ['-t', 'devices/x/cmd', '-m', 'x']);
  });

  it("a device cannot enroll under, nor connect with, a service's client id", async () => {
    // at enrollment: ':' is outside the device-id alphabet, so `svc:…` is refused (EST, curl)
    const key = makeKey('ec-p256', tmp());
    const r = await estSimpleEnroll(s, await createBatch(s), makeCsr(key, '/CN=svc:ops-sink'));
    expect(r.status).toBe(400);
    expect(r.body.toString()).toMatch(/device id/);
    // at CONNECT: a device squatting the backend's client id is refused, 3.1.1 and 5
    const before = await refusals('client_id_mismatch');
    for (const clientId of ['svc:ops-sink', 'svc:ops-sink:w1', 'svc:cam-s1']) {
      const v311 = await mosquittoPub(gw, root, deviceIdentity(cam), clientId, ['-t', 'x', '-m', 'x']);
      expect(v311.status, clientId).not.toBe(0);
      expect(v311.out, clientId).toMatch(/identifier rejected/i);
      const v5 = await mosquittoPub(gw, root, deviceIdentity(cam), clientId, [
        '-V',
        'mqttv5',
        '-t',
        'x',
        '-m',
        'x',
      ]);
      expect(v5.out, clientId).toMatch(/client identifier not valid/i); // CONNACK 0x85
    }
    expect(await refusals('client_id_mismatch')).toBe(before + 6);
    // so the backend is not starved: it connects under its client id and receives telemetry
    const sink = mosquittoSub(gw, root, sinkSvc, 'svc:ops-sink', ['-q', '1', '-t', 'devices/+/telemetry']);
    try {
      await untilSessions(gw, 1);
      await settle();
      const body = await telemetryFrom(cam, 'cam-s1', '{"t":2}');
      await sink.waitFor((l) => l === `devices/cam-s1/telemetry ${body}`);
    } finally {
      await sink.stop();
    }
  });

  it("a service cannot take over a device's client id, use the old <name>-x form, or read a device's cmd", async () => {
    // device gw-a keeps a persistent session for its commands, and is away
    const args = ['-c', '-q', '1', '-t', 'devices/gw-a/cmd'];
    const first = mosquittoSub(gw, root, deviceIdentity(gwA), 'gw-a', args);
    await untilSessions(gw, 1);
    await settle();
    await first.stop();
    await untilSessions(gw, 0);
    const sent = await mosquittoPub(gw, root, gwSvc, 'svc:gw', [
      '-t',
      'devices/gw-a/cmd',
      '-q',
      '1',
      '-m',
      'c1',
    ]);
    expect(sent.status, sent.out).toBe(0);
    // the service `gw` tries the device's client id and the forms the old rules let it use
    for (const clientId of ['gw-a', 'gw', 'gw-x']) {
      const sub = mosquittoSub(gw, root, gwSvc, clientId, ['-c', '-q', '1', '-t', 'devices/gw-a/cmd']);
      const end = await Promise.race([sub.exited, settle(4000).then(() => undefined)]);
      await sub.stop();
      expect(end?.out, clientId).toMatch(/identifier rejected/i);
    }
    // under its own client id it may not subscribe to the device's cmd (SUBACK failure)
    const snoop = mosquittoSub(gw, root, gwSvc, 'svc:gw', ['-q', '1', '-t', 'devices/gw-a/cmd']);
    const end = await Promise.race([snoop.exited, settle(4000).then(() => undefined)]);
    await snoop.stop();
    expect(end?.out).toMatch(/denied/i);
    // the device comes back to its own session, its command still there
    const back = mosquittoSub(gw, root, deviceIdentity(gwA), 'gw-a', args);
    try {
      await back.waitFor((l) => l === 'devices/gw-a/cmd c1');
      expect(back.lines).toEqual(['devices/gw-a/cmd c1']);
    } finally {
      await back.stop();
    }
  });

  it('a service may run several workers under svc:<name>:<worker>, each its own session', async () => {
    const w1 = mosquittoSub(gw, root, sinkSvc, 'svc:ops-sink:w1', ['-q', '1', '-t', 'devices/+/telemetry']);
    const w2 = mosquittoSub(gw, root, sinkSvc, 'svc:ops-sink:w2', ['-q', '1', '-t', 'devices/+/status']);
    try {
      await untilSessions(gw, 2);
      await settle();
      const body = await telemetryFrom(cam, 'cam-s1', '{"t":3}');
      await w1.waitFor((l) => l === `devices/cam-s1/telemetry ${body}`);
      expect(w2.lines).toEqual([]);
      expect(w2.proc.exitCode).toBeNull();
    } finally {
      await w1.stop();
      await w2.stop();
    }
  });
});
