// Telemetry end to end with the gateway gone in the middle: a real agent infers and makes its
// telemetry (JWE) into its durable outbox while the gateway is stopped, is itself restarted
// meanwhile, and when the gateway is back on the same port sends everything in order, each
// message deleted only after its PUBACK. The backend — a service subscriber (svc:…) with a
// persistent session, through the gateway — sees every message id the agent made, in order,
// exactly once after de-duplication by message_id, and the outbox is empty at the end. A
// full outbox drops the oldest and says how many.
//
// The gateway bridges to a broker of this test's own (Mosquitto) as several gateways of a
// fleet do: the backend's persistent session lives there and outlives the gateway restart.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { compactDecrypt, type JWK } from 'jose';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { Outbox } from '../device-agent/telemetry/outbox.ts';
import { telemetryMessages } from '../migrations/schema/index.ts';
import type { Gateway } from '../gateway/main.ts';
import { newPackageId, packageModel, releaseKeyId, wrapContentKey } from '../lib/model-package/index.ts';
import { addFirmware } from './helpers/attest.ts';
import { rootOf, serviceIdentity, startTestGateway } from './helpers/mqtt.ts';
import { tmp } from './helpers/openssl.ts';
import { createBatch, createToken, startStack, type TestStack } from './helpers/stack.ts';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'edgeseal.mjs');
const MOSQUITTO = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => {
  try {
    readFileSync(p);
    return true;
  } catch {
    return false;
  }
});
const work = tmp();
const env = { ...process.env, EDGESEAL_DATA_DIR: tmp(), EDGESEAL_LOG_LEVEL: 'silent' };
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Line = Record<string, unknown> & { event: string };

interface AgentProcess {
  readonly lines: Line[];
  waitFor(pred: (l: Line) => boolean, ms?: number, from?: number): Promise<Line>;
  events(name: string): Line[];
  stop(): Promise<number | null>;
}

let agentEntry: string;

/** The agent compiled ahead, as a device runs it (see agent-model.test.ts). */
async function buildAgent(): Promise<string> {
  const { build } = await import('esbuild');
  const dir = join(work, 'agent-build');
  mkdirSync(join(dir, 'device-agent'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  const out = join(dir, 'device-agent', 'run-main.mjs');
  await build({
    entryPoints: [join(ROOT, 'device-agent', 'run-main.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile: out,
    logLevel: 'silent',
  });
  return out;
}

function runAgent(state: string, args: string[]): AgentProcess {
  const proc: ChildProcess = spawn('node', [agentEntry, '--state', state, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Line[] = [];
  let out = '';
  let partial = '';
  const waiters = new Set<() => void>();
  proc.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
    const parts = (partial + b.toString()).split('\n');
    partial = parts.pop()!;
    for (const p of parts) lines.push(JSON.parse(p) as Line);
    for (const w of waiters) w();
  });
  proc.stderr!.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return {
    lines,
    events: (name) => lines.filter((l) => l.event === name),
    waitFor(pred, ms = 30_000, from = 0) {
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
          reject(new Error(`timed out; agent output so far:\n${out}`));
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

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function untilListening(port: number, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const c = connect(port, '127.0.0.1');
      c.on('connect', () => {
        c.destroy();
        r(true);
      });
      c.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on ${port}`);
    await sleep(50);
  }
}

describe('telemetry with the gateway stopped and restarted', () => {
  let s: TestStack;
  let gw: Gateway;
  let gwPort: number;
  let upstream: string;
  let broker: ChildProcess;
  let backend: MqttClient;
  const received: { topic: string; jwe: string }[] = [];
  let signer: KeyObject;
  const HW = 'cam-tl';

  const gateway = () =>
    startTestGateway(s, { EDGESEAL_GATEWAY_PORT: String(gwPort), MQTT_UPSTREAM_URL: upstream });

  async function device(id: string, gatewayUrl: string): Promise<string> {
    const image = randomBytes(4096);
    const firmware = join(work, `${id}.fw`);
    writeFileSync(firmware, image);
    await addFirmware(s, await createToken(s, 'security-admin'), {
      hardware_model: HW,
      version: '1.0.0',
      svn: 1,
      sha256: sha256(image),
    });
    const batch = await createBatch(s, { hardware_model: HW });
    const state = join(work, id);
    const { stderr } = await promisify(execFile)(
      'node',
      [
        BIN,
        'agent',
        'provision',
        '--state',
        state,
        '--est-url',
        `${s.cp.httpsUrl}/.well-known/est`,
        '--batch',
        batch.id,
        `--secret=${batch.secret}`, // = : a secret may start with '-'
        '--device-id',
        id,
        '--hardware-model',
        HW,
        '--firmware',
        firmware,
        '--ca-file',
        rootOf(s),
        '--gateway',
        gatewayUrl,
      ],
      { env, encoding: 'utf8' },
    );
    expect(stderr).toBe('');
    return state;
  }

  /** message ids, in arrival order, of what the backend received from `deviceId` (decrypted). */
  async function receivedIds(deviceId: string): Promise<string[]> {
    const ids: string[] = [];
    for (const r of received.filter((x) => x.topic === `devices/${deviceId}/telemetry`)) {
      const { plaintext } = await compactDecrypt(r.jwe, s.cp.boot.telemetryKey.key);
      const body = JSON.parse(Buffer.from(plaintext).toString()) as { message_id: string; device_id: string };
      expect(body.device_id).toBe(deviceId);
      ids.push(body.message_id);
    }
    return ids;
  }

  beforeAll(async () => {
    if (!MOSQUITTO)
      throw new Error('these tests run a Mosquitto broker of their own: apt-get install mosquitto');
    agentEntry = await buildAgent();
    const mport = await freePort();
    const conf = join(work, 'mosquitto.conf');
    writeFileSync(
      conf,
      `listener ${mport} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 10000\n`,
    );
    broker = spawn(MOSQUITTO!, ['-c', conf], { stdio: 'ignore' });
    await untilListening(mport);
    upstream = `mqtt://127.0.0.1:${mport}`;
    s = await startStack({ EDGESEAL_ATTESTATION_RESULT_TTL_SECONDS: '60' });
    gwPort = await freePort();
    gw = await gateway();
    // a model to infer with
    signer = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const rk = await s.api('/v1/release-keys', {
      method: 'POST',
      token: s.adminToken,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ public_key: signer.export({ format: 'jwk' }) }),
    });
    expect(rk.status).toBe(201);
    expect(((await rk.json()) as { kid: string }).kid).toBe(releaseKeyId(signer));
    const serviceJwk = ((await (await s.api('/v1/key-service-key')).json()) as { jwk: JWK }).jwk;
    const id = newPackageId();
    const contentKey = randomBytes(32);
    const pkg = await packageModel({
      plaintext: readFileSync(join(ROOT, 'ml', 'models', 'vibration.onnx')),
      contentKey,
      releaseKey: signer,
      packageId: id,
      keyEnvelope: await wrapContentKey(contentKey, serviceJwk, id),
      manifest: {
        model_id: 'vibration-tl',
        version: '1.0.0',
        release_counter: 1,
        hardware_models: [HW],
        content_key_id: `ck_${id}`,
        io: { inputs: [], outputs: [] },
        drift: {},
      },
    });
    const pub = await s.api('/v1/releases', {
      method: 'POST',
      token: await createToken(s, 'release-manager'),
      headers: { 'content-type': 'application/octet-stream' },
      body: pkg,
    });
    expect(pub.status, await pub.clone().text()).toBe(201);
    // the backend: a service identity, persistent session, through the gateway
    const svc = await serviceIdentity(s, 'telemetry-backend');
    backend = mqtt.connect({
      protocol: 'mqtts',
      host: 'localhost',
      port: gwPort,
      key: readFileSync(svc.keyPath),
      cert: readFileSync(svc.certPath),
      ca: readFileSync(rootOf(s)),
      clientId: 'svc:telemetry-backend',
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: 250,
    });
    backend.on('message', (topic, payload) => received.push({ topic, jwe: payload.toString().trim() }));
    backend.on('error', () => {});
    await new Promise<void>((r) => backend.once('connect', () => r()));
    await backend.subscribeAsync('devices/+/telemetry', { qos: 1 });
    // and the control plane's own consumer, which stores what it reads
    s.cp.telemetry.startConsumer(`mqtts://localhost:${gwPort}`);
    for (let t = Date.now(); !s.cp.telemetry.status().connected; await sleep(100))
      expect(Date.now() - t, 'consumer connected').toBeLessThan(15_000);
  }, 90_000);

  afterAll(async () => {
    await s?.cp.telemetry.close();
    await backend?.endAsync(true).catch(() => undefined);
    await gw?.close();
    await s?.stop();
    broker?.kill('SIGTERM');
  });

  it('every message the agent made reaches the backend in order, once after de-duplication, and the control plane stores each exactly once; the agent restarted meanwhile; the outbox ends empty', async () => {
    const id = `tl-${randomBytes(3).toString('hex')}`;
    const state = await device(id, `mqtts://localhost:${gwPort}`);
    const args = ['--sensor', 'bearing_wear', '--window-interval', '0.1', '--telemetry-interval', '1'];
    let agent = runAgent(state, args);
    const queued: string[] = [];
    const all: AgentProcess[] = [agent];
    try {
      await agent.waitFor((l) => l.event === 'model_loaded', 60_000);
      await agent.waitFor(
        (l) => l.event === 'telemetry_sent' && agent.events('telemetry_sent').length >= 3,
        30_000,
      );

      // the gateway goes away
      const down = agent.lines.length;
      await gw.close();
      await agent.waitFor((l) => l.event === 'mqtt_disconnected', 10_000, down);
      // it keeps inferring and queueing: the outbox grows
      await agent.waitFor(
        (l) => l.event === 'telemetry_queued' && Number(l.pending) >= 5 && Number(l.windows) > 0,
        20_000,
        down,
      );
      const whileDown = agent.lines.slice(down).filter((l) => l.event === 'telemetry_queued');
      expect(whileDown.every((l) => l.label === 'bearing_wear')).toBe(true);

      // the agent itself restarts while the gateway is away: its outbox is kept
      const pendingAtStop = Number(agent.events('telemetry_queued').at(-1)!.pending);
      expect(await agent.stop()).toBe(0);
      agent = runAgent(state, args);
      all.push(agent);
      const recovered = await agent.waitFor((l) => l.event === 'outbox_recovered', 15_000);
      expect(Number(recovered.pending)).toBeGreaterThanOrEqual(pendingAtStop);
      await agent.waitFor((l) => l.event === 'model_loaded', 30_000); // the installed release, from its package
      await agent.waitFor((l) => l.event === 'telemetry_queued' && Number(l.windows) > 0, 20_000);
      await sleep(2000);

      // the gateway comes back on the same port; the agent reconnects and sends the backlog
      gw = await gateway();
      await agent.waitFor((l) => l.event === 'mqtt_connected', 45_000);
      const drained = () => {
        const sent = new Set(all.flatMap((a) => a.events('telemetry_sent').map((l) => String(l.message_id))));
        const made = all.flatMap((a) => a.events('telemetry_queued').map((l) => String(l.message_id)));
        return made.every((m) => sent.has(m));
      };
      for (let t = Date.now(); !drained(); await sleep(100))
        expect(Date.now() - t, 'backlog sent within 30 s').toBeLessThan(30_000);
      await agent.waitFor((l) => l.event === 'telemetry_sent', 10_000, agent.lines.length);
      // SIGTERM: what is still queued is sent before it leaves
      expect(await agent.stop()).toBe(0);
      for (const a of all) queued.push(...a.events('telemetry_queued').map((l) => String(l.message_id)));

      // the backend got every id, in order, exactly once after de-duplication
      let ids: string[] = [];
      for (let t = Date.now(); Date.now() - t < 15_000; await sleep(200)) {
        ids = await receivedIds(id);
        if (queued.every((q) => ids.includes(q))) break;
      }
      const firstSeen = ids.filter((m, i) => ids.indexOf(m) === i);
      expect(firstSeen).toEqual(queued);
      const boots = new Set(queued.map((q) => q.split('-')[0]));
      expect(boots.size).toBe(2); // both runs of the agent
      console.log(
        `telemetry: ${queued.length} messages made (${whileDown.length}+ while the gateway was down), ` +
          `${ids.length} received, ${ids.length - firstSeen.length} duplicates removed by message_id`,
      );
      // the control plane stored every one of them exactly once
      let stored: string[] = [];
      for (let t = Date.now(); Date.now() - t < 15_000; await sleep(200)) {
        stored = (
          await s.database.db
            .select({ m: telemetryMessages.messageId })
            .from(telemetryMessages)
            .where(eq(telemetryMessages.deviceId, id))
        ).map((r) => r.m);
        if (queued.every((q) => stored.includes(q))) break;
      }
      expect([...stored].sort()).toEqual([...queued].sort());
      const { outbox, recovered: left } = await Outbox.open(join(state, 'outbox'), 16 * 2 ** 20);
      await outbox.close();
      expect(left.pending).toBe(0);
    } finally {
      for (const a of all) await a.stop();
    }
  }, 180_000);

  it('a full outbox drops the oldest messages and says how many', async () => {
    const id = `tl-full-${randomBytes(3).toString('hex')}`;
    const closed = await freePort(); // a gateway that is never there
    const state = await device(id, `mqtts://localhost:${closed}`);
    const max = 8192;
    const agent = runAgent(state, [
      '--window-interval',
      '0.1',
      '--telemetry-interval',
      '1',
      '--outbox-max-bytes',
      String(max),
    ]);
    try {
      await agent.waitFor((l) => l.event === 'model_loaded', 60_000);
      const dropped = await agent.waitFor((l) => l.event === 'telemetry_dropped', 30_000);
      expect(dropped).toMatchObject({ level: 'warn', outbox_max_bytes: max });
      expect(Number(dropped.count)).toBeGreaterThanOrEqual(1);
      await agent.waitFor(
        (l) => l.event === 'telemetry_dropped' && agent.events('telemetry_dropped').length >= 3,
        20_000,
      );
      expect(await agent.stop()).toBe(0);
      const made = agent.events('telemetry_queued').map((l) => String(l.message_id));
      const droppedCount = agent.events('telemetry_dropped').reduce((n, l) => n + Number(l.count), 0);
      // the oldest went first: what is left is the newest, within the bound
      const { outbox } = await Outbox.open(join(state, 'outbox'), max);
      const left: string[] = [];
      for (let r = outbox.head(); r; r = outbox.head()) {
        left.push(r.messageId);
        outbox.ack(r);
      }
      await outbox.close();
      expect(droppedCount + left.length).toBe(made.length);
      expect(left).toEqual(made.slice(made.length - left.length));
      expect(agent.events('telemetry_dropped')[0]!.first_message_id).toBe(made[0]);
    } finally {
      await agent.stop();
    }
  }, 120_000);
});
