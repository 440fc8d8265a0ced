// A gateway on its own (`edgeseal up gateway`): it gets its server certificate and the
// revocation feed from the control plane's HTTPS API with a gateway token, cuts revoked
// sessions from the SSE feed, and applies its policy when the control plane goes away.
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../gateway/config.ts';
import { type Gateway, startGateway } from '../gateway/main.ts';
import { remoteControlLink } from '../gateway/revocation/remote-link.ts';
import {
  deviceIdentity,
  metric,
  metricsText,
  mosquittoPub,
  mosquittoSub,
  rootOf,
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

let s: TestStack;
let root: string;
let dev: EnrolledDevice;
let gatewayToken: string;
const gateways: Gateway[] = [];
const logLines: string[] = [];

function start(policy: 'fail-closed' | 'fail-open'): Promise<Gateway> {
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _enc, cb) {
        logLines.push(chunk.toString());
        cb();
      },
    }),
  );
  const config = parseGatewayConfig({
    EDGESEAL_DATA_DIR: s.dir,
    EDGESEAL_GATEWAY_PORT: '0',
    EDGESEAL_GATEWAY_METRICS_PORT: '0',
    EDGESEAL_GATEWAY_REVOCATION_POLICY: policy,
    EDGESEAL_GATEWAY_REVOCATION_GRACE_SECONDS: '0',
  });
  const link = remoteControlLink({
    caUrl: s.cp.httpsUrl,
    token: gatewayToken,
    rootPem: readFileSync(root, 'utf8'),
    log,
  });
  // Several local-broker gateways on one control plane would be refused their lease (issue 7
  // item 12, tested in cli.test.ts); these tests are about the revocation feed, so each
  // gateway here leases nothing.
  const unleased = { ...link, lease: async () => {}, releaseLease: async () => {} };
  return startGateway(config, unleased, { log }).then((g) => {
    gateways.push(g);
    return g;
  });
}

beforeAll(async () => {
  s = await startStack();
  root = rootOf(s);
  dev = await enrollDevice(s, 'cam-s1');
  gatewayToken = await createToken(s, 'gateway');
}, 60_000);

afterAll(async () => {
  for (const g of gateways) await g.close();
  await s?.stop();
});

describe('a gateway on its own, over the control plane API', () => {
  it('refuses to start with a token that is not a gateway token', async () => {
    const auditor = await createToken(s, 'auditor');
    const config = parseGatewayConfig({
      EDGESEAL_DATA_DIR: s.dir,
      EDGESEAL_GATEWAY_PORT: '0',
      EDGESEAL_GATEWAY_METRICS_PORT: '0',
    });
    const link = remoteControlLink({
      caUrl: s.cp.httpsUrl,
      token: auditor,
      rootPem: readFileSync(root, 'utf8'),
      log: pino({ level: 'silent' }),
    });
    await expect(startGateway(config, link, { log: pino({ level: 'silent' }) })).rejects.toThrow(
      /403|may not/,
    );
  });

  it('presents a certificate from the CA, admits a device and cuts it within a second of revocation (SSE feed)', async () => {
    const gw = await start('fail-closed');
    const other = await enrollDevice(s, 'cam-s2');
    const ok = await mosquittoPub(gw, root, deviceIdentity(other), 'cam-s2', [
      '-t',
      'devices/cam-s2/status',
      '-m',
      'up',
    ]);
    expect(ok.status, ok.out).toBe(0); // mosquitto_pub verified the gateway's certificate with the root alone
    const sub = mosquittoSub(gw, root, deviceIdentity(dev), 'cam-s1', ['-t', 'devices/cam-s1/cmd']);
    await untilSessions(gw, 1);
    const t0 = Date.now();
    const r = await revokeVia(s, { serial: dev.serial, reason: 'keyCompromise' });
    expect(r.status).toBe(200);
    await untilSessions(gw, 0, 1000);
    expect(Date.now() - t0).toBeLessThan(1000);
    await sub.stop();
    const again = await mosquittoPub(gw, root, deviceIdentity(dev), 'cam-s1', [
      '-t',
      'devices/cam-s1/status',
      '-m',
      'x',
    ]);
    expect(again.out).toMatch(/not authori[sz]ed/i);
    expect(metric(await metricsText(gw), 'edgeseal_gateway_revocation_disconnects_total')).toBe(1);
    // one JSON line per session, with the fixed keys of STYLE.md
    const session = logLines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.event === 'session' && l.device_id === 'cam-s1');
    expect(session).toMatchObject({ cert_serial: dev.serial, client_id: 'cam-s1', close_reason: 'revoked' });
    expect(typeof session!.duration_ms).toBe('number');
  });

  it('a second gateway started later learns earlier revocations from the feed replay', async () => {
    const gw = await start('fail-closed');
    const r = await mosquittoPub(gw, root, deviceIdentity(dev), 'cam-s1', [
      '-t',
      'devices/cam-s1/status',
      '-m',
      'x',
    ]);
    expect(r.out).toMatch(/not authori[sz]ed/i);
    expect(gw.revocation.size).toBeGreaterThanOrEqual(1);
  });

  it('when the control plane is gone: fail-closed refuses new devices (server unavailable), fail-open admits and says so', async () => {
    const closed = gateways[1]!;
    const open = await start('fail-open');
    const fresh = await enrollDevice(s, 'cam-s3');
    await s.cp.close(); // the control plane goes away; the feeds drop
    const end = Date.now() + 3000;
    while ((closed.revocation.connected || open.revocation.connected) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const refused = await mosquittoPub(closed, root, deviceIdentity(fresh), 'cam-s3', [
      '-t',
      'devices/cam-s3/status',
      '-m',
      'x',
    ]);
    expect(refused.status).not.toBe(0);
    expect(refused.out).toMatch(/unavailable/i);
    expect(
      metric(await metricsText(closed), 'edgeseal_gateway_refusals_total{reason="revocation_state_unknown"}'),
    ).toBe(1);
    const health = await fetch(`${closed.metricsUrl}/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({
      status: 'degraded',
      revocation_feed: 'stale',
      revocation_policy: 'fail-closed',
    });

    const admitted = await mosquittoPub(open, root, deviceIdentity(fresh), 'cam-s3', [
      '-t',
      'devices/cam-s3/status',
      '-m',
      'x',
    ]);
    expect(admitted.status, admitted.out).toBe(0);
    // the revoked device stays out on the last known list
    const revoked = await mosquittoPub(open, root, deviceIdentity(dev), 'cam-s1', [
      '-t',
      'devices/cam-s1/status',
      '-m',
      'x',
    ]);
    expect(revoked.out).toMatch(/not authori[sz]ed/i);
    const logged = logLines.map((l) => JSON.parse(l) as { msg: string; policy?: string });
    expect(logged.some((l) => l.msg.includes('revocation feed lost') && l.policy === 'fail-closed')).toBe(
      true,
    );
    expect(logged.some((l) => l.msg.includes('fail-open') && l.policy === 'fail-open')).toBe(true);
  });
});
