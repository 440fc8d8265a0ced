// The plain-HTTP app relying parties use without TLS (RFC 5019 expects it): CA certificates
// at the AIA caIssuers URLs and CRLs at the CRL distribution point URLs.
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Logger } from 'pino';
import { EdgesealError } from '../../lib/errors.ts';
import { decodeBase64Strict } from '../../lib/pem.ts';
import type { Issuer } from '../core/issuer.ts';
import type { OcspResponder } from '../revocation/ocsp-responder.ts';
import type { AppEnv } from './env.ts';
import { errorResponse } from './problem.ts';
import { requestLog } from './request-log.ts';

export function createPublicApp(
  issuers: readonly Issuer[],
  crl: (issuerId: string) => { der: Buffer; number: number } | undefined,
  ocsp: OcspResponder,
  log: Logger,
): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', requestLog(log));
  app.use(
    '*',
    bodyLimit({
      maxSize: 16_384,
      onError: () => {
        throw new EdgesealError('ERR_BODY_TOO_LARGE', 'request body is larger than 16384 bytes');
      },
    }),
  );
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
    const etag = `"crl-${current.number}"`;
    // relying parties (and gateways) poll: answer an unchanged CRL with 304, not 5 MB
    if (c.req.header('if-none-match') === etag) return c.body(null, 304, { ETag: etag });
    return c.body(new Uint8Array(current.der), 200, {
      'Content-Type': 'application/pkix-crl',
      'Cache-Control': 'public, max-age=60',
      ETag: `"crl-${current.number}"`,
    });
  });
  // OCSP: RFC 6960 §A.1 POST, and RFC 5019 §5 GET with the base64 request in the path.
  const ocspReply = (c: Context<AppEnv>, r: { der: Buffer; cacheable: boolean }) =>
    c.body(new Uint8Array(r.der), 200, {
      'Content-Type': 'application/ocsp-response',
      'Cache-Control': r.cacheable
        ? `public, max-age=${ocsp.opts.cacheSeconds}, no-transform, must-revalidate`
        : 'no-store',
    });
  app.post('/ocsp', async (c) => {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/ocsp-request') {
      throw new EdgesealError('ERR_UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/ocsp-request');
    }
    return ocspReply(c, await ocsp.respond(Buffer.from(await c.req.arrayBuffer())));
  });
  app.get('/ocsp/*', async (c) => {
    const encoded = c.req.path.slice('/ocsp/'.length);
    let der: Buffer;
    try {
      der = decodeBase64Strict(decodeURIComponent(encoded), 'OCSP request');
    } catch {
      der = Buffer.alloc(0); // answered as malformedRequest by the responder
    }
    return ocspReply(c, await ocsp.respond(der));
  });
  app.get('/health', (c) => c.json({ status: 'ok' }));
  return app;
}
