// Certificates for the fleet's own services: a gateway's TLS server certificate (the
// gateway makes its key and sends a CSR) and backend MQTT client identities
// (spiffe://<trust domain>/service/<name>) that the gateway lets read telemetry.
import { isIP } from 'node:net';
import { Hono } from 'hono';
import { EdgesealError } from '../../../lib/errors.ts';
import { toPem } from '../../../lib/pem.ts';
import { parseCsr, verifyCsrSignature } from '../../../lib/x509/csr.ts';
import type { Issuer } from '../../core/issuer.ts';
import type { AuthorityStore, Clock } from '../../core/ports.ts';
import type { TokenService } from '../../core/tokens.ts';
import { certifyService } from '../../keys/server-identity.ts';
import { requirePermission } from '../auth.ts';
import type { AppEnv } from '../env.ts';
import { jsonBody } from '../validate.ts';
import { csrDer } from './enroll.ts';
import { ServiceCertificateBody } from './schemas.ts';

export function serviceRoutes(d: {
  tokens: TokenService;
  issuing: Issuer;
  root: Buffer;
  store: AuthorityStore;
  clock: Clock;
  trustDomain: string;
}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  // Everyone who may do either passes the first check; a backend identity needs more.
  app.post('/', requirePermission(d.tokens, 'service.server-certificate'), async (c) => {
    const body = await jsonBody(c, ServiceCertificateBody);
    const principal = c.get('principal');
    if (body.kind === 'service') {
      await d.tokens.authorize(
        /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1],
        'service.identity',
      );
    }
    const csr = parseCsr(csrDer(body.csr));
    verifyCsrSignature(csr); // proof of possession of the key being certified
    const what =
      body.kind === 'server'
        ? (() => {
            if (!body.hosts)
              throw new EdgesealError('ERR_INVALID_REQUEST', 'a server certificate needs hosts');
            return {
              kind: 'server' as const,
              hosts: { dns: body.hosts.filter((h) => !isIP(h)), ips: body.hosts.filter((h) => isIP(h)) },
            };
          })()
        : (() => {
            if (!body.name)
              throw new EdgesealError('ERR_INVALID_REQUEST', 'a service certificate needs a name');
            return { kind: 'service' as const, name: body.name, trustDomain: d.trustDomain };
          })();
    const cert = await certifyService(
      d.issuing,
      what,
      csr.spki,
      { type: csr.keyType, bits: csr.keyBits },
      d.store,
      d.clock.now(),
      principal.actor,
    );
    return c.json(
      {
        serial: cert.serial,
        not_after: cert.notAfter.toISOString(),
        certificate: toPem('CERTIFICATE', cert.der),
        chain: cert.chainPem,
        root: toPem('CERTIFICATE', d.root),
      },
      201,
    );
  });
  return app;
}
