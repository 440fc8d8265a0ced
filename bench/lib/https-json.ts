// One HTTPS JSON call against the control plane under test; a non-2xx status rejects.
import { request } from 'node:https';

export function httpsJson<T = Record<string, unknown>>(
  url: string,
  ca: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: init.method ?? 'GET', ca, headers: { 'content-type': 'application/json', ...init.headers } },
      (res) => {
        let t = '';
        res.on('data', (c) => {
          t += c;
        });
        res.on('end', () =>
          (res.statusCode ?? 500) < 300
            ? resolve(JSON.parse(t) as T)
            : reject(new Error(`${url}: ${res.statusCode} ${t}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(init.body === undefined ? undefined : JSON.stringify(init.body));
  });
}
