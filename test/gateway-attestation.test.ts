// Gateway gating on attestation (issue 8, item 6), with mosquitto clients as devices: a device
// of a model with reference values is quarantined (status out, ota in, nothing else) until
// it attests affirming; deny-listing its firmware quarantines it again within 2 s, on the
// in-process gateway and on a lone gateway following the SSE attestation feed.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../gateway/config.ts';
import type { Gateway } from '../gateway/main.ts';
import { startGateway } from '../gateway/main.ts';
import { remoteControlLink } from '../gateway/revocation/remote-link.ts';
import {
  addFirmware,
  type AttestingDevice,
  attestingDevice,
  attestOnce,
  denyFirmware,
  sha256hex,
} from './helpers/attest.ts';
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
import { createToken, enrollDevice, startStack, type TestStack } from './helpers/stack.ts';

let s: TestStack;
let gw: Gateway;
let lone: Gateway;
let sec: string;
let root: string;
let backend: Identity;
const logLines: string[] = [];

beforeAll(async () => {
  s = await startStack();
  gw = await startTestGateway(s);
  root = rootOf(s);
  sec = await createToken(s, 'security-admin');
  backend = await serviceIdentity(s, 'ops');
  // a second gateway on its own, following the SSE feeds (its lease is not what this tests)
  const token = await createToken(s, 'gateway');
  const log = pino(
    { level: 'info' },
    {
      write: (l: string) => {
        logLines.push(l);
      },
    },
  );
  const link = remoteControlLink({ caUrl: s.cp.httpsUrl, token, rootPem: readFileSync(root, 'utf8'), log });
  lone = await startGateway(
    parseGatewayConfig({
      EDGESEAL_DATA_DIR: s.dir,
      EDGESEAL_GATEWAY_PORT: '0',
      EDGESEAL_GATEWAY_METRICS_PORT: '0',
    }),
    { ...link, lease: async () => {}, releaseLease: async () => {} },
    { log },
  );
}, 60_000);

afterAll(async () => {
  await lone?.close();
  await gw?.close();
  await s?.stop();
});

const pub = (g: Gateway, d: AttestingDevice, leaf: string, payload: string) =>
  mosquittoPub(g, root, deviceIdentity(d.enrolled), idOf(d), [
    '-V',
    'mqttv5',
    '-q',
    '1',
    '-t',
    `devices/${idOf(d)}/${leaf}`,
    '-m',
    payload,
  ]);
const idOf = (d: AttestingDevice) => names.get(d)!;
/** mosquitto_pub -V mqttv5 exits 0 even when the PUBACK refuses (it prints a warning) */
const accepted = (r: { status: number; out: string }) =>
  r.status === 0 && !/failed|not authori[sz]ed/i.test(r.out);
const names = new Map<AttestingDevice, string>();

async function enrolled(id: string): Promise<AttestingDevice> {
  const d = attestingDevice(s, await enrollDevice(s, id));
  names.set(d, id);
  return d;
}

async function waitFor(pred: () => boolean | Promise<boolean>, ms: number): Promise<number> {
  const t0 = Date.now();
  while (!(await pred())) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return Date.now() - t0;
}

describe('gateway: quarantine until attested', () => {
  it('a device of a model without reference values is not gated', async () => {
    const d = await enrolled('free-1');
    const r = await pub(gw, d, 'telemetry', jwe('{"t":1}'));
    expect(accepted(r), r.out).toBe(true);
  });

  it('quarantined: status goes out, telemetry and cmd do not; affirming: everything; deny-listed: quarantined again within 2 s', async () => {
    const fw = randomBytes(256);
    const sha = sha256hex(fw);
    await addFirmware(s, sec, { hardware_model: 'cam-v2', version: '2.0.0', svn: 2, sha256: sha });
    const d = await enrolled('q-1');
    // not attested yet: quarantined
    expect(accepted(await pub(gw, d, 'status', '{"state":"booting"}'))).toBe(true);
    const refused = await pub(gw, d, 'telemetry', jwe('{"t":2}'));
    expect(accepted(refused)).toBe(false);
    expect(refused.out).toMatch(/not authori[sz]ed/i);
    expect(metric(await metricsText(gw), 'edgeseal_gateway_denials_total{reason="quarantined"}')).toBe(1);
    // the device's own cmd subscription is refused while quarantined
    const cmdSub = mosquittoSub(gw, root, deviceIdentity(d.enrolled), 'q-1', [
      '-V',
      'mqttv5',
      '-t',
      'devices/q-1/cmd',
      '-q',
      '1',
    ]);
    const subOut = await cmdSub.exited.catch(() => ({ out: '' }));
    expect(subOut.out).toMatch(/not authori[sz]ed|refused|0x87|135|Subscription/i);

    // attests affirming: telemetry flows, a backend's command reaches it
    expect((await attestOnce(s, d, { firmware: sha })).status).toBe('affirming');
    await waitFor(async () => accepted(await pub(gw, d, 'telemetry', jwe('{"t":3}'))), 2000);
    const sink = mosquittoSub(gw, root, deviceIdentity(d.enrolled), 'q-1', [
      '-V',
      'mqttv5',
      '-t',
      'devices/q-1/cmd',
      '-q',
      '1',
    ]);
    try {
      await untilSessions(gw, 1);
      await new Promise((r) => setTimeout(r, 200));
      const sent = await mosquittoPub(gw, root, backend, 'svc:ops', [
        '-t',
        'devices/q-1/cmd',
        '-q',
        '1',
        '-m',
        'reboot',
      ]);
      expect(sent.status, sent.out).toBe(0);
      expect(await sink.waitFor((l) => l.startsWith('devices/q-1/cmd'))).toBe('devices/q-1/cmd reboot');

      // the firmware is deny-listed: the connected device is quarantined within 2 s
      const t0 = Date.now();
      expect(await denyFirmware(s, sec, sha)).toEqual(['q-1']);
      await waitFor(
        async () => metric(await metricsText(gw), 'edgeseal_gateway_quarantined_sessions') === 1,
        2000,
      );
      expect(Date.now() - t0).toBeLessThan(2000);
      // a command sent now is not delivered to it
      await mosquittoPub(gw, root, backend, 'svc:ops', ['-t', 'devices/q-1/cmd', '-q', '1', '-m', 'second']);
      await new Promise((r) => setTimeout(r, 500));
      expect(sink.lines.filter((l) => l.includes('second'))).toEqual([]);
      expect(metric(await metricsText(gw), 'edgeseal_gateway_quarantines_total')).toBeGreaterThanOrEqual(1);
    } finally {
      await sink.stop();
    }
    expect(accepted(await pub(gw, d, 'telemetry', jwe('{"t":4}')))).toBe(false);
  });

  it('a lone gateway on the SSE feed quarantines a deny-listed device within 2 s too', async () => {
    const fw = randomBytes(256);
    const sha = sha256hex(fw);
    await addFirmware(s, sec, { hardware_model: 'cam-v2', version: '2.1.0', svn: 2, sha256: sha });
    const d = await enrolled('q-2');
    expect((await attestOnce(s, d, { firmware: sha })).status).toBe('affirming');
    await waitFor(async () => accepted(await pub(lone, d, 'telemetry', jwe('{"t":5}'))), 2000);
    const sub = mosquittoSub(lone, root, deviceIdentity(d.enrolled), 'q-2', [
      '-V',
      'mqttv5',
      '-t',
      'devices/q-2/cmd',
    ]);
    try {
      await untilSessions(lone, 1);
      const t0 = Date.now();
      await denyFirmware(s, sec, sha);
      await waitFor(
        async () => metric(await metricsText(lone), 'edgeseal_gateway_quarantined_sessions') === 1,
        2000,
      );
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(
        logLines.some((l) => l.includes('"event":"quarantined"') && l.includes('"device_id":"q-2"')),
      ).toBe(true);
    } finally {
      await sub.stop();
    }
    expect(accepted(await pub(lone, d, 'telemetry', jwe('{"t":6}')))).toBe(false);
  });

  it('a contraindicated device (tampered firmware) stays quarantined', async () => {
    const d = await enrolled('q-3');
    const r = await attestOnce(s, d, { firmware: sha256hex('tampered image') });
    expect(r.status).toBe('contraindicated');
    await new Promise((r) => setTimeout(r, 200));
    expect(accepted(await pub(gw, d, 'telemetry', jwe('{"t":7}')))).toBe(false);
    expect(accepted(await pub(gw, d, 'status', '{"state":"contraindicated"}'))).toBe(true);
  });
});
