// A closed-loop load generator: `concurrency` workers each send one request at a time for
// `seconds`, over keep-alive connections. Latency is per request, end to end.
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface LoadResult {
  readonly ok: number;
  readonly errors: number;
  readonly seconds: number;
  readonly per_second: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly first_error?: string;
}

export interface Req {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

function send(
  url: URL,
  agent: HttpAgent | HttpsAgent,
  r: Req,
  binary: boolean,
): Promise<{ status: number; body: string }> {
  const payload = binary ? Buffer.from(r.body, 'latin1') : r.body;
  const fn = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = fn(
      {
        host: url.hostname,
        port: url.port,
        path: r.path,
        method: 'POST',
        agent,
        headers: { ...r.headers, 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let body = '';
        res.setEncoding(binary ? 'latin1' : 'utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export async function runLoad(opts: {
  base: string;
  ca?: string;
  concurrency: number;
  seconds: number;
  warmupSeconds: number;
  next: () => Req | undefined;
  ok: (status: number, body: string) => boolean;
  /** request bodies are latin1-encoded bytes (DER), not text */
  binary?: boolean;
}): Promise<LoadResult> {
  const url = new URL(opts.base);
  const agent =
    url.protocol === 'https:'
      ? new HttpsAgent({ keepAlive: true, maxSockets: opts.concurrency, ca: opts.ca })
      : new HttpAgent({ keepAlive: true, maxSockets: opts.concurrency });
  const lat: number[] = [];
  let ok = 0;
  let errors = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const warmEnd = t0 + opts.warmupSeconds * 1000;
  const end = warmEnd + opts.seconds * 1000;
  let measuredStart = warmEnd;
  let measuredEnd = end;
  let exhausted = false;
  const worker = async () => {
    for (;;) {
      const now = performance.now();
      if (now >= end) return;
      const r = opts.next();
      if (!r) {
        exhausted = true;
        measuredEnd = Math.min(measuredEnd, now);
        return;
      }
      const s = performance.now();
      let good = false;
      try {
        const res = await send(url, agent, r, opts.binary ?? false);
        good = opts.ok(res.status, res.body);
        if (!good && !firstError) firstError = `${res.status} ${res.body.slice(0, 200)}`;
      } catch (e) {
        if (!firstError) firstError = String(e);
      }
      const f = performance.now();
      if (s >= warmEnd && f <= end) {
        if (good) {
          ok++;
          lat.push(f - s);
        } else errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  agent.destroy();
  if (exhausted) measuredStart = Math.min(measuredStart, measuredEnd);
  const seconds = (measuredEnd - measuredStart) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number) =>
    lat.length ? Math.round(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]! * 100) / 100 : 0;
  return {
    ok,
    errors,
    seconds: Math.round(seconds * 100) / 100,
    per_second: seconds > 0 ? Math.round(ok / seconds) : 0,
    p50_ms: q(0.5),
    p99_ms: q(0.99),
    ...(firstError ? { first_error: firstError } : {}),
  };
}
