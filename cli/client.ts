// Talks to the running control plane, found through the data directory: its URL in
// control-plane.json, its root in ca/root.pem, the admin credential in admin.token.
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { dataPaths } from '../ca-service/bootstrap.ts';
import { UsageError } from './output.ts';

export interface ApiClient {
  readonly url: string;
  call<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** GET a non-JSON body (CSV export) */
  text(path: string): Promise<string>;
  /** POST raw bytes (a model package); the answer is JSON */
  upload<T>(path: string, body: Buffer, contentType: string): Promise<T>;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: { code?: string; detail?: string },
  ) {
    super(problem.detail ?? `HTTP ${status}`);
  }
}

export function runningEndpoint(dataDir: string): { https_url: string; pid: number } | undefined {
  const p = dataPaths(dataDir).endpoint;
  if (!existsSync(p)) return undefined;
  const ep = JSON.parse(readFileSync(p, 'utf8')) as { https_url: string; pid: number };
  try {
    process.kill(ep.pid, 0);
    return ep;
  } catch {
    return undefined; // stale file from a process that died
  }
}

export function connect(dataDir: string, token: string | undefined, urlOverride?: string): ApiClient {
  const paths = dataPaths(dataDir);
  const url = urlOverride ?? runningEndpoint(dataDir)?.https_url;
  if (!url) {
    throw new UsageError(
      `no control plane is running for data directory ${dataDir}; start it with \`edgeseal up\` (or npm start)`,
    );
  }
  if (!existsSync(paths.rootPem))
    throw new UsageError(`no CA root at ${paths.rootPem}; run \`edgeseal init\` first`);
  const ca = readFileSync(paths.rootPem, 'utf8');
  const bearer =
    token ?? (existsSync(paths.adminToken) ? readFileSync(paths.adminToken, 'utf8').trim() : undefined);
  const send = <T>(
    method: string,
    path: string,
    body: unknown,
    raw: boolean,
    contentType?: string,
  ): Promise<T> =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body);
      const req = request(
        `${url}${path}`,
        {
          method,
          ca,
          headers: {
            accept: raw ? '*/*' : 'application/json',
            ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
            ...(payload ? { 'content-type': contentType ?? 'application/json' } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (raw && (res.statusCode ?? 500) < 400) return resolve(text as T);
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              parsed = { detail: text };
            }
            if ((res.statusCode ?? 500) >= 400)
              reject(new ApiError(res.statusCode ?? 500, (parsed ?? {}) as object));
            else resolve(parsed as T);
          });
        },
      );
      req.on('error', (e) =>
        reject(new UsageError(`cannot reach the control plane at ${url}: ${e.message}`)),
      );
      if (payload) req.write(payload);
      req.end();
    });
  return {
    url,
    call: <T>(method: string, path: string, body?: unknown) => send<T>(method, path, body, false),
    text: (path: string) => send<string>('GET', path, undefined, true),
    upload: <T>(path: string, body: Buffer, contentType: string) =>
      send<T>('POST', path, body, false, contentType),
  };
}
