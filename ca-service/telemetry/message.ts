// What a device's telemetry says, once decrypted: the one parser that decides whether a
// plaintext is acceptable (pure; no I/O). Two shapes are read:
//
//  v1         {"v":1,"message_id","device_id","sent_at","release_id","model_id","model_version",
//              "window":{count,from,to},"inference":{…}|null,"input_stats":{…}|null}
//  heartbeat  {"type":"heartbeat","seq","time",…}: what agents sent before v1 (liveness only;
//              its message id is derived from its time and sequence number)
//
// The device id inside a v1 message must be the one in the topic the gateway let the device
// publish on (its certificate's id): an envelope captured from one device and re-published
// by another names the wrong device and is refused.

export type Refusal =
  | 'bad_topic'
  | 'too_large'
  | 'unknown_key'
  | 'undecryptable'
  | 'malformed'
  | 'device_mismatch'
  | 'replayed';

export const REFUSALS: readonly Refusal[] = [
  'bad_topic',
  'too_large',
  'unknown_key',
  'undecryptable',
  'malformed',
  'device_mismatch',
  'replayed',
];

export class TelemetryRefused extends Error {
  constructor(
    readonly reason: Refusal,
    /** names a field or a rule, never a value from the message */
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
    this.name = 'TelemetryRefused';
  }
}

export interface Inference {
  readonly label: string;
  readonly counts: Readonly<Record<string, number>>;
  readonly probabilities: Readonly<Record<string, number>>;
  readonly anomaly: boolean;
}

export interface InputStats {
  readonly features: readonly string[];
  readonly n: number;
  readonly mean: readonly (number | null)[];
  readonly std: readonly (number | null)[];
  readonly histograms: readonly (readonly number[])[];
}

export interface TelemetryRecord {
  readonly deviceId: string;
  readonly messageId: string;
  readonly sentAt: Date;
  readonly receivedAt: Date;
  readonly shape: 'v1' | 'heartbeat';
  readonly releaseId: string | null;
  readonly modelId: string | null;
  readonly modelVersion: string | null;
  readonly window: { readonly count: number; readonly from: string; readonly to: string } | null;
  readonly inference: Inference | null;
  readonly inputStats: InputStats | null;
}

/** the largest plaintext read (a v1 message with 16 features is ~3 KiB) */
export const MAX_PLAINTEXT_BYTES = 32 * 1024;
const MESSAGE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const MAX_NAME = 128;
const MAX_FEATURES = 64;
const MAX_BINS = 100;
const MAX_CLASSES = 64;
const MAX_WINDOWS = 1_000_000;
// C0, DEL and C1 controls: nothing a name needs, and what a log or a terminal would misread
const CONTROL = /\p{Cc}/u;
// RFC 3339 date-time, as toISOString writes it (offsets allowed)
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

const bad = (field: string, why: string): never => {
  throw new TelemetryRefused('malformed', `${field} ${why}`);
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

function name(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_NAME || CONTROL.test(v))
    bad(field, `must be 1–${MAX_NAME} characters without control characters`);
  return v as string;
}
const optName = (v: unknown, field: string): string | null =>
  v === undefined || v === null ? null : name(v, field);

function date(v: unknown, field: string): Date {
  const d = typeof v === 'string' && ISO.test(v) ? new Date(v) : undefined;
  if (!d || Number.isNaN(d.getTime())) bad(field, 'must be an RFC 3339 date-time');
  return d!;
}

function count(v: unknown, field: string, max = MAX_WINDOWS): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) > max)
    bad(field, `must be an integer from 0 to ${max}`);
  return v as number;
}

function numbers(v: unknown, field: string, len: number): (number | null)[] {
  if (!Array.isArray(v) || v.length !== len) bad(field, `must be an array of ${len} numbers`);
  return (v as unknown[]).map((x) => {
    // JSON has no NaN: a feature with no valid value is null
    if (x !== null && (typeof x !== 'number' || !Number.isFinite(x))) bad(field, 'holds a non-number');
    return x as number | null;
  });
}

function record(v: unknown, field: string, value: (x: unknown) => boolean): Record<string, number> {
  if (!isObj(v)) bad(field, 'must be an object');
  const entries = Object.entries(v as Obj);
  if (entries.length > MAX_CLASSES) bad(field, `has more than ${MAX_CLASSES} entries`);
  const out: Record<string, number> = {};
  for (const [k, x] of entries) {
    name(k, `${field} key`);
    if (!value(x)) bad(field, 'holds a value out of range');
    out[k] = x as number;
  }
  return out;
}

function inference(v: unknown): Inference | null {
  if (v === null || v === undefined) return null;
  if (!isObj(v)) return bad('inference', 'must be an object or null');
  if (typeof v.anomaly !== 'boolean') bad('inference.anomaly', 'must be a boolean');
  return {
    label: name(v.label, 'inference.label'),
    counts:
      v.counts === undefined
        ? {}
        : record(v.counts, 'inference.counts', (x) => Number.isSafeInteger(x) && (x as number) >= 0),
    probabilities:
      v.probabilities === undefined
        ? {}
        : record(
            v.probabilities,
            'inference.probabilities',
            (x) => typeof x === 'number' && x >= 0 && x <= 1,
          ),
    anomaly: v.anomaly as boolean,
  };
}

function inputStats(v: unknown): InputStats | null {
  if (v === null || v === undefined) return null;
  if (!isObj(v)) return bad('input_stats', 'must be an object or null');
  if (!Array.isArray(v.features) || v.features.length === 0 || v.features.length > MAX_FEATURES)
    bad('input_stats.features', `must list 1–${MAX_FEATURES} names`);
  const features = (v.features as unknown[]).map((f) => name(f, 'input_stats.features'));
  if (new Set(features).size !== features.length) bad('input_stats.features', 'must not repeat a name');
  const n = count(v.n, 'input_stats.n');
  const hs = v.histograms;
  if (!Array.isArray(hs) || hs.length !== features.length)
    return bad('input_stats.histograms', 'must hold one histogram per feature');
  const bins = Array.isArray(hs[0]) ? hs[0].length : 0;
  if (bins < 2 || bins > MAX_BINS) bad('input_stats.histograms', `must have 2–${MAX_BINS} bins`);
  const histograms = (hs as unknown[]).map((h) => {
    if (!Array.isArray(h) || h.length !== bins)
      bad('input_stats.histograms', 'must have the same number of bins for every feature');
    const row = (h as unknown[]).map((c) => count(c, 'input_stats.histograms'));
    // a window whose feature was not a number is in no bin
    if (row.reduce((s, c) => s + c, 0) > n) bad('input_stats.histograms', 'count more windows than n');
    return row;
  });
  return {
    features,
    n,
    mean: numbers(v.mean, 'input_stats.mean', features.length),
    std: numbers(v.std, 'input_stats.std', features.length),
    histograms,
  };
}

function v1(o: Obj, topicDevice: string, receivedAt: Date): TelemetryRecord {
  if (typeof o.message_id !== 'string' || !MESSAGE_ID.test(o.message_id))
    bad('message_id', 'must be 1–128 of A–Z a–z 0–9 . _ : -');
  if (typeof o.device_id !== 'string') bad('device_id', 'must be a string');
  if (o.device_id !== topicDevice)
    throw new TelemetryRefused('device_mismatch', 'device_id is not the publishing device');
  let window: TelemetryRecord['window'] = null;
  if (o.window !== undefined && o.window !== null) {
    if (!isObj(o.window)) bad('window', 'must be an object');
    const w = o.window as Obj;
    window = {
      count: count(w.count, 'window.count'),
      from: date(w.from, 'window.from').toISOString(),
      to: date(w.to, 'window.to').toISOString(),
    };
  }
  return {
    deviceId: topicDevice,
    messageId: o.message_id as string,
    sentAt: date(o.sent_at, 'sent_at'),
    receivedAt,
    shape: 'v1',
    releaseId: optName(o.release_id, 'release_id'),
    modelId: optName(o.model_id, 'model_id'),
    modelVersion: optName(o.model_version, 'model_version'),
    window,
    inference: inference(o.inference),
    inputStats: inputStats(o.input_stats),
  };
}

function heartbeat(o: Obj, topicDevice: string, receivedAt: Date): TelemetryRecord {
  const seq = count(o.seq, 'seq', Number.MAX_SAFE_INTEGER);
  const sentAt = date(o.time, 'time');
  return {
    deviceId: topicDevice,
    // the agent's sequence restarts with the process; with its time the pair is unique
    messageId: `hb:${sentAt.toISOString()}:${seq}`,
    sentAt,
    receivedAt,
    shape: 'heartbeat',
    releaseId: null,
    modelId: null,
    modelVersion: null,
    window: null,
    inference: null,
    inputStats: null,
  };
}

/** Parses a decrypted message published on `devices/{topicDevice}/telemetry`; throws TelemetryRefused. */
export function parseTelemetry(
  plaintext: Uint8Array,
  topicDevice: string,
  receivedAt: Date,
): TelemetryRecord {
  if (plaintext.byteLength > MAX_PLAINTEXT_BYTES)
    throw new TelemetryRefused('too_large', `plaintext is over ${MAX_PLAINTEXT_BYTES} bytes`);
  let o: unknown;
  try {
    o = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext));
  } catch {
    throw new TelemetryRefused('malformed', 'plaintext is not UTF-8 JSON');
  }
  if (!isObj(o)) throw new TelemetryRefused('malformed', 'plaintext is not a JSON object');
  if (o.v === 1) return v1(o, topicDevice, receivedAt);
  if (o.v === undefined && o.type === 'heartbeat') return heartbeat(o, topicDevice, receivedAt);
  throw new TelemetryRefused('malformed', 'unknown message version');
}

/** `devices/{id}/telemetry` → id, or undefined */
export function telemetryTopicDevice(topic: string): string | undefined {
  const m = /^devices\/([^/+#]{1,128})\/telemetry$/.exec(topic);
  return m?.[1];
}
