// Telemetry as devices send it, for tests: v1 messages (their input statistics from the real
// generator and feature extractor, binned by the shipped model's training deciles), sealed
// as compact JWEs to the key GET /v1/telemetry-key serves, published with MQTT.js under the
// device's own certificate.
import { readFileSync } from 'node:fs';
import { CompactEncrypt, type CompactJWEHeaderParameters, importJWK, type JWK } from 'jose';
import mqtt, { type MqttClient } from 'mqtt';
import { histograms } from '../../ca-service/core/drift.ts';
import { extractFeatures } from '../../ml/features.ts';
import type { Rng } from '../../ml/prng.ts';
import { CLASSES, type DriftOptions, generateWindow } from '../../ml/signal.ts';
import type { EnrolledDevice, TestStack } from './stack.ts';

export const TELEMETRY_CTY = 'application/vnd.edgeseal.telemetry+json';

type EncryptionKey = Awaited<ReturnType<typeof importJWK>>;
export interface FleetKey {
  readonly kid: string;
  readonly key: EncryptionKey;
}

export async function fleetKey(s: TestStack): Promise<FleetKey> {
  const r = await s.api('/v1/telemetry-key');
  const { kid, jwk } = (await r.json()) as { kid: string; jwk: JWK };
  return { kid, key: await importJWK(jwk, 'ECDH-ES+A256KW') };
}

/** A compact JWE of `body` (an object is JSON-encoded) as the contract says. */
export async function seal(
  k: FleetKey,
  body: unknown,
  header: Partial<CompactJWEHeaderParameters> = {},
): Promise<string> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return new CompactEncrypt(new TextEncoder().encode(text))
    .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: k.kid, cty: TELEMETRY_CTY, ...header })
    .encrypt(k.key);
}

const stats = JSON.parse(
  readFileSync(new URL('../../ml/models/vibration.stats.json', import.meta.url), 'utf8'),
) as { features: string[]; trainingDistribution: { features: { deciles: number[] }[] } };
export const FEATURES = stats.features;
const EDGES = stats.trainingDistribution.features.map((f) => f.deciles);

/** input_stats of `windows` generated windows (classes drawn as in training), optionally drifted. */
export function simulatedInputStats(rng: Rng, windows = 10, drift?: DriftOptions) {
  const rows: Float32Array[] = [];
  for (let w = 0; w < windows; w++) {
    const cls = CLASSES[rng.int(CLASSES.length)]!;
    rows.push(extractFeatures(generateWindow(cls, rng, drift ? { drift } : {})).features);
  }
  const mean = FEATURES.map((_, j) => rows.reduce((s, r) => s + r[j]!, 0) / rows.length);
  const std = FEATURES.map((_, j) =>
    Math.sqrt(rows.reduce((s, r) => s + (r[j]! - mean[j]!) ** 2, 0) / rows.length),
  );
  return { features: FEATURES, n: rows.length, mean, std, histograms: histograms(rows, EDGES) };
}

export interface V1Options {
  readonly messageId: string;
  readonly sentAt?: Date;
  readonly label?: string;
  readonly anomaly?: boolean;
  readonly inputStats?: ReturnType<typeof simulatedInputStats> | null;
  readonly releaseId?: string;
  readonly modelVersion?: string;
}

export function v1Message(deviceId: string, o: V1Options) {
  const sent = o.sentAt ?? new Date();
  const label = o.label ?? (o.anomaly ? 'bearing_wear' : 'normal');
  return {
    v: 1,
    message_id: o.messageId,
    device_id: deviceId,
    sent_at: sent.toISOString(),
    release_id: o.releaseId ?? 'rel-test',
    model_id: 'vibration',
    model_version: o.modelVersion ?? '1.0.0',
    window: { count: 10, from: new Date(sent.getTime() - 10_000).toISOString(), to: sent.toISOString() },
    inference: {
      label,
      counts: o.anomaly ? { normal: 8, [label]: 2 } : { normal: 10 },
      probabilities: { [label]: 0.91 },
      anomaly: o.anomaly ?? false,
    },
    input_stats: o.inputStats === undefined ? null : o.inputStats,
  };
}

/** An MQTT.js client with the device's certificate (client id = device id). */
export async function deviceClient(s: TestStack, gw: { port: number }, d: EnrolledDevice, id: string) {
  const client = mqtt.connect(`mqtts://localhost:${gw.port}`, {
    clientId: id,
    protocolVersion: 5,
    clean: true,
    reconnectPeriod: 0,
    cert: readFileSync(d.path),
    key: readFileSync(d.keyPath),
    ca: readFileSync(s.cp.boot.paths.rootPem),
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

/** Publishes each payload at QoS 1 on devices/{id}/telemetry; resolves when all are acknowledged. */
export async function publishAll(client: MqttClient, deviceId: string, payloads: readonly string[]) {
  await Promise.all(payloads.map((p) => client.publishAsync(`devices/${deviceId}/telemetry`, p, { qos: 1 })));
}

/** Polls until `pred` holds. */
export async function until(pred: () => boolean | Promise<boolean>, ms = 15_000, what = 'condition') {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
