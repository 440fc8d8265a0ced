// EST (RFC 7030) as a device speaks it: cacerts (§4.1), simpleenroll with the production
// batch credential (§4.2.1, HTTP Basic per §3.2.3), simplereenroll authenticated by the
// current certificate over TLS (§4.2.2, §3.3.2). Bodies are base64 DER (RFC 8951).
import { fail } from '../errors.ts';
import type { HttpsClient } from '../net/https.ts';
import { expectStatus } from '../net/problem.ts';
import { type Cert, certsFromEstBody } from './certs.ts';

const base64Lines = (der: Buffer): string =>
  `${(der.toString('base64').match(/.{1,64}/g) ?? []).join('\n')}\n`;

export interface BatchCredential {
  readonly id: string;
  readonly secret: string;
}

export class EstClient {
  /** `estUrl`: the EST base, e.g. https://ca.example:8443/.well-known/est */
  constructor(
    readonly estUrl: string,
    private readonly http: HttpsClient,
  ) {}

  private url(op: string): string {
    return `${this.estUrl.replace(/\/+$/, '')}/${op}`;
  }

  /** §4.1: the CA certificates (issuing CA and root), no authentication. */
  async cacerts(): Promise<Cert[]> {
    const res = expectStatus(await this.http.request('GET', this.url('cacerts')), 'EST cacerts', [200]);
    return certsFromEstBody(res.body, 'the cacerts answer');
  }

  /** §4.2.1: first enrollment. */
  async simpleEnroll(csr: Buffer, batch: BatchCredential): Promise<Cert> {
    if (batch.id.includes(':')) fail('ERR_BAD_VALUE', `batch id "${batch.id}" cannot contain ":" (RFC 7617)`);
    const basic = Buffer.from(`${batch.id}:${batch.secret}`, 'utf8').toString('base64');
    return this.enrollRequest(
      'simpleenroll',
      csr,
      { authorization: `Basic ${basic}` },
      `enrollment with batch ${batch.id}`,
    );
  }

  /** §4.2.2: renewal with the same key; the TLS client certificate is the authentication. */
  simpleReenroll(csr: Buffer): Promise<Cert> {
    return this.enrollRequest('simplereenroll', csr, {}, 'EST re-enrollment');
  }

  private async enrollRequest(
    op: string,
    csr: Buffer,
    headers: Record<string, string>,
    what: string,
  ): Promise<Cert> {
    const res = expectStatus(
      await this.http.request('POST', this.url(op), {
        headers: { ...headers, 'content-type': 'application/pkcs10', 'content-transfer-encoding': 'base64' },
        body: base64Lines(csr),
      }),
      what,
      [200],
    );
    // §4.2.3: certs-only; the issued certificate is the one that is not a CA
    const leaf = certsFromEstBody(res.body, `the ${op} answer`).find((c) => !c.x509.ca);
    return leaf ?? fail('ERR_PROTOCOL', `the ${op} answer carries no end-entity certificate`);
  }
}
