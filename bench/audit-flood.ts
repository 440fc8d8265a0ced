// node --import tsx bench/audit-flood.ts — what one client without credentials adds to the
// audit log in BENCH_SECONDS (default 10): refused EST enrollments (no credential, made-up
// batch), oversized requests with a 15 KB path (413, refused before the body is sent) and bad
// bearer tokens, BENCH_CONCURRENCY (default 12) connections split over the three, against
// `edgeseal up ca` on PGlite in its own process. Reports the refusals sent, the audit events and
// the bytes of event content added (read back through /v1/audit/events once the aggregation
// window has passed), and the growth of the data directory. Last line: one JSON object.
//
// EDGESEAL_BIN measures another checkout, e.g. the commit before the fix:
//   git worktree add /tmp/before <commit> && ln -s "$PWD/node_modules" /tmp/before/node_modules
//   EDGESEAL_BIN=/tmp/before/bin/edgeseal.mjs node --import tsx bench/audit-flood.ts
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpsJson } from './lib/https-json.ts';
import { freePort, start, stop, waitFor } from './lib/processes.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 12);
const BIN = process.env.EDGESEAL_BIN ?? join(import.meta.dirname, '..', 'bin', 'edgeseal.mjs');
/** the aggregation window (EDGESEAL_AUDIT_REFUSAL_WINDOW_SECONDS, default 10) plus a margin */
const SETTLE_MS = Number(process.env.BENCH_SETTLE_SECONDS ?? 11) * 1000;
const log = (s: string) => process.stderr.write(`${s}\n`);
const du = (dir: string) => Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);

interface Event {
  seq: number;
  at: string;
  actor: string;
  action: string;
  outcome: string;
  subject: string | null;
  reason: string | null;
  details: string | null;
  prevHash: string;
  hash: string;
}

const dir = mkdtempSync(join(tmpdir(), 'edgeseal-audit-flood-'));
const [httpsPort, httpPort] = [await freePort(), await freePort()];
const p = start('node', [BIN, 'up', 'ca'], {
  ...process.env,
  EDGESEAL_DATA_DIR: dir,
  EDGESEAL_HTTPS_PORT: String(httpsPort),
  EDGESEAL_HTTP_PORT: String(httpPort),
  EDGESEAL_LOG_LEVEL: 'warn',
  DATABASE_URL: '',
});
try {
  await waitFor(() => existsSync(join(dir, 'control-plane.json')), 'edgeseal up ca');
  const base = `https://localhost:${httpsPort}`;
  const ca = readFileSync(join(dir, 'ca', 'root.pem'), 'utf8');
  const admin = { authorization: `Bearer ${readFileSync(join(dir, 'admin.token'), 'utf8').trim()}` };
  const head = async () =>
    (await httpsJson<{ head: { seq: number } | null }>(`${base}/v1/audit/head`, ca, { headers: admin })).head
      ?.seq ?? 0;
  const seqBefore = await head();
  const duBefore = du(dir);

  const agent = new Agent({ ca, keepAlive: true, maxSockets: CONCURRENCY });
  const send = (path: string, headers: Record<string, string>, body?: string) =>
    new Promise<number>((resolve) => {
      const req = request(
        `${base}${path}`,
        { method: 'POST', headers, ...(body === undefined ? { agent: false, ca } : { agent }) },
        (res) => {
          res.resume();
          res.on('end', () => {
            resolve(res.statusCode ?? 0);
            if (body === undefined) req.destroy();
          });
        },
      );
      req.on('error', () => resolve(0));
      if (body === undefined) req.flushHeaders();
      else req.end(body);
    });
  const longPath = `/v1/${'p'.repeat(15_000)}`;
  const attacks: Record<string, () => Promise<number>> = {
    est_enroll: () =>
      send(
        '/.well-known/est/simpleenroll',
        {
          'content-type': 'application/pkcs10',
          ...(Math.random() < 0.5
            ? {
                authorization: `Basic ${Buffer.from(`b_${Math.random().toString(36).slice(2)}:x`).toString('base64')}`,
              }
            : {}),
        },
        'AAAA',
      ),
    body_413_15kb_path: () =>
      send(longPath, { 'content-type': 'application/json', 'content-length': '70000' }),
    bad_bearer: () =>
      send(
        '/v1/batches',
        {
          'content-type': 'application/json',
          authorization: `Bearer tok_${Math.random().toString(36).slice(2)}.wrong`,
        },
        '{}',
      ),
  };
  const names = Object.keys(attacks);
  const sent: Record<string, Record<number, number>> = Object.fromEntries(names.map((n) => [n, {}]));
  log(`flooding ${base} for ${SECONDS} s with ${CONCURRENCY} connections (${BIN})…`);
  const until = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      const name = names[w % names.length]!;
      while (Date.now() < until) {
        const status = await attacks[name]!();
        sent[name]![status] = (sent[name]![status] ?? 0) + 1;
      }
    }),
  );
  agent.destroy();
  log(`flood over; waiting ${SETTLE_MS / 1000} s for the aggregation window…`);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const events: Event[] = [];
  for (let after = seqBefore; ; ) {
    const page = await httpsJson<{ items: Event[]; next_after: number | null }>(
      `${base}/v1/audit/events?after=${after}&limit=5000`,
      ca,
      { headers: admin },
    );
    events.push(...page.items);
    if (page.next_after === null) break;
    after = page.next_after;
  }
  const bytes = events.reduce(
    (a, e) =>
      a +
      [
        e.at,
        e.actor,
        e.action,
        e.outcome,
        e.subject ?? '',
        e.reason ?? '',
        e.details ?? '',
        e.prevHash,
        e.hash,
      ]
        .map((f) => Buffer.byteLength(f))
        .reduce((x, y) => x + y, 0),
    0,
  );
  const counted = events.reduce((a, e) => a + (JSON.parse(e.details ?? '{}').count ?? 1), 0);
  const largest = events.reduce((a, e) => Math.max(a, Buffer.byteLength(JSON.stringify(e))), 0);
  await stop(p);
  const result = {
    bin: BIN,
    seconds: SECONDS,
    concurrency: CONCURRENCY,
    sent: Object.fromEntries(names.map((n) => [n, sent[n]])),
    refusals_sent: Object.values(sent).reduce((a, s) => a + Object.values(s).reduce((x, y) => x + y, 0), 0),
    refusals_accounted: counted,
    audit_events_added: events.length,
    event_bytes_added: bytes,
    largest_event_bytes: largest,
    data_dir_growth_bytes: du(dir) - duBefore,
  };
  log(JSON.stringify(result, null, 2));
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await stop(p);
}
