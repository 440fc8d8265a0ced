// Enrollment latency while anyone floods OCSP with CertIDs for serials the CA never issued
// (issue 7 item 7): `edgeseal up` in its own process, EST simpleenroll at a steady
// concurrency, and in a worker thread a flood of OCSP requests, each with `certIds` unknown
// serials and a fresh nonce. Run against this tree and, for the "before" figure, against
// another commit extracted with `git archive` (the old responder, unchanged).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { fromPemAll } from '../../lib/pem.ts';
import { spkiKeyBits } from '../../lib/x509/certificate.ts';
import { parseCertificate } from '../../lib/x509/parse-certificate.ts';
import { httpsJson } from './https-json.ts';
import { type LoadResult, runLoad } from './load.ts';
import { freePort, start, stop, waitFor } from './processes.ts';

export interface FloodPhase {
  /** CertIDs per flood request; 0 = no flood */
  readonly certIds: number;
  readonly enroll: LoadResult;
  /** flood answers per second, by OCSPResponse status (ocsp-0 successful, ocsp-1 malformedRequest) */
  readonly flood?: Record<string, number>;
}

/** `bin/edgeseal.mjs` of `ref`, extracted read-only from git into a temporary directory. */
export function checkoutRef(ref: string): string {
  const root = join(import.meta.dirname, '..', '..');
  const dir = mkdtempSync(join(tmpdir(), `edgeseal-${ref.slice(0, 12)}-`));
  execFileSync('tar', ['-x', '-C', dir], {
    input: execFileSync('git', ['-C', root, 'archive', '--format=tar', ref], { maxBuffer: 1 << 30 }),
  });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  return join(dir, 'bin', 'edgeseal.mjs');
}

export async function enrollmentUnderFlood(opts: {
  readonly bin: string;
  readonly seconds: number;
  readonly enrollConcurrency: number;
  readonly floodConcurrency: number;
  /** one phase per entry: CertIDs per flood request, 0 for none */
  readonly phases: readonly number[];
  /** base64 DER CSRs, each used once */
  readonly csrs: string[];
}): Promise<FloodPhase[]> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeseal-bench-flood-'));
  const [https, http] = [await freePort(), await freePort()];
  const p = start('node', [opts.bin, 'up'], {
    ...process.env,
    EDGESEAL_DATA_DIR: dir,
    EDGESEAL_HTTPS_PORT: String(https),
    EDGESEAL_HTTP_PORT: String(http),
    EDGESEAL_LOG_LEVEL: 'warn',
    DATABASE_URL: '',
  });
  try {
    await waitFor(() => existsSync(join(dir, 'control-plane.json')), 'edgeseal up', 120_000);
    const base = `https://localhost:${https}`;
    const ca = readFileSync(join(dir, 'ca', 'root.pem'), 'utf8');
    const token = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
    const batch = await httpsJson<{ id: string; secret: string }>(`${base}/v1/batches`, ca, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: { hardware_model: 'bench', quota: 10_000_000, expires_in: '1d' },
    });
    const auth = `Basic ${Buffer.from(`${batch.id}:${batch.secret}`).toString('base64')}`;
    // CertIDs name this CA (SHA-1 as openssl makes them), so the responder must look them up
    const issuing = parseCertificate(fromPemAll(readFileSync(join(dir, 'ca', 'chain.pem'), 'utf8'))[0]!.der);
    const nameHash = createHash('sha1').update(issuing.subjectDer).digest();
    const keyHash = createHash('sha1').update(spkiKeyBits(issuing.spki)).digest();
    const warmup = Math.min(2, opts.seconds / 4);
    const out: FloodPhase[] = [];
    for (const certIds of opts.phases) {
      const flood =
        certIds > 0
          ? new Promise<Record<string, number>>((resolve, reject) => {
              const w = new Worker(new URL('./ocsp-flood-worker.mjs', import.meta.url), {
                workerData: {
                  url: `http://127.0.0.1:${http}/ocsp`,
                  nameHash,
                  keyHash,
                  certIds,
                  seconds: opts.seconds + warmup,
                  concurrency: opts.floodConcurrency,
                },
              });
              w.once('message', (m: { byStatus: Record<string, number> }) => resolve(m.byStatus));
              w.once('error', reject);
            })
          : undefined;
      const enroll = await runLoad({
        base,
        ca,
        concurrency: opts.enrollConcurrency,
        seconds: opts.seconds,
        warmupSeconds: warmup,
        next: () => {
          const csr = opts.csrs.pop();
          return csr
            ? {
                path: '/.well-known/est/simpleenroll',
                headers: { authorization: auth, 'content-type': 'application/pkcs10' },
                body: csr,
              }
            : undefined;
        },
        ok: (status) => status === 200,
      });
      const counts = await flood;
      out.push({
        certIds,
        enroll,
        ...(counts
          ? {
              flood: Object.fromEntries(
                Object.entries(counts).map(([k, v]) => [k, Math.round(v / (opts.seconds + warmup))]),
              ),
            }
          : {}),
      });
    }
    return out;
  } finally {
    await stop(p);
  }
}
