// Fleet views: /v1/devices and /v1/devices/{id}, `edgeseal devices` and `devices show`, and
// the dashboard's devices page and findings, over devices whose telemetry went through the
// gateway and the consumer: one steady, one anomalous, one whose sensor drifts, one that
// drifts the same way under a release whose manifest allows more, one that never sent any.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { releases } from '../migrations/schema/index.ts';
import { createRng } from '../ml/prng.ts';
import type { Gateway } from '../gateway/main.ts';
import { startTestGateway } from './helpers/mqtt.ts';
import { createBatch, createToken, enrollDevice, startStack, type TestStack } from './helpers/stack.ts';
import {
  deviceClient,
  fleetKey,
  publishAll,
  seal,
  simulatedInputStats,
  until,
  v1Message,
} from './helpers/telemetry.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'edgeseal.mjs');
let s: TestStack;
let gw: Gateway;
let auditor: string;
const clients: MqttClient[] = [];

interface View {
  device_id: string;
  hardware_model: string;
  certificate: { serial: string; status: string; not_after: string } | null;
  attestation: unknown;
  model: { release_id: string | null; model_id: string | null; version: string | null } | null;
  latest_inference: { label: string; anomaly: boolean } | null;
  anomalous: boolean;
  anomalies: number;
  messages: number;
  input_stats: { features: string[]; n: number; histograms?: number[][] } | null;
  drift: {
    score: number | null;
    drifting: boolean;
    threshold: number | null;
    top_feature: string | null;
    warming_up: boolean;
    per_feature?: Record<string, number>;
  } | null;
  last_seen_at: string | null;
}

const get = async (path: string, token = auditor) => {
  const r = await s.api(path, { token });
  return {
    status: r.status,
    body: (await r.json()) as { items: View[]; next_cursor: string | null } & View & { detail?: string },
  };
};
const idsOf = (items: View[]) => items.map((v) => v.device_id).sort();

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, EDGESEAL_DATA_DIR: s.dir, EDGESEAL_LOG_LEVEL: 'silent' };
  try {
    const r = await promisify(execFile)('node', [BIN, ...args], { env, encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** A release row whose manifest allows a PSI of 50 (only the drift section matters here). */
async function lenientRelease(): Promise<void> {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  await s.database.db.insert(releases).values({
    id: 'rel-lenient',
    modelId: 'vibration',
    version: '2.0.0',
    releaseCounter: 2,
    hardwareModels: ['vib-v1'],
    contentKeyId: 'ck_test',
    manifest: `${b64({ alg: 'ES256' })}.${b64({ drift: { statistic: 'psi', threshold: 50 } })}.c2ln`,
    releaseKid: 'kid-test',
    payloadSha256: '0'.repeat(64),
    plaintextSha256: '0'.repeat(64),
    plaintextSize: 1,
    packageSize: 1,
    packageSha256: '0'.repeat(64),
    blobChunkSize: 1024,
    createdAt: new Date(),
    createdBy: 'test',
  });
}

beforeAll(async () => {
  s = await startStack();
  gw = await startTestGateway(s, { EDGESEAL_GATEWAY_RATE: '0' });
  auditor = await createToken(s, 'auditor');
  await lenientRelease();
  const cam = await createBatch(s, { hardware_model: 'cam-v2', quota: 5 });
  const vib = await createBatch(s, { hardware_model: 'vib-v1', quota: 5 });
  const enrolled = {
    'dev-steady': await enrollDevice(s, 'dev-steady', cam),
    'dev-anomalous': await enrollDevice(s, 'dev-anomalous', cam),
    'dev-drift': await enrollDevice(s, 'dev-drift', vib),
    'dev-lenient': await enrollDevice(s, 'dev-lenient', vib),
  };
  await enrollDevice(s, 'dev-silent', vib);
  s.cp.telemetry.startConsumer(gw.mqttsUrl);
  await until(() => s.cp.telemetry.status().connected, 15_000, 'the consumer');
  const key = await fleetKey(s);
  // 24 messages of 10 windows each: past the 150 windows a drift verdict needs
  const plan: Record<string, (m: number) => Parameters<typeof v1Message>[1]> = {
    'dev-steady': (m) => ({ messageId: `s-${m}`, inputStats: simulatedInputStats(rngs['dev-steady']!) }),
    'dev-anomalous': (m) => ({ messageId: `a-${m}`, anomaly: m === 24 }),
    // a sensor whose DC offset creeps up 1 mg and gain 0.5 % per message
    'dev-drift': (m) => ({
      messageId: `d-${m}`,
      inputStats: simulatedInputStats(rngs['dev-drift']!, 10, { offset: 0.001 * m, gain: 0.005 * m }),
    }),
    'dev-lenient': (m) => ({
      messageId: `l-${m}`,
      releaseId: 'rel-lenient',
      modelVersion: '2.0.0',
      inputStats: simulatedInputStats(rngs['dev-lenient']!, 10, { offset: 0.001 * m, gain: 0.005 * m }),
    }),
  };
  const rngs: Record<string, ReturnType<typeof createRng>> = {
    'dev-steady': createRng(1),
    'dev-drift': createRng(2),
    'dev-lenient': createRng(3),
  };
  const t0 = Date.now() - 3_600_000;
  await Promise.all(
    Object.entries(enrolled).map(async ([id, d]) => {
      const c = await deviceClient(s, gw, d, id);
      clients.push(c);
      const payloads: string[] = [];
      for (let m = 1; m <= 24; m++)
        payloads.push(await seal(key, v1Message(id, { ...plan[id]!(m), sentAt: new Date(t0 + m * 10_000) })));
      // in order: the latest picture follows each device's own clock anyway
      for (const p of payloads) await publishAll(c, id, [p]);
    }),
  );
  await until(() => s.cp.telemetry.status().counts.stored === 96, 30_000, '96 messages stored');
}, 120_000);

afterAll(async () => {
  for (const c of clients) await c.endAsync().catch(() => {});
  await s?.cp.telemetry.close();
  await gw?.close();
  await s?.stop();
});

describe('GET /v1/devices', () => {
  it('lists every enrolled device with its certificate, model, inference, anomalies, statistics and drift', async () => {
    const r = await get('/v1/devices');
    expect(r.status).toBe(200);
    expect(idsOf(r.body.items)).toEqual([
      'dev-anomalous',
      'dev-drift',
      'dev-lenient',
      'dev-silent',
      'dev-steady',
    ]);
    const by = Object.fromEntries(r.body.items.map((v) => [v.device_id, v]));
    expect(by['dev-steady']).toMatchObject({
      hardware_model: 'cam-v2',
      certificate: { status: 'valid' },
      model: { release_id: 'rel-test', model_id: 'vibration', version: '1.0.0' },
      latest_inference: { label: 'normal', anomaly: false },
      anomalous: false,
      messages: 24,
      input_stats: { n: 10 },
      drift: { drifting: false, threshold: 0.25, warming_up: false },
    });
    expect(by['dev-steady']!.drift!.score!).toBeLessThan(0.25);
    expect(by['dev-steady']!.input_stats!.histograms).toBeUndefined(); // the list keeps it short
    expect(by['dev-anomalous']).toMatchObject({ anomalous: true, anomalies: 1, drift: { warming_up: true } });
    expect(by['dev-drift']).toMatchObject({
      drift: { drifting: true, top_feature: 'mean_g', threshold: 0.25 },
    });
    expect(by['dev-drift']!.drift!.score!).toBeGreaterThan(0.25);
    // the same drift under a release whose manifest sets a threshold of 50
    expect(by['dev-lenient']).toMatchObject({
      model: { release_id: 'rel-lenient', version: '2.0.0' },
      drift: { drifting: false, threshold: 50 },
    });
    expect(by['dev-lenient']!.drift!.score!).toBeGreaterThan(0.25);
    expect(by['dev-silent']).toMatchObject({
      certificate: { status: 'valid' },
      model: null,
      latest_inference: null,
      drift: null,
      last_seen_at: null,
      messages: 0,
    });
    expect(new Date(by['dev-steady']!.last_seen_at!).getTime()).toBeLessThan(Date.now());
  });

  it('filters by anomalous, drifting and hardware model, and names a bad filter', async () => {
    expect(idsOf((await get('/v1/devices?anomalous=true')).body.items)).toEqual(['dev-anomalous']);
    expect(idsOf((await get('/v1/devices?drifting=true')).body.items)).toEqual(['dev-drift']);
    expect(idsOf((await get('/v1/devices?hardware_model=vib-v1')).body.items)).toEqual([
      'dev-drift',
      'dev-lenient',
      'dev-silent',
    ]);
    expect(idsOf((await get('/v1/devices?hardware_model=cam-v2&drifting=true')).body.items)).toEqual([]);
    expect((await get('/v1/devices?drifting=false&anomalous=false')).body.items).toHaveLength(3);
    for (const [q, name] of [
      ['anomalous=maybe', 'anomalous'],
      ['drifting=1', 'drifting'],
      ['limit=0', 'limit'],
      ['cursor=%2F%2F', 'cursor'],
      ['colour=red', 'colour'],
    ]) {
      const r = await get(`/v1/devices?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.detail, q).toContain(name);
    }
  });

  it('pages with a cursor', async () => {
    const first = await get('/v1/devices?limit=2');
    expect(first.body.items).toHaveLength(2);
    expect(first.body.next_cursor).toBeTruthy();
    const seen = [...first.body.items];
    let cursor = first.body.next_cursor;
    while (cursor) {
      const page = await get(`/v1/devices?limit=2&cursor=${cursor}`);
      seen.push(...page.body.items);
      cursor = page.body.next_cursor;
    }
    expect(seen.map((v) => v.device_id)).toEqual([
      'dev-anomalous',
      'dev-drift',
      'dev-lenient',
      'dev-silent',
      'dev-steady',
    ]);
  });

  it('is for auditors, security admins, admins and release managers only', async () => {
    expect((await get('/v1/devices', await createToken(s, 'release-manager'))).status).toBe(200);
    expect((await get('/v1/devices', await createToken(s, 'security-admin'))).status).toBe(200);
    expect((await get('/v1/devices', await createToken(s, 'gateway'))).status).toBe(403);
    expect((await s.api('/v1/devices')).status).toBe(401);
  });

  it('is described in the OpenAPI document', async () => {
    const doc = (await (await s.api('/openapi.json')).json()) as {
      paths: Record<string, { get?: { parameters?: { name: string }[] } }>;
    };
    expect(doc.paths['/v1/devices']?.get?.parameters?.map((p) => p.name)).toEqual([
      'hardware_model',
      'anomalous',
      'drifting',
      'limit',
      'cursor',
    ]);
    expect(doc.paths['/v1/devices/{id}']?.get).toBeDefined();
  });
});

describe('GET /v1/devices/{id}', () => {
  it('shows one device with its histograms and the PSI of every feature', async () => {
    const r = await get('/v1/devices/dev-drift');
    expect(r.status).toBe(200);
    expect(r.body.input_stats!.histograms).toHaveLength(16);
    const per = r.body.drift!.per_feature!;
    expect(Object.keys(per)).toHaveLength(16);
    expect(per.mean_g).toBe(Math.max(...Object.values(per)));
    expect(per.mean_g).toBeCloseTo(r.body.drift!.score!, 5);
    const missing = await get('/v1/devices/no-such-device');
    expect(missing.status).toBe(404);
  });
});

describe('edgeseal devices', () => {
  it('prints the fleet as a table, filtered, and as JSON', async () => {
    const all = await cli(['devices']);
    expect(all.code, all.stderr).toBe(0);
    const lines = all.stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      /^DEVICE\s+HARDWARE\s+CERTIFICATE\s+ATTESTATION\s+MODEL\s+INFERENCE\s+ANOMALIES\s+DRIFT\s+LAST_SEEN$/,
    );
    expect(lines).toHaveLength(6);
    expect(all.stdout).toMatch(
      /dev-drift\s+vib-v1\s+valid\s+-\s+vibration 1\.0\.0\s+normal\s+0\/24\s+\d+\.\d\d DRIFTING \(mean_g\)/,
    );
    expect(all.stdout).toMatch(/dev-silent\s+vib-v1\s+valid\s+-\s+-\s+-\s+-\s+-\s+never/);
    const drifting = await cli(['devices', '--drifting']);
    expect(
      drifting.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual(['dev-drift']);
    const anomalous = await cli(['devices', '--anomalous', '--hardware-model', 'cam-v2', '--json']);
    expect(anomalous.code).toBe(0);
    const items = JSON.parse(anomalous.stdout) as View[];
    expect(items.map((v) => v.device_id)).toEqual(['dev-anomalous']);
    expect(items[0]!.latest_inference).toMatchObject({ label: 'bearing_wear', anomaly: true });
  }, 60_000);

  it('shows one device, and names bad input', async () => {
    const show = await cli(['devices', 'show', 'dev-drift']);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/drift\s+PSI \d+\.\d{3} DRIFTING \(threshold 0\.25, most on mean_g\)/);
    expect(show.stdout).toMatch(/^FEATURE\s+MEAN\s+STD\s+PSI$/m);
    const json = JSON.parse((await cli(['devices', 'show', 'dev-steady', '--json'])).stdout) as View;
    expect(json).toMatchObject({ device_id: 'dev-steady', drift: { drifting: false } });
    const cases: [string[], number, RegExp][] = [
      [['devices', 'show', 'no-such-device'], 1, /no such device/],
      [['devices', 'show'], 2, /devices show needs one device id/],
      [['devices', '--hardware-model', 'bad model!'], 2, /--hardware-model must be/],
      [['devices', '--hardware-model'], 2, /--hardware-model/],
      [['devices', '--anomalous=yes'], 2, /anomalous/],
      [['devices', '--limit', 'ten'], 2, /--limit must be a positive integer/],
      [['devices', '--colour', 'red'], 2, /colour/],
    ];
    for (const [args, code, message] of cases) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
  }, 60_000);
});

describe('the dashboard', () => {
  async function signIn(): Promise<string> {
    const login = await s.api('/ui/login', {
      method: 'POST',
      headers: { origin: s.cp.httpsUrl, 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${encodeURIComponent(auditor)}`,
    });
    expect(login.status).toBe(303);
    return /__Host-edgeseal_ui=([^;]*)/.exec(login.headers.get('set-cookie') ?? '')![1]!;
  }
  const page = async (path: string, cookie: string) => {
    const r = await s.api(path, { headers: { cookie: `__Host-edgeseal_ui=${cookie}` } });
    expect(r.status).toBe(200);
    return r.text();
  };

  it('shows an auditor the devices, drifting and anomalous ones marked, with the filters', async () => {
    const cookie = await signIn();
    const html = await page('/ui/devices', cookie);
    expect(html).toContain('<a href="/ui/devices">Devices</a>');
    expect(html).toContain('Drifting devices');
    expect(html).toMatch(/<li class="bad">dev-drift: PSI \d+\.\d\d on mean_g \(threshold 0\.25\)<\/li>/);
    expect(html).toMatch(/<td>dev-drift<\/td>.*?<td class="bad">drifting · PSI \d+\.\d\d \(mean_g\)<\/td>/s);
    expect(html).toMatch(/<td>dev-anomalous<\/td>.*?<td class="bad">bearing_wear · anomaly<\/td>/s);
    expect(html).toMatch(/<td>dev-steady<\/td>.*?<td class="ok">steady · PSI/s);
    expect(html).toMatch(/<td>dev-silent<\/td>.*?<td>never<\/td>/s);
    const filtered = await page('/ui/devices?drifting=true&anomalous=&model=', cookie);
    expect(filtered).toContain('<td>dev-drift</td>');
    expect(filtered).not.toContain('<td>dev-steady</td>');
    expect(filtered).toMatch(/<option value="true" selected="">drifting: yes<\/option>/);
  });

  it('lists drifting devices among the findings', async () => {
    const html = await page('/ui/findings', await signIn());
    expect(html).toMatch(
      /<td class="sev-medium">medium<\/td><td>drifting inputs<\/td><td>dev-drift<\/td><td>PSI \d+\.\d\d on mean_g \(threshold 0\.25\)<\/td>/,
    );
    expect(html).not.toContain('dev-lenient');
  });
});
