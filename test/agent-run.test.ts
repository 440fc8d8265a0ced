// `edgeseal agent run` as a device runs it: the real CLI as a process against a control plane
// and a gateway in this process. It connects with its certificate, publishes its status,
// renews its certificate when due and reconnects with the new one, attests, gets its key only
// when affirming, sends encrypted telemetry only then, logs one JSON line per event, and
// exits 0 on SIGTERM.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../gateway/main.ts';
import {
  type Identity,
  mosquittoPub,
  mosquittoSub,
  rootOf,
  type Sub,
  serviceIdentity,
  metric,
  metricsText,
  startTestGateway,
  untilSessions,
} from './helpers/mqtt.ts';
import { openssl, tmp } from './helpers/openssl.ts';
import { createBatch, createToken, revokeVia, startStack, type TestStack } from './helpers/stack.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'edgeseal.mjs');
const work = tmp();
const env = { ...process.env, EDGESEAL_DATA_DIR: tmp(), EDGESEAL_LOG_LEVEL: 'silent' };

type Line = Record<string, unknown> & { event: string };

interface AgentProcess {
  readonly proc: ChildProcess;
  readonly lines: Line[];
  /** stdout that was not a JSON object per line */
  readonly garbage: string[];
  raw(): string;
  waitFor(pred: (l: Line) => boolean, ms?: number, from?: number): Promise<Line>;
  events(name: string): Line[];
  stop(): Promise<number | null>;
}

function runAgent(state: string, args: string[]): AgentProcess {
  const proc = spawn('node', [BIN, 'agent', 'run', '--state', state, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Line[] = [];
  const garbage: string[] = [];
  let out = '';
  let err = '';
  let partial = '';
  const waiters = new Set<() => void>();
  proc.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
    const parts = (partial + b.toString()).split('\n');
    partial = parts.pop()!;
    for (const p of parts) {
      try {
        const v = JSON.parse(p) as Line;
        if (typeof v === 'object' && v !== null && !Array.isArray(v)) lines.push(v);
        else garbage.push(p);
      } catch {
        garbage.push(p);
      }
    }
    for (const w of waiters) w();
  });
  proc.stderr!.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return {
    proc,
    lines,
    garbage,
    raw: () => out + err,
    events: (name) => lines.filter((l) => l.event === name),
    waitFor(pred, ms = 20_000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = lines.slice(from).find(pred);
          if (hit) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(hit);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out; agent output so far:\n${out}\n${err}`));
        }, ms);
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)('node', [BIN, ...args], { env, encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

/** Provisions `id` with the CLI; its state directory and the provisioned certificate serial. */
async function provisionDevice(
  s: TestStack,
  gw: Gateway,
  batch: { id: string; secret: string },
  id: string,
  firmware: string,
): Promise<{ state: string; serial: string }> {
  const state = join(work, id);
  const r = await cli([
    'agent',
    'provision',
    '--state',
    state,
    '--est-url',
    `${s.cp.httpsUrl}/.well-known/est`,
    '--batch',
    batch.id,
    `--secret=${batch.secret}`,
    '--device-id',
    id,
    '--hardware-model',
    'cam-v2',
    '--firmware',
    firmware,
    '--ca-file',
    rootOf(s),
    '--gateway',
    `mqtts://localhost:${gw.port}`,
    '--json',
  ]);
  expect(r.code, r.stderr).toBe(0);
  return { state, serial: JSON.parse(r.stdout).cert_serial as string };
}

const serialOnDisk = (state: string) =>
  openssl(['x509', '-in', join(state, 'cert.pem'), '-noout', '-serial'])
    .trim()
    .split('=')[1]!
    .toLowerCase()
    .replace(/^0+/, '');
const noZeros = (s: unknown) => String(s).replace(/^0+/, '');

function firmwareFile(name: string, bytes: Buffer): string {
  const p = join(work, name);
  writeFileSync(p, bytes);
  return p;
}

describe('agent run: gateway session, status, renewal, commands, shutdown', () => {
  let s: TestStack;
  let gw: Gateway;
  let backend: Identity;
  let statusSub: Sub;
  let dev: { state: string; serial: string };
  let agent: AgentProcess;
  let batch: { id: string; secret: string };
  const id = `run-a-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    // 0.002 days (173 s) plus the CA's 5-minute backdate: due 2/3 through, ~15 s after issue
    s = await startStack({
      EDGESEAL_DEVICE_CERT_DAYS: '0.002',
      EDGESEAL_ATTESTATION_RESULT_TTL_SECONDS: '15',
    });
    gw = await startTestGateway(s);
    backend = await serviceIdentity(s, 'agent-watch');
    statusSub = mosquittoSub(gw, rootOf(s), backend, 'svc:agent-watch', [
      '-t',
      'devices/+/status',
      '-q',
      '1',
    ]);
    await untilSessions(gw, 1);
    batch = await createBatch(s, { hardware_model: 'cam-v2' });
    dev = await provisionDevice(s, gw, batch, id, firmwareFile('fw-a.bin', randomBytes(2048)));
    agent = runAgent(dev.state, []);
  }, 60_000);
  afterAll(async () => {
    await agent?.stop();
    await statusSub?.stop();
    await gw?.close();
    await s?.stop();
  });

  it('connects to the gateway with its certificate, subscribes to ota and cmd, publishes its status', async () => {
    const started = await agent.waitFor((l) => l.event === 'started');
    expect(noZeros(started.cert_serial)).toBe(noZeros(dev.serial));
    const connected = await agent.waitFor((l) => l.event === 'mqtt_connected');
    expect(noZeros(connected.cert_serial)).toBe(noZeros(dev.serial));
    await agent.waitFor((l) => l.event === 'subscribed' && l.topic === `devices/${id}/cmd`);
    expect(agent.events('subscribed').map((l) => l.topic)).toContain(`devices/${id}/ota`);
    await agent.waitFor((l) => l.event === 'status_sent');
    const line = await statusSub.waitFor((l) => l.startsWith(`devices/${id}/status `), 10_000);
    const status = JSON.parse(line.slice(line.indexOf(' ') + 1));
    expect(status).toMatchObject({ state: 'online', cert_serial: started.cert_serial });
    expect(status.firmware_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(gw.broker.openSessions).toBe(2); // the watcher and the device
  });

  it('renews its certificate when due (EST simplereenroll), stores it and reconnects with it', async () => {
    const renewed = await agent.waitFor((l) => l.event === 'renewed', 40_000);
    expect(noZeros(renewed.previous_serial)).toBe(noZeros(dev.serial));
    expect(renewed.cert_serial).not.toBe(renewed.previous_serial);
    expect(serialOnDisk(dev.state)).toBe(noZeros(renewed.cert_serial));
    const reconnected = await agent.waitFor(
      (l) => l.event === 'mqtt_connected' && l.cert_serial === renewed.cert_serial,
      15_000,
    );
    expect(reconnected.session_present).toBe(true); // same client id, persistent session
    await statusSub.waitFor((l) => l.includes(`"cert_serial":"${renewed.cert_serial}"`), 10_000);
    // The next renewal is authenticated by the renewed certificate: the CA refuses
    // re-enrollment by a superseded one, so this shows HTTPS switched to it too.
    const again = await agent.waitFor(
      (l) => l.event === 'renewed' && l.previous_serial === renewed.cert_serial,
      40_000,
    );
    expect(serialOnDisk(dev.state)).toBe(noZeros(again.cert_serial));
    expect(agent.events('renewal_refused')).toEqual([]);
  }, 90_000);

  it('takes {"type":"attest"} on its cmd topic and attests again', async () => {
    await agent.waitFor((l) => l.event === 'attested');
    const from = agent.lines.length;
    const pub = await mosquittoPub(gw, rootOf(s), backend, 'svc:agent-watch:cmd', [
      '-t',
      `devices/${id}/cmd`,
      '-m',
      '{"type":"attest"}',
      '-q',
      '1',
    ]);
    expect(pub.status, pub.out).toBe(0);
    await agent.waitFor((l) => l.event === 'cmd_received' && l.type === 'attest', 10_000, from);
    await agent.waitFor((l) => l.event === 'attested', 15_000, from);
  }, 30_000);

  it('logs one JSON object per line with time, level, event and device_id, and never the key', () => {
    expect(agent.garbage).toEqual([]);
    for (const l of agent.lines) {
      expect(Number.isNaN(Date.parse(String(l.time))), JSON.stringify(l)).toBe(false);
      expect(['info', 'warn', 'error']).toContain(l.level);
      expect(typeof l.event).toBe('string');
      expect(l.device_id).toBe(id);
    }
    const keyPem = readFileSync(join(dev.state, 'key.pem'), 'utf8');
    for (const line of keyPem.split('\n').slice(1, -2)) expect(agent.raw()).not.toContain(line);
  });

  it('SIGTERM: says it is stopping, leaves the gateway, exits 0', async () => {
    const code = await agent.stop();
    expect(code).toBe(0);
    expect(agent.events('stopping')).toHaveLength(1);
    expect(agent.events('stopped')).toHaveLength(1);
    await statusSub.waitFor((l) => l.includes('"state":"stopping"'), 5000);
    await untilSessions(gw, 1); // only the watcher is left
  }, 20_000);

  it('a revoked device: renewal and attestation refused (403), logged and retried with backoff, never a crash', async () => {
    const revokedId = `run-r-${randomBytes(3).toString('hex')}`;
    const r = await provisionDevice(s, gw, batch, revokedId, firmwareFile('fw-r.bin', randomBytes(2048)));
    const a = runAgent(r.state, []);
    try {
      await a.waitFor((l) => l.event === 'mqtt_connected');
      expect((await revokeVia(s, { device_id: revokedId })).status).toBe(200);
      const refused = await a.waitFor((l) => l.event === 'renewal_refused', 40_000);
      expect(refused).toMatchObject({ level: 'warn', status: 403, attempt: 1 });
      expect(String(refused.detail)).toMatch(/revoked/);
      const again = await a.waitFor((l) => l.event === 'renewal_refused' && l.attempt === 2, 5000);
      expect(Number(again.retry_in_ms)).toBeGreaterThan(Number(refused.retry_in_ms));
      await a.waitFor((l) => l.event === 'mqtt_disconnected', 5000); // the gateway cut the revoked session
      await a.waitFor((l) => l.event === 'mqtt_refused', 5000); // and refuses it since
      // the result lives 15 s, so it re-attests within 10 s: refused with the server's code
      const att = await a.waitFor((l) => l.event === 'attestation_refused', 20_000);
      expect(att).toMatchObject({ status: 403, code: 'ERR_CERT_REVOKED' });
      expect(a.proc.exitCode).toBeNull();
    } finally {
      expect(await a.stop()).toBe(0);
    }
  }, 60_000);
});

describe('agent run: attestation, key release, telemetry', () => {
  let s: TestStack;
  let gw: Gateway;
  let backend: Identity;
  let telemetrySub: Sub;
  let keyId: string;
  let good: AgentProcess;
  let bad: AgentProcess;
  let goodDev: { state: string; serial: string };
  const GOOD = randomBytes(4096);
  const goodId = `run-good-${randomBytes(3).toString('hex')}`;
  const badId = `run-bad-${randomBytes(3).toString('hex')}`;
  let goodFirmware: string;

  beforeAll(async () => {
    s = await startStack({ EDGESEAL_ATTESTATION_RESULT_TTL_SECONDS: '15' });
    gw = await startTestGateway(s);
    const sec = await createToken(s, 'security-admin');
    const sha = (await import('node:crypto')).createHash('sha256').update(GOOD).digest('hex');
    const add = await s.api('/v1/firmware', {
      method: 'POST',
      token: sec,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ hardware_model: 'cam-v2', version: '1.0.0', svn: 1, sha256: sha }),
    });
    expect(add.status, await add.clone().text()).toBe(201);
    const k = await s.api('/v1/keys', {
      method: 'POST',
      token: await createToken(s, 'release-manager'),
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ label: 'agent test key', hardware_models: ['cam-v2'] }),
    });
    expect(k.status).toBe(201);
    keyId = ((await k.json()) as { id: string }).id;
    backend = await serviceIdentity(s, 'agent-telemetry');
    telemetrySub = mosquittoSub(gw, rootOf(s), backend, 'svc:agent-telemetry', [
      '-t',
      'devices/+/telemetry',
      '-q',
      '1',
    ]);
    await untilSessions(gw, 1);
    const batch = await createBatch(s, { hardware_model: 'cam-v2' });
    goodFirmware = firmwareFile('fw-good.bin', GOOD);
    goodDev = await provisionDevice(s, gw, batch, goodId, goodFirmware);
    const badDev = await provisionDevice(
      s,
      gw,
      batch,
      badId,
      firmwareFile('fw-tampered.bin', randomBytes(4096)),
    );
    good = runAgent(goodDev.state, ['--key-id', keyId, '--telemetry-interval', '1']);
    bad = runAgent(badDev.state, ['--key-id', keyId, '--telemetry-interval', '1']);
  }, 90_000);
  afterAll(async () => {
    await good?.stop();
    await bad?.stop();
    await telemetrySub?.stop();
    await gw?.close();
    await s?.stop();
  });

  it('good firmware attests affirming and the key is released to its wrapping key', async () => {
    const started = await good.waitFor((l) => l.event === 'started');
    const attested = await good.waitFor((l) => l.event === 'attested', 30_000);
    expect(attested).toMatchObject({ status: 'affirming', reasons: [], wrapping_kid: started.wrapping_kid });
    const released = await good.waitFor((l) => l.event === 'key_released', 15_000);
    expect(released).toMatchObject({ key_id: keyId, kid: started.wrapping_kid });
    expect(good.raw()).not.toContain('"jwe"');
    expect(good.raw()).not.toMatch(/"result":"ey/);
  }, 60_000);

  it('sends telemetry only while affirming: a JWE to the fleet telemetry key', async () => {
    const sent = await good.waitFor((l) => l.event === 'telemetry_sent', 20_000);
    const tk = (await (await s.api('/v1/telemetry-key')).json()) as { kid: string };
    expect(sent.kid).toBe(tk.kid);
    const line = await telemetrySub.waitFor((l) => l.startsWith(`devices/${goodId}/telemetry `), 10_000);
    const jwe = line.slice(line.indexOf(' ') + 1).trim();
    expect(jwe.split('.')).toHaveLength(5);
    const header = JSON.parse(Buffer.from(jwe.split('.')[0]!, 'base64url').toString());
    expect(header).toMatchObject({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: tk.kid });
  }, 40_000);

  it('re-attests before its result runs out (at 2/3 of its remaining life)', async () => {
    const first = good.events('attested')[0]!;
    const next = await good.waitFor((l) => l.event === 'attested' && l !== first, 20_000);
    expect(Date.parse(String(next.time))).toBeLessThan(Date.parse(String(first.expires_at)));
  }, 30_000);

  it('tampered firmware is not affirming: no key, no telemetry', async () => {
    const attested = await bad.waitFor((l) => l.event === 'attested', 30_000);
    expect(attested.status).not.toBe('affirming');
    expect(attested.reasons).toContain('FirmwareUnknown');
    await new Promise((r) => setTimeout(r, 2000));
    expect(bad.events('key_released')).toEqual([]);
    expect(bad.events('telemetry_sent')).toEqual([]);
    expect(telemetrySub.lines.some((l) => l.startsWith(`devices/${badId}/`))).toBe(false);
  }, 40_000);

  it('quarantined at the gateway while not affirming: cmd refused, ota granted, status still published', async () => {
    const refused = await bad.waitFor(
      (l) => l.event === 'subscribe_refused' && l.topic === `devices/${badId}/cmd`,
      20_000,
    );
    expect(Number(refused.reason_code)).toBeGreaterThanOrEqual(0x80);
    expect(bad.events('subscribed').map((l) => l.topic)).toContain(`devices/${badId}/ota`);
    expect(bad.events('status_sent').length).toBeGreaterThan(0);
    expect(bad.events('status_refused')).toEqual([]);
  }, 30_000);

  it('an affirming device ends up subscribed to cmd (a refusal before its result reached the gateway is retried)', async () => {
    const affirming = good.events('attested').find((l) => l.status === 'affirming')!;
    expect(affirming).toBeDefined();
    const sub = await good.waitFor(
      (l) => l.event === 'subscribed' && l.topic === `devices/${goodId}/cmd`,
      20_000,
    );
    const refusedBefore = good.events('subscribe_refused');
    if (refusedBefore.length) expect(good.lines.indexOf(sub)).toBeGreaterThan(good.lines.indexOf(affirming));
  }, 30_000);

  it("deny-listing an affirming agent's firmware quarantines it at the gateway within 2 s; its telemetry is refused, and at its next attestation it is contraindicated and drops its key", async () => {
    const image = randomBytes(4096);
    const sha = (await import('node:crypto')).createHash('sha256').update(image).digest('hex');
    const sec = await createToken(s, 'security-admin');
    const add = await s.api('/v1/firmware', {
      method: 'POST',
      token: sec,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ hardware_model: 'cam-v2', version: '1.1.0', svn: 1, sha256: sha }),
    });
    expect(add.status).toBe(201);
    const id = `run-deny-${randomBytes(3).toString('hex')}`;
    const dev = await provisionDevice(
      s,
      gw,
      await createBatch(s, { hardware_model: 'cam-v2' }),
      id,
      firmwareFile('fw-deny.bin', image),
    );
    const agent = runAgent(dev.state, ['--key-id', keyId, '--telemetry-interval', '1']);
    try {
      await agent.waitFor((l) => l.event === 'key_released', 20_000);
      await agent.waitFor((l) => l.event === 'subscribed' && l.topic === `devices/${id}/cmd`, 20_000);
      await agent.waitFor((l) => l.event === 'telemetry_sent', 20_000);
      const quarantined = async () => metric(await metricsText(gw), 'edgeseal_gateway_quarantined_sessions');
      const before = await quarantined();
      const t0 = Date.now();
      const deny = await s.api('/v1/firmware/deny', {
        method: 'POST',
        token: sec,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sha256: sha, reason: 'test: a bad build' }),
      });
      expect(deny.status).toBe(200);
      while ((await quarantined()) !== before + 1) {
        expect(Date.now() - t0, 'quarantined within 2 s').toBeLessThan(2000);
        await new Promise((r) => setTimeout(r, 25));
      }
      const from = agent.lines.length;
      // its telemetry is refused now (MQTT 5 PUBACK 0x87)
      const refused = await agent.waitFor((l) => l.event === 'telemetry_refused', 10_000, from);
      expect(Number(refused.reason_code)).toBe(0x87);
      // a quarantined device gets no cmd; it learns at its own next attestation (at 2/3 of the
      // 15 s result life here)
      const attested = await agent.waitFor(
        (l) => l.event === 'attested' && l.status !== 'affirming',
        20_000,
        from,
      );
      expect(attested.reasons).toContain('FirmwareDenied');
      const dropped = await agent.waitFor((l) => l.event === 'key_dropped', 5000, from);
      expect(dropped.key_ids).toEqual([keyId]);
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  }, 60_000);

  it('measures the firmware again at every attestation: a changed image drops the key', async () => {
    writeFileSync(goodFirmware, randomBytes(4096)); // the image on the device changes
    const from = good.lines.length;
    const pub = await mosquittoPub(gw, rootOf(s), backend, 'svc:agent-telemetry:cmd', [
      '-t',
      `devices/${goodId}/cmd`,
      '-m',
      '{"type":"attest"}',
      '-q',
      '1',
    ]);
    expect(pub.status, pub.out).toBe(0);
    const attested = await good.waitFor(
      (l) => l.event === 'attested' && l.status !== 'affirming',
      20_000,
      from,
    );
    expect(attested.reasons).toContain('FirmwareUnknown');
    const dropped = await good.waitFor((l) => l.event === 'key_dropped', 5000, from);
    expect(dropped.key_ids).toEqual([keyId]);
  }, 30_000);

  it('both exit 0 on SIGTERM', async () => {
    expect(await good.stop()).toBe(0);
    expect(await bad.stop()).toBe(0);
  }, 20_000);
});
