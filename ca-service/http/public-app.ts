// The plain-HTTP app relying parties use without TLS (RFC 5019 expects it): CA certificates
// at the AIA caIssuers URLs and CRLs at the CRL distribution point URLs.
import { Hono } from 'hono';
import type { Logger } from 'pino';
import { EdgesealError } from '../../lib/errors.ts';
import type { Issuer } from '../core/issuer.ts';
import type { AppEnv } from './env.ts';
import { errorResponse } from './problem.ts';
import { requestLog } from './request-log.ts';

export function createPublicApp(
  issuers: readonly Issuer[],
  crl: (issuerId: string) => { der: Buffer; number: number } | undefined,
  log: Logger,
): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', requestLog(log));
  app.onError((err, c) => errorResponse(err, c));
  app.notFound((c) =>
    errorResponse(new EdgesealError('ERR_NOT_FOUND', `no route for ${c.req.method} ${c.req.path}`), c),
  );
  const byId = new Map(issuers.map((i) => [i.id, i.cert.der]));
  // RFC 5280 §4.2.2.1: caIssuers over HTTP serves a DER certificate.
  app.get('/ca/:file', (c) => {
    const m = /^(.+)\.crt$/.exec(c.req.param('file'));
    const der = m ? byId.get(m[1]!) : undefined;
    if (!der) throw new EdgesealError('ERR_NOT_FOUND', 'no such CA certificate');
    return c.body(new Uint8Array(der), 200, {
      'Content-Type': 'application/pkix-cert',
      'Cache-Control': 'public, max-age=86400',
    });
  });
  // RFC 5280 §4.2.1.13 / RFC 2585 §4.2: a DER CRL at the distribution point URL.
  app.get('/crl/:file', (c) => {
    const m = /^(.+)\.crl$/.exec(c.req.param('file'));
    const current = m ? crl(m[1]!) : undefined;
    if (!current) throw new EdgesealError('ERR_NOT_FOUND', 'no such CRL');
    return c.body(new Uint8Array(current.der), 200, {
      'Content-Type': 'application/pkix-crl',
      'Cache-Control': 'public, max-age=60',
      ETag: `"crl-${current.number}"`,
    });
  });
  app.get('/health', (c) => c.json({ status: 'ok' }));
  return app;
}
