// One MQTT load generator for both sides of bench:gateway (edgeseal gateway and Mosquitto):
// mTLS connect rate, publish throughput with latency, and memory per connection.
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { createSecureContext, type SecureContext } from 'node:tls';
import { MqttClient } from '../../lib/mqtt/client.ts';

export interface Device {
  readonly id: string;
  readonly keyPem: string;
  readonly certPem: string;
}

export interface Target {
  readonly name: string;
  readonly port: number;
  readonly pid: number;
}

const contexts = new Map<string, SecureContext>();
export function contextFor(d: Device, rootPem: string): SecureContext {
  let c = contexts.get(d.id);
  if (!c) {
    // built once per identity and reused: what a real fleet client does (MEASURED.md)
    c = createSecureContext({ key: d.keyPem, cert: d.certPem, ca: rootPem });
    contexts.set(d.id, c);
  }
  return c;
}

export const connectDevice = (t: Target, d: Device, rootPem: string, keepAlive = 60) =>
  MqttClient.connect({
    url: `mqtts://127.0.0.1:${t.port}`,
    clientId: d.id,
    keepAlive,
    tls: { secureContext: contextFor(d, rootPem) },
  });

const pct = (sorted: number[], p: number) =>
  sorted.length
    ? Math.round(sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]! * 100) / 100
    : 0;

export interface Rate {
  readonly count: number;
  readonly per_second: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly errors: number;
}

/**
 * One loop per device, each: TLS handshake with a client certificate, CONNECT, CONNACK,
 * DISCONNECT. The loops run on `workers` threads: the client side of a full mTLS handshake
 * costs about as much as the server side, so one thread would measure itself.
 */
export async function connectRate(
  t: Target,
  devices: Device[],
  rootPem: string,
  seconds: number,
  workers = 2,
): Promise<Rate> {
  const lat: number[] = [];
  let errors = 0;
  const shares = Array.from({ length: workers }, (_, w) => devices.filter((_, i) => i % workers === w));
  const results = await Promise.all(
    shares.map(
      (share) =>
        new Promise<{ lat: number[]; errors: number }>((resolve, reject) => {
          const worker = new Worker(new URL('./connect-worker.mjs', import.meta.url), {
            workerData: { port: t.port, devices: share, rootPem, seconds },
          });
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    ),
  );
  for (const r of results) {
    lat.push(...r.lat);
    errors += r.errors;
  }
  lat.sort((a, b) => a - b);
  return {
    count: lat.length,
    per_second: Math.round(lat.length / seconds),
    p50_ms: pct(lat, 50),
    p99_ms: pct(lat, 99),
    errors,
  };
}

/** A 256-byte compact JWE whose "ciphertext" starts with the send time (performance.now()). */
function makePayloadFactory(size: number): (now: number) => Buffer {
  const header = Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM' })).toString('base64url');
  const iv = 'AAAAAAAAAAAAAAAA';
  const tag = 'AAAAAAAAAAAAAAAAAAAAAA';
  const fixed = header.length + 2 + iv.length + 1 + 1 + tag.length;
  const ctChars = size - fixed;
  const ctBytes = Math.floor((ctChars * 3) / 4);
  return (now) => {
    const ct = Buffer.alloc(ctBytes, 7);
    ct.writeDoubleLE(now, 0);
    const text = `${header}..${iv}.${ct.toString('base64url').slice(0, ctChars).padEnd(ctChars, 'A')}.${tag}`;
    return Buffer.from(text, 'latin1');
  };
}

function sentAt(payload: Buffer): number {
  const text = payload.toString('latin1');
  const a = text.indexOf('.', text.indexOf('.', text.indexOf('.') + 1) + 1);
  return Buffer.from(text.slice(a + 1, a + 12), 'base64url').readDoubleLE(0);
}

export interface Throughput {
  readonly received_per_second: number;
  readonly sent_per_second: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
}

/** `publishers` devices publish 256-byte messages on their telemetry topic; one subscriber reads them all. */
export async function throughput(
  t: Target,
  pubs: Device[],
  sink: Device,
  rootPem: string,
  qos: 0 | 1,
  seconds: number,
  warmup = 1,
): Promise<Throughput> {
  const make = makePayloadFactory(256);
  const sub = await connectDevice(t, sink, rootPem, 300);
  let measuring = false;
  let received = 0;
  const lat: number[] = [];
  sub.onMessage = (m, ack) => {
    ack();
    if (!measuring) return;
    received++;
    lat.push(performance.now() - sentAt(m.payload));
  };
  const codes = await sub.subscribe([{ filter: 'devices/+/telemetry', qos }]);
  if (codes[0] === 0x80) throw new Error(`${t.name} refused the subscription`);
  const clients = await Promise.all(pubs.map((d) => connectDevice(t, d, rootPem, 300)));
  let stop = false;
  let sent = 0;
  const WINDOW = 64;
  const loops = clients.map(async (c, i) => {
    const topic = `devices/${pubs[i]!.id}/telemetry`;
    if (qos === 1) {
      // a window of unacknowledged messages per publisher
      await new Promise<void>((done) => {
        let inflight = 0;
        const next = () => {
          while (!stop && inflight < WINDOW) {
            inflight++;
            c.publish(topic, make(performance.now()), 1).then(
              () => {
                inflight--;
                if (measuring) sent++;
                if (stop && inflight === 0) done();
                else next();
              },
              () => done(),
            );
          }
          if (stop && inflight === 0) done();
        };
        next();
      });
      return;
    }
    while (!stop) {
      // QoS 0: as fast as the connection drains
      if (c.bufferedBytes() < 32 * 1024) {
        for (let k = 0; k < 32; k++) c.publish(topic, make(performance.now()), 0);
        if (measuring) sent += 32;
      }
      await new Promise((r) => setImmediate(r));
    }
  });
  await new Promise((r) => setTimeout(r, warmup * 1000));
  measuring = true;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  stop = true;
  await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 5000))]);
  await Promise.all(clients.map((c) => c.end()));
  await sub.end();
  lat.sort((a, b) => a - b);
  return {
    received_per_second: Math.round(received / seconds),
    sent_per_second: Math.round(sent / seconds),
    p50_ms: pct(lat, 50),
    p99_ms: pct(lat, 99),
  };
}

const mib = (bytes: number) => Math.round(bytes / 104_857.6) / 10;

export interface Memory {
  readonly connections: number;
  readonly rss_before_mib: number;
  readonly rss_after_mib: number;
  readonly kib_per_connection: number;
  readonly connect_seconds: number;
  /** the server's own account of its memory, where it gives one (the gateway's /metrics) */
  readonly heap_used_mib_before?: number;
  readonly heap_used_mib_after?: number;
}

/** Opens one connection per device (all held at once) and reads the server's RSS before and after. */
export async function memoryPerConnection(
  t: Target,
  devices: Device[],
  rootPem: string,
  rss: (pid: number) => number,
  heap?: () => Promise<number>,
  concurrency = 32,
): Promise<Memory> {
  const before = rss(t.pid);
  const heapBefore = await heap?.();
  const held: MqttClient[] = [];
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < devices.length) {
        const d = devices[next++]!;
        held.push(await connectDevice(t, d, rootPem, 600));
      }
    }),
  );
  const connectSeconds = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 2000));
  const after = rss(t.pid);
  const heapAfter = await heap?.();
  for (const c of held) c.destroy();
  await new Promise((r) => setTimeout(r, 1000));
  return {
    connections: held.length,
    rss_before_mib: Math.round(before / 102.4) / 10,
    rss_after_mib: Math.round(after / 102.4) / 10,
    kib_per_connection: Math.round(((after - before) / held.length) * 10) / 10,
    connect_seconds: Math.round(connectSeconds * 10) / 10,
    ...(heapBefore !== undefined && heapAfter !== undefined
      ? { heap_used_mib_before: mib(heapBefore), heap_used_mib_after: mib(heapAfter) }
      : {}),
  };
}
