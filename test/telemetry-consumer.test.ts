// The control plane's telemetry consumer end to end: a real stack, an in-process gateway,
// enrolled devices publishing compact JWEs (built with jose to the key GET /v1/telemetry-key
// serves) under their own certificates, and the consumer subscribed as svc:telemetry-consumer.
import { randomBytes } from 'node:crypto';
import { generateKeyPair, exportJWK, calculateJwkThumbprint } from 'jose';
import type { MqttClient } from 'mqtt';
import pino from 'pino';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCaConfig } from '../ca-service/config.ts';
import { issueServiceIdentity } from '../ca-service/keys/server-identity.ts';
import { rowsOf } from '../ca-service/store/db.ts';
import { IssuanceStore } from '../ca-service/store/issuance-store.ts';
import { TelemetryConsumer } from '../ca-service/telemetry/consumer.ts';
import { CONSUMER_CLIENT_ID, startTelemetry, type TelemetryParts } from '../ca-service/telemetry/start.ts';
import type { Gateway } from '../gateway/main.ts';
import { toPem } from '../lib/pem.ts';
import { startTestGateway } from './helpers/mqtt.ts';
import {
  createBatch,
  type EnrolledDevice,
  enrollDevice,
  startStack,
  type TestStack,
} from './helpers/stack.ts';
import {
  deviceClient,
  type FleetKey,
  fleetKey,
  publishAll,
  seal,
  until,
  v1Message,
} from './helpers/telemetry.ts';
import { createRng } from '../ml/prng.ts';
import { simulatedInputStats } from './helpers/telemetry.ts';

let s: TestStack;
let gw: Gateway;
let key: FleetKey;
let telemetry: TelemetryParts;
const ids = ['tel-a', 'tel-b', 'tel-c', 'tel-d'];
const devices: Record<string, EnrolledDevice> = {};
const clients: Record<string, MqttClient> = {};
const log = pino({ level: process.env.TELEMETRY_TEST_LOG ?? 'silent' });
const GW_ENV = { EDGESEAL_GATEWAY_RATE: '0' };

const counts = () => telemetry.status().counts;
const stored = async (deviceId: string) =>
  rowsOf<{ n: number }>(
    await s.database.db.execute(
      sql`select count(*)::int as n from telemetry_messages where device_id = ${deviceId}`,
    ),
  )[0]!.n;
const picture = async (deviceId: string) =>
  rowsOf<{
    messages: string;
    anomalies: string;
    latest_inference: string | null;
    model_version: string | null;
  }>(await s.database.db.execute(sql`select * from device_telemetry where device_id = ${deviceId}`))[0];
const mid = () => `m-${randomBytes(6).toString('hex')}`;

async function connectDevices(): Promise<void> {
  for (const id of ids) clients[id] = await deviceClient(s, gw, devices[id]!, id);
}

beforeAll(async () => {
  s = await startStack();
  gw = await startTestGateway(s, GW_ENV);
  key = await fleetKey(s);
  const batch = await createBatch(s, { quota: 10 });
  for (const id of ids) devices[id] = await enrollDevice(s, id, batch);
  telemetry = s.cp.telemetry;
  telemetry.startConsumer(gw.mqttsUrl);
  await until(() => telemetry.status().connected, 15_000, 'the consumer to connect');
  await connectDevices();
});

afterAll(async () => {
  for (const c of Object.values(clients)) await c.endAsync().catch(() => {});
  await telemetry?.close();
  await gw?.close();
  await s?.stop();
});

describe('telemetry consumer', () => {
  it('decrypts a message and stores it with its fields, and the device picture follows', async () => {
    const before = counts().stored;
    const m = v1Message('tel-a', {
      messageId: 'a-1',
      anomaly: true,
      label: 'bearing_wear',
      modelVersion: '1.2.0',
      inputStats: simulatedInputStats(createRng(1)),
    });
    await publishAll(clients['tel-a']!, 'tel-a', [await seal(key, m)]);
    await until(() => counts().stored === before + 1, 10_000, 'the message to be stored');
    const [row] = rowsOf<Record<string, unknown>>(
      await s.database.db.execute(sql`select * from telemetry_messages where device_id = 'tel-a'`),
    );
    expect(row).toMatchObject({
      message_id: 'a-1',
      release_id: 'rel-test',
      model_version: '1.2.0',
      anomaly: true,
    });
    expect(new Date(row!.sent_at as string).toISOString()).toBe(m.sent_at);
    expect(JSON.parse(row!.inference as string)).toMatchObject({ label: 'bearing_wear', anomaly: true });
    expect(JSON.parse(row!.input_stats as string).histograms).toHaveLength(16);
    const p = await picture('tel-a');
    expect(p).toMatchObject({ model_version: '1.2.0' });
    expect(Number(p!.messages)).toBe(1);
    expect(Number(p!.anomalies)).toBe(1);
    expect(JSON.parse(p!.latest_inference!).label).toBe('bearing_wear');
  });

  it('stores a replayed envelope once and counts the replay', async () => {
    const jwe = await seal(key, v1Message('tel-a', { messageId: 'a-2' }));
    const before = counts();
    await publishAll(clients['tel-a']!, 'tel-a', [jwe]);
    await until(() => counts().stored === before.stored + 1);
    await publishAll(clients['tel-a']!, 'tel-a', [jwe, jwe]);
    await until(() => counts().replayed === before.replayed + 2, 10_000, 'two replays');
    expect(await stored('tel-a')).toBe(2);
    expect(Number((await picture('tel-a'))!.messages)).toBe(2);
  });

  it('drops what does not decrypt, another key, another device and non-JSON — counted, nothing stored', async () => {
    const before = counts();
    const rowsBefore = await stored('tel-b');
    // one flipped byte in the ciphertext of a genuine envelope
    const genuine = (await seal(key, v1Message('tel-b', { messageId: 'b-tampered' }))).split('.');
    const ct = Buffer.from(genuine[3]!, 'base64url');
    ct[0]! ^= 0x01;
    genuine[3] = ct.toString('base64url');
    // a well-formed envelope to another P-256 key, under that key's own kid and under ours
    const other = await generateKeyPair('ECDH-ES+A256KW', { extractable: true });
    const otherKey = {
      kid: await calculateJwkThumbprint(await exportJWK(other.publicKey)),
      key: other.publicKey,
    };
    const toOther = await seal(otherKey, v1Message('tel-b', { messageId: 'b-other' }));
    const toOtherOurKid = await seal(
      { ...otherKey, kid: key.kid },
      v1Message('tel-b', { messageId: 'b-kid' }),
    );
    // tel-c's envelope, captured and re-published by tel-b on its own topic
    const captured = await seal(key, v1Message('tel-c', { messageId: 'c-captured' }));
    const notJson = await seal(key, 'reading=0.31g; status=ok');
    const noVersion = await seal(key, { message_id: 'b-x', device_id: 'tel-b' });
    const badId = await seal(key, v1Message('tel-b', { messageId: 'has spaces/and slashes' }));
    await publishAll(clients['tel-b']!, 'tel-b', [
      genuine.join('.'),
      toOther,
      toOtherOurKid,
      captured,
      notJson,
      noVersion,
      badId,
    ]);
    await until(
      () => {
        const c = counts();
        return (
          c.undecryptable === before.undecryptable + 2 &&
          c.unknown_key === before.unknown_key + 1 &&
          c.device_mismatch === before.device_mismatch + 1 &&
          c.malformed === before.malformed + 3
        );
      },
      10_000,
      'seven refusals',
    );
    expect(counts().stored).toBe(before.stored);
    expect(await stored('tel-b')).toBe(rowsBefore);
    expect(await stored('tel-c')).toBe(0);
    expect(await picture('tel-b')).toBeUndefined();
  });

  it("reads an older agent's heartbeat: stored (liveness only), idempotent by its time and sequence", async () => {
    const before = counts();
    const hb = await seal(
      key,
      { type: 'heartbeat', seq: 7, time: new Date().toISOString(), cert_serial: devices['tel-d']!.serial },
      { cty: 'application/json' },
    );
    await publishAll(clients['tel-d']!, 'tel-d', [hb, hb]);
    await until(() => counts().stored === before.stored + 1 && counts().replayed === before.replayed + 1);
    const p = await picture('tel-d');
    expect(Number(p!.messages)).toBe(1);
    expect(p!.latest_inference).toBeNull();
  });

  it('stores a burst of a few hundred messages from several devices exactly once each', async () => {
    const before = counts();
    const rows = Object.fromEntries(
      await Promise.all(ids.map(async (id) => [id, await stored(id)] as const)),
    );
    const per = 75;
    const batches = await Promise.all(
      ids.map(async (id) => {
        const payloads: string[] = [];
        for (let i = 0; i < per; i++)
          payloads.push(await seal(key, v1Message(id, { messageId: mid(), anomaly: i % 10 === 0 })));
        // and a few sent twice, as a device that lost a PUBACK would
        return [id, [...payloads, ...payloads.slice(0, 5)]] as const;
      }),
    );
    await Promise.all(batches.map(([id, payloads]) => publishAll(clients[id]!, id, payloads)));
    await until(
      () =>
        counts().stored === before.stored + per * ids.length &&
        counts().replayed === before.replayed + 5 * ids.length,
      30_000,
      'the burst to be stored',
    );
    for (const id of ids) expect(await stored(id)).toBe(rows[id]! + per);
  });

  it('leaves a message unacknowledged until its write commits: a consumer stopped first hands it on', async () => {
    // the control plane's consumer steps aside; one whose writes never finish takes the session
    await telemetry.close();
    const issuing = s.cp.boot.hierarchy.issuing;
    const id = await issueServiceIdentity(
      issuing,
      { kind: 'service', name: 'telemetry-consumer', trustDomain: 'edgeseal.local' },
      new IssuanceStore(s.database.db, () => new Date()),
      new Date(),
    );
    let received = 0;
    const stuck = new TelemetryConsumer({
      url: gw.mqttsUrl,
      clientId: CONSUMER_CLIENT_ID,
      ca: s.cp.boot.hierarchy.chain.map((d) => toPem('CERTIFICATE', d)).join(''),
      identity: async () => ({ ...id, renewAt: new Date(Date.now() + 86_400_000) }),
      handle: () => {
        received++;
        return new Promise(() => {}); // a write that never commits (a crash mid-commit)
      },
      log,
      now: () => new Date(),
    });
    stuck.start();
    await until(() => stuck.connected, 10_000, 'the stuck consumer');
    const inFlight = [];
    for (let i = 0; i < 5; i++)
      inFlight.push(await seal(key, v1Message('tel-c', { messageId: `c-flight-${i}` })));
    await publishAll(clients['tel-c']!, 'tel-c', inFlight);
    await until(() => received === 5, 10_000, 'the stuck consumer to receive them');
    await stuck.close(() => ({})); // gives up after its drain time: nothing acknowledged
    // published while no consumer is connected: queued in its persistent session
    const queued = [];
    for (let i = 0; i < 20; i++)
      queued.push(await seal(key, v1Message('tel-c', { messageId: `c-queued-${i}` })));
    await publishAll(clients['tel-c']!, 'tel-c', queued);
    const before = await stored('tel-c');
    telemetry = await startTelemetry({
      config: parseCaConfig({ EDGESEAL_DATA_DIR: s.dir }),
      boot: s.cp.boot,
      clock: { now: () => new Date() },
      log,
      issuanceStore: new IssuanceStore(s.database.db, () => new Date()),
      consumerLater: true,
    });
    telemetry.startConsumer(gw.mqttsUrl);
    await until(
      async () => (await stored('tel-c')) === before + 25,
      20_000,
      'the unacknowledged and queued messages',
    );
    expect(telemetry.status().counts.stored).toBe(25);
  }, 60_000);

  it('reconnects after the gateway restarts and resubscribes', async () => {
    const port = gw.port;
    for (const c of Object.values(clients)) await c.endAsync().catch(() => {});
    await gw.close();
    await until(() => !telemetry.status().connected, 10_000, 'the consumer to notice');
    gw = await startTestGateway(s, { ...GW_ENV, EDGESEAL_GATEWAY_PORT: String(port) });
    // connected means subscribed again: the new gateway's session is a fresh one
    await until(() => telemetry.status().connected, 30_000, 'the consumer to reconnect');
    await connectDevices();
    const before = await stored('tel-d');
    await publishAll(clients['tel-d']!, 'tel-d', [await seal(key, v1Message('tel-d', { messageId: mid() }))]);
    await until(
      async () => (await stored('tel-d')) === before + 1,
      10_000,
      'a message through the new gateway',
    );
  }, 60_000);
});
