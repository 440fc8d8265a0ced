// npm run bench:gateway — the edgeseal MQTT gateway (`edgeseal up gateway`, its own process)
// side by side with Mosquitto configured for mTLS with the same CA and an equivalent ACL
// (require_certificate, use_identity_as_username, pattern readwrite devices/%u/#), one Node
// load generator for both, in one run:
//   - mTLS connects/s at 16 concurrent (handshake + CONNECT + CONNACK + DISCONNECT)
//   - QoS 1 and QoS 0 throughput, 256-byte payloads, 3 publishers → 1 subscriber, p50/p99
//   - memory per connection with BENCH_CONNECTIONS concurrent mTLS connections
// The gateway checks identity, ACL, revocation and the JWE shape of every telemetry message
// (its per-device rate limit is off here: EDGESEAL_GATEWAY_RATE=0). Last line: one JSON object.
//
// Env: BENCH_SECONDS (default 10), BENCH_CONNECTIONS (10000), BENCH_PUBLISHERS (3).
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toPem } from '../lib/pem.ts';
import { buildCsr } from '../lib/x509/build-csr.ts';
import { connectRate, type Device, memoryPerConnection, type Target, throughput } from './lib/mqtt-load.ts';
import { httpsJson } from './lib/https-json.ts';
import { freePort, have, rssKiB, start, stop, waitFor } from './lib/processes.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
// BENCH_ONLY=connects,qos1,qos0,memory runs some phases (for profiling); default all
const ONLY = new Set((process.env.BENCH_ONLY ?? 'connects,qos1,qos0,memory').split(','));
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10_000);
const PUBLISHERS = Number(process.env.BENCH_PUBLISHERS ?? 3);
const CONNECT_CONCURRENCY = 16;
// load generator threads for the connect phase (BENCH_CONNECT_WORKERS, default 2)
const CONNECT_WORKERS = Number(process.env.BENCH_CONNECT_WORKERS ?? 2);
const BIN = join(import.meta.dirname, '..', 'bin', 'edgeseal.mjs');
const log = (s: string) => process.stderr.write(`${s}\n`);

if (!have('mosquitto')) throw new Error('bench:gateway needs mosquitto (apt-get install mosquitto)');

// ---- the control plane, and identities issued by it ----
const dir = mkdtempSync(join(tmpdir(), 'edgeseal-bench-gw-'));
const [https, http, gwPort, gwMetrics, mqPort] = await Promise.all([
  freePort(),
  freePort(),
  freePort(),
  freePort(),
  freePort(),
]);
const baseEnv = { ...process.env, EDGESEAL_DATA_DIR: dir, EDGESEAL_LOG_LEVEL: 'warn', DATABASE_URL: '' };
const ca = start('node', [BIN, 'up', 'ca'], {
  ...baseEnv,
  EDGESEAL_HTTPS_PORT: String(https),
  EDGESEAL_HTTP_PORT: String(http),
});
const cpUrl = `https://localhost:${https}`;
const rootPem = () => readFileSync(join(dir, 'ca', 'root.pem'), 'utf8');
await waitFor(() => {
  try {
    readFileSync(join(dir, 'control-plane.json'));
    return true;
  } catch {
    return false;
  }
}, 'the control plane');
const root = rootPem();
const admin = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
const bearer = { authorization: `Bearer ${admin}` };

const nDevices = Math.max(CONNECTIONS, CONNECT_CONCURRENCY + PUBLISHERS);
log(`issuing ${nDevices} device certificates…`);
const batch = await httpsJson<{ id: string; secret: string }>(`${cpUrl}/v1/batches`, root, {
  method: 'POST',
  headers: bearer,
  body: { hardware_model: 'bench', quota: nDevices + 10, expires_in: '2h' },
});
const basic = { authorization: `Basic ${Buffer.from(`${batch.id}:${batch.secret}`).toString('base64')}` };
const devices: Device[] = new Array(nDevices);
let cursor = 0;
await Promise.all(
  Array.from({ length: 32 }, async () => {
    while (cursor < nDevices) {
      const i = cursor++;
      const id = `bench-${i}`;
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const r = await httpsJson<{ certificate: string; chain: string[] }>(`${cpUrl}/v1/enroll`, root, {
        method: 'POST',
        headers: basic,
        body: { csr: toPem('CERTIFICATE REQUEST', buildCsr(privateKey, id)) },
      });
      devices[i] = {
        id,
        keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
        certPem: r.certificate,
      };
    }
  }),
);
async function serviceCert(kind: 'service' | 'server', nameOrHosts: string | string[]) {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const r = await httpsJson<{ chain: string; certificate: string }>(
    `${cpUrl}/v1/service-certificates`,
    root,
    {
      method: 'POST',
      headers: bearer,
      body: {
        kind,
        csr: toPem('CERTIFICATE REQUEST', buildCsr(privateKey, 'bench')),
        ...(kind === 'service' ? { name: nameOrHosts } : { hosts: nameOrHosts }),
      },
    },
  );
  return { keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), chainPem: r.chain };
}
const sinkCert = await serviceCert('service', 'bench-sink');
// a service's MQTT client id is svc:<name> (gateway/core/client-id.ts)
const sink: Device = { id: 'svc:bench-sink', keyPem: sinkCert.keyPem, certPem: sinkCert.chainPem };

// ---- the gateway ----
// BENCH_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the gateway under load.
const nodeArgs = process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : [];
const gw = start('node', [...nodeArgs, BIN, 'up', 'gateway'], {
  ...baseEnv,
  EDGESEAL_GATEWAY_PORT: String(gwPort),
  EDGESEAL_GATEWAY_METRICS_PORT: String(gwMetrics),
  EDGESEAL_GATEWAY_RATE: '0',
  EDGESEAL_GATEWAY_MAX_QUEUED: '1000',
  // beside `up ca`, it is the fleet's only gateway (its own in-process broker)
  EDGESEAL_GATEWAY_ONLY: 'true',
});
await waitFor(async () => {
  try {
    return (await fetch(`http://127.0.0.1:${gwMetrics}/health`)).ok;
  } catch {
    return false;
  }
}, 'the gateway');

// ---- Mosquitto, same CA, equivalent ACL ----
const server = await serviceCert('server', ['localhost', '127.0.0.1']);
const mq = join(dir, 'mosquitto');
execFileSync('mkdir', ['-p', mq]);
writeFileSync(join(mq, 'server.pem'), server.chainPem);
writeFileSync(join(mq, 'server.key'), server.keyPem);
writeFileSync(join(mq, 'ca.pem'), readFileSync(join(dir, 'ca', 'chain.pem')));
writeFileSync(
  join(mq, 'acl'),
  'user bench-sink\ntopic read devices/+/telemetry\n\npattern readwrite devices/%u/#\n',
);
writeFileSync(
  join(mq, 'mosquitto.conf'),
  [
    // as root, Mosquitto would switch to its own user, which cannot read this 0700 directory
    process.getuid?.() === 0 ? 'user root' : '',
    'per_listener_settings false',
    'persistence false',
    'log_dest none',
    'allow_anonymous false',
    `acl_file ${join(mq, 'acl')}`,
    `listener ${mqPort} 127.0.0.1`,
    `cafile ${join(mq, 'ca.pem')}`,
    `certfile ${join(mq, 'server.pem')}`,
    `keyfile ${join(mq, 'server.key')}`,
    'require_certificate true',
    'use_identity_as_username true',
    '',
  ].join('\n'),
);
const mosq = start('mosquitto', ['-c', join(mq, 'mosquitto.conf')], process.env);
await waitFor(async () => {
  const { connect } = await import('node:net');
  return new Promise<boolean>((r) => {
    const s = connect(mqPort, '127.0.0.1', () => {
      s.destroy();
      r(true);
    });
    s.on('error', () => r(false));
  });
}, 'mosquitto');

const targets: Target[] = [
  { name: 'edgeseal', port: gwPort, pid: gw.pid! },
  { name: 'mosquitto', port: mqPort, pid: mosq.pid! },
];
const results: Record<string, Record<string, unknown>> = { edgeseal: {}, mosquitto: {} };

try {
  for (const t of ONLY.has('connects') ? targets : []) {
    log(`${t.name}: connects/s at ${CONNECT_CONCURRENCY} concurrent…`);
    results[t.name]!.connects = await connectRate(
      t,
      devices.slice(0, CONNECT_CONCURRENCY),
      root,
      SECONDS,
      CONNECT_WORKERS,
    );
  }
  const pubs = devices.slice(CONNECT_CONCURRENCY, CONNECT_CONCURRENCY + PUBLISHERS);
  for (const qos of ([1, 0] as const).filter((q) => ONLY.has(`qos${q}`))) {
    for (const t of targets) {
      log(`${t.name}: QoS ${qos}, ${PUBLISHERS} publishers → 1 subscriber…`);
      results[t.name]![`qos${qos}`] = await throughput(t, pubs, sink, root, qos, SECONDS);
    }
  }
  for (const t of ONLY.has('memory') ? targets : []) {
    log(`${t.name}: memory with ${CONNECTIONS} connections…`);
    const heap =
      t.name === 'edgeseal'
        ? async () => {
            const text = await (await fetch(`http://127.0.0.1:${gwMetrics}/metrics`)).text();
            return Number(/^nodejs_heap_used_bytes (\d+)/m.exec(text)?.[1] ?? Number.NaN);
          }
        : undefined;
    results[t.name]!.memory = await memoryPerConnection(t, devices.slice(0, CONNECTIONS), root, rssKiB, heap);
  }
} finally {
  await stop(gw);
  await stop(mosq);
  await stop(ca);
}

if (ONLY.size < 4) {
  process.stdout.write(`${JSON.stringify(results)}\n`);
  process.exit(0);
}
type R = {
  connects: { per_second: number; p99_ms: number };
  qos1: { received_per_second: number; p99_ms: number };
  qos0: { received_per_second: number; p99_ms: number };
  memory: { kib_per_connection: number };
};
const e = results.edgeseal as unknown as R;
const m = results.mosquitto as unknown as R;
const ratio = (a: number, b: number) => (b ? Math.round((a / b) * 100) / 100 : null);
const ratios = {
  connects: ratio(e.connects.per_second, m.connects.per_second),
  qos1_throughput: ratio(e.qos1.received_per_second, m.qos1.received_per_second),
  qos1_p99: ratio(e.qos1.p99_ms, m.qos1.p99_ms),
  qos0_throughput: ratio(e.qos0.received_per_second, m.qos0.received_per_second),
  qos0_p99: ratio(e.qos0.p99_ms, m.qos0.p99_ms),
  // below 1 is better here: edgeseal uses less memory per connection
  memory_per_connection: ratio(e.memory.kib_per_connection, m.memory.kib_per_connection),
};
const row = (name: string, f: (r: R) => string) => log(`${name.padEnd(28)} ${f(e).padEnd(30)} ${f(m)}`);
log(`\n${''.padEnd(28)} ${'edgeseal gateway'.padEnd(30)} mosquitto`);
row('mTLS connects/s (c=16)', (r) => `${r.connects.per_second} (p99 ${r.connects.p99_ms} ms)`);
row('QoS 1 msg/s (256 B)', (r) => `${r.qos1.received_per_second} (p99 ${r.qos1.p99_ms} ms)`);
row('QoS 0 msg/s (256 B)', (r) => `${r.qos0.received_per_second} (p99 ${r.qos0.p99_ms} ms)`);
row(`KiB per connection (${CONNECTIONS})`, (r) => `${r.memory.kib_per_connection}`);
process.stdout.write(
  `${JSON.stringify({ bench: 'gateway', seconds: SECONDS, publishers: PUBLISHERS, connections: CONNECTIONS, edgeseal: results.edgeseal, mosquitto: results.mosquitto, ratios })}\n`,
);
process.exit(0);
