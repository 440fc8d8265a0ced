// What a server's answer means for the caller: the status it was supposed to be, a refusal
// (4xx: the server's code and detail, from RFC 9457 problem+json or EST's text body,
// RFC 7030 §4.2.3), or a failure worth retrying (5xx).
import { AgentError, RefusedError } from '../errors.ts';
import type { HttpResponse } from './https.ts';

const MAX_DETAIL = 300;

const clip = (s: string) => (s.length > MAX_DETAIL ? `${s.slice(0, MAX_DETAIL)}…` : s);

export function problemOf(res: HttpResponse): { code: string | undefined; detail: string } {
  const type = String(res.headers['content-type'] ?? '').toLowerCase();
  const text = res.body.toString('utf8').trim();
  if (type.includes('json')) {
    try {
      const p = JSON.parse(text) as { code?: unknown; detail?: unknown; title?: unknown };
      const detail = typeof p.detail === 'string' ? p.detail : typeof p.title === 'string' ? p.title : '';
      return {
        code: typeof p.code === 'string' ? clip(p.code) : undefined,
        detail: clip(detail || `HTTP ${res.status}`),
      };
    } catch {
      // not JSON after all: fall through to the text
    }
  }
  return { code: undefined, detail: clip(text.replace(/\s+/g, ' ') || `HTTP ${res.status}`) };
}

/** Returns the response if its status is one of `ok`; throws RefusedError on 4xx, AgentError otherwise. */
export function expectStatus(res: HttpResponse, what: string, ok: readonly number[]): HttpResponse {
  if (ok.includes(res.status)) return res;
  const { code, detail } = problemOf(res);
  if (res.status >= 400 && res.status < 500) throw new RefusedError(what, res.status, code, detail);
  throw new AgentError('ERR_UNAVAILABLE', `${what} failed (HTTP ${res.status}): ${detail}`);
}

/** The JSON body of a response, or a protocol error naming what was expected. */
export function jsonBody<T>(res: HttpResponse, what: string): T {
  try {
    const v: unknown = JSON.parse(res.body.toString('utf8'));
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as T;
  } catch {
    // fall through
  }
  throw new AgentError('ERR_PROTOCOL', `${what}: the answer is not a JSON object`);
}
