// npm run bench:revocation — with N revoked certificates (default 100,000):
//  1. OCSP responses/s and latency at concurrency 32, edgeseal (`edgeseal up`, PGlite) side
//     by side with `openssl ocsp -index` (-multi 2) serving the same revoked set, the same
//     requests (distinct serials, no nonce: neither side can answer from a cache);
//  2. revocation-to-new-CRL latency: revoke over /v1, poll the CRL distribution point until
//     the serial is listed;
//  3. enrollment p50 while OCSP is flooded with CertIDs for unknown serials (issue 7 item 7,
//     bench/lib/ocsp-flood.ts): no flood, 20 CertIDs per request, 10 per request; and the
//     same against BENCH_BASELINE_REF (a commit, e.g. the one before the fix) when given.
//     BENCH_ONLY=flood runs this part alone.
// The revoked set is seeded straight into the database before start-up (enrolling 100,000
// devices first would measure enrollment). Last line: one JSON object.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseCaConfig } from '../ca-service/config.ts';
import { bootstrap } from '../ca-service/bootstrap.ts';
import { children, readTop } from '../lib/der/decode.ts';
import { nul, octets, oid, seq, uint } from '../lib/der/encode.ts';
import { leafHash } from '../lib/merkle.ts';
import { toPem } from '../lib/pem.ts';
import { spkiKeyBits } from '../lib/x509/certificate.ts';
import { certificates, tlogHead } from '../migrations/schema/index.ts';
import { makeCsrs } from './lib/csrs.ts';
import { type LoadResult, runLoad } from './lib/load.ts';
import { checkoutRef, enrollmentUnderFlood, type FloodPhase } from './lib/ocsp-flood.ts';
import { freePort, start, stop, waitFor } from './lib/processes.ts';

const N = Number(process.env.BENCH_REVOKED ?? 100_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const WARMUP = Math.min(2, SECONDS / 4);
const BIN = join(import.meta.dirname, '..', 'bin', 'edgeseal.mjs');
const log = (s: string) => process.stderr.write(`${s}\n`);
const clock = { now: () => new Date() };

// ── 3. enrollment under an OCSP flood of unknown CertIDs ──
async function floodBench(): Promise<Record<string, FloodPhase[]>> {
  const seconds = Number(process.env.BENCH_FLOOD_SECONDS ?? SECONDS);
  const phases = [0, 20, 10];
  const sides: [string, string][] = [['this tree', BIN]];
  const ref = process.env.BENCH_BASELINE_REF;
  if (ref) sides.unshift([`baseline ${ref}`, checkoutRef(ref)]);
  const out: Record<string, FloodPhase[]> = {};
  for (const [name, bin] of sides) {
    log(`enrollment under an OCSP flood: ${name}…`);
    const csrs = makeCsrs(Math.ceil((seconds + 2) * 400 * phases.length), 'flood').map((d) =>
      d.toString('base64'),
    );
    out[name] = await enrollmentUnderFlood({
      bin,
      seconds,
      enrollConcurrency: Number(process.env.BENCH_ENROLL_CONCURRENCY ?? 4),
      floodConcurrency: Number(process.env.BENCH_FLOOD_CONCURRENCY ?? 32),
      phases,
      csrs,
    });
  }
  for (const [name, res] of Object.entries(out)) {
    for (const ph of res) {
      log(
        `${name.padEnd(22)} ${ph.certIds ? `flood of ${String(ph.certIds).padStart(2)} CertIDs/request` : 'no flood'.padEnd(28)}  enrollment p50 ${ph.enroll.p50_ms} ms  p99 ${ph.enroll.p99_ms} ms  ${ph.enroll.per_second}/s${ph.flood ? `  flood answers/s ${JSON.stringify(ph.flood)}` : ''}`,
      );
    }
  }
  return out;
}
const ONLY = process.env.BENCH_ONLY;
const flood = !ONLY || ONLY.includes('flood') ? await floodBench() : undefined;
if (ONLY === 'flood') {
  process.stdout.write(
    `${JSON.stringify({ bench: 'revocation', seconds: SECONDS, enrollment_under_ocsp_flood: flood })}\n`,
  );
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'edgeseal-bench-rev-'));
log(`seeding ${N} revoked certificates into ${dir}…`);
const boot = await bootstrap(parseCaConfig({ EDGESEAL_DATA_DIR: dir, DATABASE_URL: '' }), clock);
const issuing = boot.hierarchy.issuing;
const serials = Array.from({ length: N }, () => {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x3f) | 0x40;
  return b.toString('hex');
});
const revokedAt = new Date(Date.now() - 3600_000);
const notAfter = new Date(Date.now() + 365 * 86_400_000);
{
  const db = boot.database.db;
  const start = Date.now();
  const [head] = await db.select().from(tlogHead);
  let idx = head?.size ?? 0;
  for (let i = 0; i < N; i += 2000) {
    await db.insert(certificates).values(
      serials.slice(i, i + 2000).map((serial) => {
        const der = Buffer.from(serial, 'hex'); // stand-in bytes: these rows exist to be revoked
        return {
          serial,
          kind: 'device' as const,
          deviceId: `seed-${serial.slice(0, 12)}`,
          batchId: 'seed',
          hardwareModel: 'seed',
          issuerId: issuing.id,
          subject: 'CN=seed',
          keyType: 'ec-p256',
          keyBits: 256,
          spkiSha256: createHash('sha256').update(serial).digest('hex'),
          notBefore: revokedAt,
          notAfter,
          der,
          issuedAt: revokedAt,
          revokedAt,
          revocationReason: 1,
          logIndex: idx++,
          leafHash: leafHash(der).toString('hex'),
        };
      }),
    );
  }
  await db
    .insert(tlogHead)
    .values({ id: 1, size: idx })
    .onConflictDoUpdate({ target: tlogHead.id, set: { size: idx } });
  log(`  seeded in ${((Date.now() - start) / 1000).toFixed(1)} s`);
}
await boot.database.close();

// OCSP requests (RFC 6960 §4.1.1), one per distinct serial, SHA-1 CertIDs as openssl makes them.
const nameHash = createHash('sha1').update(issuing.cert.subjectDer).digest();
const keyHash = createHash('sha1').update(spkiKeyBits(issuing.cert.spki)).digest();
// OCSPRequest { TBSRequest { requestList { Request { CertID { hashAlgorithm, nameHash, keyHash, serial } } } } }
const ocspRequest = (serialHex: string) =>
  seq(
    seq(
      seq(
        seq(
          seq(
            seq(oid('1.3.14.3.2.26'), nul()),
            octets(nameHash),
            octets(keyHash),
            uint(Buffer.from(serialHex, 'hex')),
          ),
        ),
      ),
    ),
  );
/** counts only OCSPResponse with responseStatus successful(0) and status "revoked" in it */
const ocspOk = (status: number, body: string) => {
  if (status !== 200) return false;
  try {
    const der = Buffer.from(body, 'latin1');
    const [st] = children(readTop(der));
    return st!.buf[st!.contentStart] === 0 && der.includes(Buffer.from([0xa1])); // revoked [1]
  } catch {
    return false;
  }
};
const requests = serials.map(ocspRequest);

async function ocspLoad(base: string, path: string): Promise<LoadResult> {
  let i = 0;
  return runLoad({
    base,
    concurrency: CONCURRENCY,
    seconds: SECONDS,
    warmupSeconds: WARMUP,
    // distinct serials while they last; a small BENCH_REVOKED cycles (repeats may be cached by edgeseal)
    next: () => ({
      path,
      headers: { 'content-type': 'application/ocsp-request' },
      body: requests[i++ % requests.length]!.toString('latin1'),
    }),
    ok: ocspOk,
    binary: true,
  });
}

// ── edgeseal ──
const [httpsPort, httpPort] = [await freePort(), await freePort()];
const es = start('node', [BIN, 'up'], {
  ...process.env,
  EDGESEAL_DATA_DIR: dir,
  EDGESEAL_HTTPS_PORT: String(httpsPort),
  EDGESEAL_HTTP_PORT: String(httpPort),
  EDGESEAL_LOG_LEVEL: 'warn',
  DATABASE_URL: '',
});
let edgeseal: LoadResult;
const latencies: number[] = [];
try {
  await waitFor(() => existsSync(join(dir, 'control-plane.json')), 'edgeseal up', 120_000);
  log('edgeseal up; measuring OCSP…');
  edgeseal = await ocspLoad(`http://127.0.0.1:${httpPort}`, '/ocsp');

  // revocation → new CRL, with N entries already on it
  const ca = readFileSync(join(dir, 'ca', 'root.pem'), 'utf8');
  const admin = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
  const api = (
    method: string,
    path: string,
    token: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `https://localhost:${httpsPort}${path}`,
        { method, ca, headers: { authorization: `Bearer ${token}`, ...headers } },
        (res) => {
          let t = '';
          res.on('data', (c) => {
            t += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: t }));
        },
      );
      req.on('error', reject);
      req.end(body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
    });
  const sec = JSON.parse(
    (
      await api(
        'POST',
        '/v1/tokens',
        admin,
        { role: 'security-admin' },
        { 'content-type': 'application/json' },
      )
    ).body,
  ).token as string;
  const batch = JSON.parse(
    (
      await api(
        'POST',
        '/v1/batches',
        admin,
        { hardware_model: 'bench', quota: 100, expires_in: '1h' },
        { 'content-type': 'application/json' },
      )
    ).body,
  );
  const basic = `Basic ${Buffer.from(`${batch.id}:${batch.secret}`).toString('base64')}`;
  const csrs = makeCsrs(5, 'crl-latency');
  for (const csr of csrs) {
    const e = await new Promise<string>((resolve, reject) => {
      const req = request(
        `https://localhost:${httpsPort}/.well-known/est/simpleenroll`,
        { method: 'POST', ca, headers: { authorization: basic, 'content-type': 'application/pkcs10' } },
        (res) => {
          let t = '';
          res.on('data', (c) => {
            t += c;
          });
          res.on('end', () => resolve(t));
        },
      );
      req.on('error', reject);
      req.end(csr.toString('base64'));
    });
    const { readCertsOnly } = await import('../lib/x509/pkcs7.ts');
    const { parseCertificate } = await import('../lib/x509/parse-certificate.ts');
    const serial = parseCertificate(readCertsOnly(Buffer.from(e, 'base64'))[0]!).serialHex;
    const t0 = performance.now();
    await api('POST', '/v1/revocations', sec, { serial }, { 'content-type': 'application/json' });
    const needle = Buffer.from(serial, 'hex');
    let etag = '';
    for (;;) {
      // poll as a relying party would: If-None-Match, so an unchanged CRL costs a 304
      const res = await fetch(`http://127.0.0.1:${httpPort}/crl/${issuing.id}.crl`, {
        headers: etag ? { 'if-none-match': etag } : {},
      });
      etag = res.headers.get('etag') ?? etag;
      const crl = Buffer.from(await res.arrayBuffer());
      if (res.status === 200 && crl.includes(needle)) break;
      if (performance.now() - t0 > 10_000) throw new Error('CRL did not show the revocation within 10 s');
      await new Promise((r) => setTimeout(r, 5));
    }
    latencies.push(Math.round(performance.now() - t0));
  }
} finally {
  await stop(es);
}

// ── openssl ocsp -index ──
const odir = mkdtempSync(join(tmpdir(), 'openssl-ocsp-'));
const expiry = `${notAfter.toISOString().slice(2, 19).replace(/[-T:]/g, '')}Z`;
const rtime = `${revokedAt.toISOString().slice(2, 19).replace(/[-T:]/g, '')}Z`;
writeFileSync(
  join(odir, 'index.txt'),
  serials
    .map((s) => `R\t${expiry}\t${rtime},keyCompromise\t${s.toUpperCase()}\tunknown\t/CN=seed\n`)
    .join(''),
);
writeFileSync(join(odir, 'ca.pem'), toPem('CERTIFICATE', issuing.cert.der));
const rk = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
writeFileSync(join(odir, 'rkey.pem'), rk.privateKey.export({ format: 'pem', type: 'pkcs8' }));
execFileSync('openssl', [
  'req',
  '-x509',
  '-new',
  '-key',
  join(odir, 'rkey.pem'),
  '-subj',
  '/CN=openssl responder',
  '-days',
  '2',
  '-out',
  join(odir, 'rcert.pem'),
]);
const oport = await freePort();
const os = start(
  'openssl',
  [
    'ocsp',
    '-index',
    join(odir, 'index.txt'),
    '-port',
    String(oport),
    '-rsigner',
    join(odir, 'rcert.pem'),
    '-rkey',
    join(odir, 'rkey.pem'),
    '-CA',
    join(odir, 'ca.pem'),
    '-multi',
    '2',
    '-nmin',
    '60',
  ],
  process.env,
);
let openssl: LoadResult;
try {
  await waitFor(
    async () => {
      try {
        await fetch(`http://127.0.0.1:${oport}/`, {
          method: 'POST',
          body: requests[0]!,
          headers: { 'content-type': 'application/ocsp-request' },
        });
        return true;
      } catch {
        return false;
      }
    },
    'openssl ocsp',
    60_000,
  );
  openssl = await ocspLoad(`http://127.0.0.1:${oport}`, '/');
} finally {
  await stop(os);
}

const show = (name: string, r: LoadResult) =>
  log(
    `${name.padEnd(22)} ${String(r.per_second).padStart(6)} responses/s  p50 ${r.p50_ms} ms  p99 ${r.p99_ms} ms  (${r.ok} ok, ${r.errors} errors${r.first_error ? `; first: ${r.first_error}` : ''})`,
  );
show('edgeseal OCSP', edgeseal);
show('openssl ocsp -index', openssl);
const sorted = [...latencies].sort((a, b) => a - b);
log(
  `revocation → new CRL with ${N} entries: median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted.at(-1)} ms (${latencies.join(', ')})`,
);
process.stdout.write(
  `${JSON.stringify({
    bench: 'revocation',
    revoked: N,
    concurrency: CONCURRENCY,
    seconds: SECONDS,
    edgeseal_ocsp: edgeseal,
    openssl_ocsp: openssl,
    ratio_ocsp_vs_openssl: openssl.per_second
      ? Math.round((edgeseal.per_second / openssl.per_second) * 100) / 100
      : null,
    crl_latency_ms: { median: sorted[Math.floor(sorted.length / 2)], max: sorted.at(-1), samples: latencies },
    enrollment_under_ocsp_flood: flood,
  })}\n`,
);
// keep-alive sockets must not hold the process open after the result is out
process.exit(0);
