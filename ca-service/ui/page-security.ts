// What every dashboard response carries, and what every dashboard POST must prove.
import type { MiddlewareHandler } from 'hono';
import { EdgesealError } from '../../lib/errors.ts';
import type { Clock } from '../core/ports.ts';
import type { RefusalSink } from '../core/refusals.ts';
import type { AppEnv } from '../http/env.ts';
import { peerAddress } from '../http/tls-peer.ts';

/**
 * No script, no framing (CSP frame-ancestors, with X-Frame-Options for older browsers), no
 * sniffing, nothing cached (the pages show who holds which certificate), and a Referer only
 * to ourselves (the same-origin check below may rely on it).
 */
export function securityHeaders(styleSource: string): MiddlewareHandler<AppEnv> {
  const headers = {
    'Content-Security-Policy': [
      "default-src 'none'",
      `style-src ${styleSource}`,
      "form-action 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ].join('; '),
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'same-origin',
    'Cross-Origin-Opener-Policy': 'same-origin',
  };
  return async (c, next) => {
    await next();
    // after the handler: redirects and error responses get them too
    for (const [k, v] of Object.entries(headers)) c.res.headers.set(k, v);
  };
}

const originOf = (url: string): string | undefined => {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
};

/**
 * Cross-site request forgery: a POST must come from one of our own pages. Browsers send
 * Origin on every cross-origin POST (Fetch, "append a request Origin header"); a same-origin
 * POST without it must at least carry our Referer (Referrer-Policy same-origin keeps it).
 * Fetch Metadata (Sec-Fetch-Site), where sent, must say same-origin. Refusals are audited.
 */
export function sameOriginPosts(refusals: RefusalSink, clock: Clock): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const own = new URL(c.req.url).origin;
    const origin = c.req.header('origin');
    const referer = c.req.header('referer');
    const site = c.req.header('sec-fetch-site');
    const claimed = origin ?? (referer === undefined ? undefined : (originOf(referer) ?? 'unparsable'));
    const ok = claimed === own && (site === undefined || site === 'same-origin');
    if (ok) return next();
    await refusals
      .refused({
        event: {
          at: clock.now(),
          actor: 'anonymous',
          action: `ui.${/^\/ui\/(login|logout)$/.exec(c.req.path)?.[1] ?? 'post'}`,
          outcome: 'refused',
          subject: `${c.req.method} ${c.req.path}`,
          reason: 'ERR_FORBIDDEN',
          details: {
            origin: claimed ?? 'none',
            ...(site === undefined ? {} : { sec_fetch_site: site }),
          },
        },
        source: peerAddress(c),
        verified: false,
      })
      .catch((err) => c.get('log')?.error({ err }, 'could not audit a cross-site refusal'));
    throw new EdgesealError('ERR_FORBIDDEN', 'cross-site request refused: post from the dashboard itself');
  };
}
