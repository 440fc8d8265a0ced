// The telemetry contract's parser, the envelope's checks, and how refusals are counted and
// logged (once per reason, ids only).
import { CompactEncrypt, generateKeyPair } from 'jose';
import { generateKeyPairSync } from 'node:crypto';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { openEnvelope, telemetryKeyOf } from './envelope.ts';
import { TelemetryIngest } from './ingest.ts';
import { parseTelemetry, type TelemetryRecord, TelemetryRefused, telemetryTopicDevice } from './message.ts';

const now = new Date('2026-03-01T12:00:00Z');
const enc = (o: unknown) => new TextEncoder().encode(typeof o === 'string' ? o : JSON.stringify(o));
const good = {
  v: 1,
  message_id: 'm-1',
  device_id: 'dev-1',
  sent_at: '2026-03-01T11:59:58.000Z',
  release_id: 'rel-1',
  model_id: 'vibration',
  model_version: '1.0.0',
  window: { count: 10, from: '2026-03-01T11:59:48.000Z', to: '2026-03-01T11:59:58.000Z' },
  inference: {
    label: 'bearing_wear',
    counts: { normal: 8, bearing_wear: 2 },
    probabilities: { normal: 0.91 },
    anomaly: true,
  },
  input_stats: {
    features: ['a', 'b'],
    n: 10,
    mean: [1, null],
    std: [0.1, 0.2],
    histograms: [
      [5, 5],
      [10, 0],
    ],
  },
};
const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    if (e instanceof TelemetryRefused) return `${e.reason}: ${e.detail}`;
    throw e;
  }
  return 'accepted';
};

describe('parseTelemetry', () => {
  it('reads the v1 contract', () => {
    const r = parseTelemetry(enc(good), 'dev-1', now);
    expect(r).toMatchObject({
      deviceId: 'dev-1',
      messageId: 'm-1',
      shape: 'v1',
      releaseId: 'rel-1',
      modelVersion: '1.0.0',
      inference: { label: 'bearing_wear', anomaly: true },
      inputStats: {
        n: 10,
        histograms: [
          [5, 5],
          [10, 0],
        ],
      },
    });
    expect(r.sentAt.toISOString()).toBe(good.sent_at);
    expect(
      parseTelemetry(enc({ ...good, inference: null, input_stats: null }), 'dev-1', now).inference,
    ).toBeNull();
  });

  it("reads an older agent's heartbeat, with an id from its time and sequence", () => {
    const r = parseTelemetry(
      enc({ type: 'heartbeat', seq: 3, time: good.sent_at, cert_serial: 'ab' }),
      'dev-1',
      now,
    );
    expect(r).toMatchObject({ shape: 'heartbeat', messageId: `hb:${good.sent_at}:3`, inference: null });
  });

  it.each([
    ['not JSON', 'hello', 'malformed: plaintext is not UTF-8 JSON'],
    ['an array', [good], 'malformed: plaintext is not a JSON object'],
    ['another version', { ...good, v: 2 }, 'malformed: unknown message version'],
    [
      'another device',
      { ...good, device_id: 'dev-2' },
      'device_mismatch: device_id is not the publishing device',
    ],
    [
      'a bad message id',
      { ...good, message_id: 'a b' },
      'malformed: message_id must be 1–128 of A–Z a–z 0–9 . _ : -',
    ],
    ['a long message id', { ...good, message_id: 'x'.repeat(129) }, 'malformed: message_id'],
    ['a bad date', { ...good, sent_at: 'yesterday' }, 'malformed: sent_at must be an RFC 3339 date-time'],
    [
      'an anomaly that is not a boolean',
      { ...good, inference: { ...good.inference, anomaly: 'yes' } },
      'malformed: inference.anomaly',
    ],
    [
      'a probability above 1',
      { ...good, inference: { ...good.inference, probabilities: { x: 2 } } },
      'malformed: inference.probabilities',
    ],
    [
      'histograms of unequal bins',
      { ...good, input_stats: { ...good.input_stats, histograms: [[5, 5], [10]] } },
      'malformed: input_stats.histograms',
    ],
    [
      'a histogram counting more than n',
      {
        ...good,
        input_stats: {
          ...good.input_stats,
          histograms: [
            [50, 5],
            [10, 0],
          ],
        },
      },
      'malformed: input_stats.histograms count more windows than n',
    ],
    ['a control character in a name', { ...good, model_version: '1.0\u001b[2J' }, 'malformed: model_version'],
  ])('refuses %s', (_, body, why) => {
    expect(refusal(() => parseTelemetry(enc(body), 'dev-1', now))).toContain(why);
  });

  it('refuses an oversized plaintext before parsing it', () => {
    expect(refusal(() => parseTelemetry(new Uint8Array(40_000), 'dev-1', now))).toMatch(/^too_large/);
  });

  it('takes the device from devices/{id}/telemetry only', () => {
    expect(telemetryTopicDevice('devices/dev-1/telemetry')).toBe('dev-1');
    expect(telemetryTopicDevice('devices/dev-1/status')).toBeUndefined();
    expect(telemetryTopicDevice('devices/a/b/telemetry')).toBeUndefined();
  });
});

describe('openEnvelope', () => {
  const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const keyP = telemetryKeyOf({
    key: pair.privateKey,
    publicKeyDer: pair.publicKey.export({ format: 'der', type: 'spki' }),
  });
  const seal = async (
    header: Record<string, unknown>,
    key: Parameters<CompactEncrypt['encrypt']>[0] = pair.publicKey,
  ) =>
    new CompactEncrypt(enc(good))
      .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', ...header })
      .encrypt(key);

  it('opens a JWE to our key, and refuses one with another kid, algorithm or key', async () => {
    const k = await keyP;
    const plain = await openEnvelope(enc(`${await seal({ kid: k.kid })}\n`), k);
    expect(JSON.parse(new TextDecoder().decode(plain)).message_id).toBe('m-1');
    const reason = (p: Promise<unknown>) =>
      p.then(
        () => 'opened',
        (e: TelemetryRefused) => `${e.reason}: ${e.detail}`,
      );
    expect(await reason(openEnvelope(enc(await seal({ kid: 'someone-else' })), k))).toBe(
      'unknown_key: kid is not the telemetry key',
    );
    expect(await reason(openEnvelope(enc(await seal({})), k))).toMatch(/^unknown_key/);
    const gcmkw = await new CompactEncrypt(enc(good))
      .setProtectedHeader({ alg: 'ECDH-ES', enc: 'A128GCM', kid: k.kid })
      .encrypt(pair.publicKey);
    expect(await reason(openEnvelope(enc(gcmkw), k))).toBe('undecryptable: algorithm not allowed');
    const other = await generateKeyPair('ECDH-ES+A256KW');
    expect(await reason(openEnvelope(enc(await seal({ kid: k.kid }, other.publicKey)), k))).toBe(
      'undecryptable: does not decrypt',
    );
    expect(await reason(openEnvelope(enc('a.b.c.d.e'), k))).toBe('undecryptable: not a compact JWE');
    expect(await reason(openEnvelope(new Uint8Array(70_000), k))).toMatch(/^too_large/);
  });
});

describe('TelemetryIngest', () => {
  it('counts refusals by reason and logs the first of each, with ids and no payload', async () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const k = await telemetryKeyOf({
      key: pair.privateKey,
      publicKeyDer: pair.publicKey.export({ format: 'der', type: 'spki' }),
    });
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l)) });
    const seen = new Set<string>();
    const ingest = new TelemetryIngest(
      k,
      {
        ingest: async (r: TelemetryRecord) => {
          const key = `${r.deviceId}/${r.messageId}`;
          if (seen.has(key)) return 'replayed';
          seen.add(key);
          return 'stored';
        },
      },
      { now: () => now },
      log,
    );
    const secret = 'SECRET-READING-0.3141';
    const sealed = (o: unknown) =>
      new CompactEncrypt(enc(o))
        .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: k.kid })
        .encrypt(pair.publicKey);
    const ok = await sealed(good);
    expect(await ingest.handle('devices/dev-1/telemetry', enc(ok))).toBe('stored');
    expect(await ingest.handle('devices/dev-1/telemetry', enc(ok))).toBe('replayed');
    expect(await ingest.handle('devices/dev-1/telemetry', enc(ok))).toBe('replayed');
    expect(await ingest.handle('devices/dev-2/telemetry', enc(ok))).toBe('device_mismatch');
    expect(await ingest.handle('devices/dev-1/telemetry', enc(await sealed(secret)))).toBe('malformed');
    expect(await ingest.handle('devices/dev-1/telemetry', enc(await sealed(`${secret}!`)))).toBe('malformed');
    expect(await ingest.handle('devices/+/status', enc(ok))).toBe('bad_topic');
    expect(ingest.snapshot()).toMatchObject({
      stored: 1,
      replayed: 2,
      device_mismatch: 1,
      malformed: 2,
      bad_topic: 1,
    });
    expect(lines.map((l) => l.reason)).toEqual(['replayed', 'device_mismatch', 'malformed', 'bad_topic']);
    expect(lines[0]).toMatchObject({ device_id: 'dev-1', message_id: 'm-1' });
    expect(JSON.stringify(lines)).not.toContain('SECRET');
    expect(JSON.stringify(lines)).not.toContain(ok.slice(0, 40));
  });
});
