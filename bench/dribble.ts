// node --import tsx bench/dribble.ts — what a CONNECT dribbled one byte per TLS record costs
// the server, before any authentication (issue 7 item 6). Starts `edgeseal up` (control plane
// and gateway, its own process), enrolls one device, then for each size opens an mTLS
// connection with that device's certificate, sends a CONNECT of that many bytes one byte per
// TLS record (each write waits for the previous one), and reads the server process's CPU time
// (utime + stime of every thread, /proc/<pid>/stat) from just before the first byte to the
// answer (CONNACK, or the connection closed). Last line: one JSON object.
//
// Env: DRIBBLE_SIZES (bytes, default 8192,81920), EDGESEAL_ROOT (the tree whose
// bin/edgeseal.mjs is started, default this one: point it at a worktree of an older commit to
// measure that), DRIBBLE_CONNECT_TIMEOUT_SECONDS (the gateway's, default 300, so that the
// parser is measured rather than the timeout).
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { encodeConnect } from '../lib/mqtt/codec.ts';
import { toPem } from '../lib/pem.ts';
import { buildCsr } from '../lib/x509/build-csr.ts';
import { httpsJson } from './lib/https-json.ts';
import { freePort, start, stop, waitFor } from './lib/processes.ts';

const SIZES = (process.env.DRIBBLE_SIZES ?? '8192,81920').split(',').map(Number);
const ROOT = resolve(process.env.EDGESEAL_ROOT ?? join(import.meta.dirname, '..'));
const log = (s: string) => process.stderr.write(`${s}\n`);

/** CPU time of a whole process (all threads), ms: utime + stime from /proc/<pid>/stat. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // fields 14, 15; USER_HZ = 100
}

/** A CONNECT of exactly `size` bytes: the bulk in the will payload (≤ 65535) and the password. */
function connectOfSize(id: string, size: number): Buffer {
  const probe = (will: number, password: number | undefined) =>
    encodeConnect({
      cleanSession: true,
      keepAlive: 60,
      clientId: id,
      will: { topic: `devices/${id}/status`, payload: Buffer.alloc(will, 0x61), qos: 0, retain: false },
      username: password === undefined ? undefined : 'u',
      password: password === undefined ? undefined : Buffer.alloc(password, 0x62),
    });
  const base = probe(0, undefined).length;
  let extra = size - base;
  for (;;) {
    const will = Math.min(extra, 65_535);
    const rest = extra - will;
    // a user name and password add 5 bytes of framing of their own; the remaining length
    // field grows with the packet: adjust until the size is exact
    const p = rest > 0 ? probe(will, Math.max(0, rest - 5)) : probe(will, undefined);
    if (p.length === size) return p;
    extra += size - p.length;
    if (extra < 0) throw new Error(`no CONNECT of ${size} bytes`);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'edgeseal-bench-dribble-'));
const [httpsPort, httpPort, gwPort, gwMetrics] = await Promise.all([
  freePort(),
  freePort(),
  freePort(),
  freePort(),
]);
const server = start('node', [join(ROOT, 'bin', 'edgeseal.mjs'), 'up'], {
  ...process.env,
  EDGESEAL_DATA_DIR: dir,
  EDGESEAL_LOG_LEVEL: 'warn',
  DATABASE_URL: '',
  EDGESEAL_HTTPS_PORT: String(httpsPort),
  EDGESEAL_HTTP_PORT: String(httpPort),
  EDGESEAL_GATEWAY_PORT: String(gwPort),
  EDGESEAL_GATEWAY_METRICS_PORT: String(gwMetrics),
  EDGESEAL_GATEWAY_CONNECT_TIMEOUT_SECONDS: process.env.DRIBBLE_CONNECT_TIMEOUT_SECONDS ?? '300',
});
try {
  await waitFor(async () => {
    try {
      return (await fetch(`http://127.0.0.1:${gwMetrics}/health`)).ok;
    } catch {
      return false;
    }
  }, 'edgeseal up');
  const root = readFileSync(join(dir, 'ca', 'root.pem'), 'utf8');
  const cpUrl = `https://localhost:${httpsPort}`;
  const admin = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
  const batch = await httpsJson<{ id: string; secret: string }>(`${cpUrl}/v1/batches`, root, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}` },
    body: { hardware_model: 'bench', quota: 5, expires_in: '1h' },
  });
  const id = 'dribble-1';
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const enrolled = await httpsJson<{ certificate: string }>(`${cpUrl}/v1/enroll`, root, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${batch.id}:${batch.secret}`).toString('base64')}` },
    body: { csr: toPem('CERTIFICATE REQUEST', buildCsr(privateKey, id)) },
  });
  const tls = {
    host: '127.0.0.1',
    port: gwPort,
    ca: root,
    cert: enrolled.certificate,
    key: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  };

  const results: {
    bytes: number;
    bytes_sent: number;
    server_cpu_ms: number;
    wall_ms: number;
    answer: string;
  }[] = [];
  for (const size of SIZES) {
    const packet = connectOfSize(id, size);
    log(`dribbling a CONNECT of ${packet.length} bytes, one byte per TLS record…`);
    const r = await new Promise<(typeof results)[number]>((done, fail) => {
      let sent = 0;
      let cpu0 = 0;
      let t0 = 0;
      let answer: string | undefined;
      const sock = tlsConnect(tls, () => {
        sock.setNoDelay(true);
        cpu0 = cpuMs(server.pid!);
        t0 = performance.now();
        const next = (): void => {
          if (answer !== undefined || sent >= packet.length || sock.destroyed) return;
          sock.write(packet.subarray(sent, sent + 1), (err) => (err ? undefined : next()));
          sent++;
        };
        next();
      });
      const finish = (what: string) => {
        if (answer !== undefined) return;
        answer = what;
        const server_cpu_ms = Math.round(cpuMs(server.pid!) - cpu0);
        const wall_ms = Math.round(performance.now() - t0);
        sock.destroy();
        done({ bytes: packet.length, bytes_sent: sent, server_cpu_ms, wall_ms, answer: what });
      };
      sock.on('data', (d: Buffer) => finish(d[0] === 0x20 ? `CONNACK ${d[3]}` : `packet type ${d[0]! >> 4}`));
      sock.on('close', () => finish('closed'));
      sock.on('error', (e) => (t0 ? finish(`error ${(e as NodeJS.ErrnoException).code}`) : fail(e)));
    });
    log(`  ${JSON.stringify(r)}`);
    results.push(r);
  }
  process.stdout.write(`${JSON.stringify({ bench: 'dribble', root: ROOT, results })}\n`);
} finally {
  await stop(server);
}
process.exit(0);
