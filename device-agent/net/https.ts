// HTTPS to the control plane: node:https with one keep-alive Agent per TLS identity. The
// device's certificate changes at renewal; use() swaps in a new Agent so later requests
// present the new one, and the old Agent's connections are closed once idle.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Agent, request } from 'node:https';
import type { SecureContext } from 'node:tls';
import { AgentError } from '../errors.ts';

export interface TlsSettings {
  /** our certificate, key and the root to trust, built once per identity */
  readonly secureContext?: SecureContext;
  /** the roots to trust when no secure context is given (PEM) */
  readonly ca?: string;
  /** false only for the fingerprint bootstrap's one unverified GET of cacerts */
  readonly rejectUnauthorized?: boolean;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** An answer whose body the caller reads as a stream (a package download) and must consume or destroy. */
export interface StreamedResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: IncomingMessage;
}

export interface RequestOptions {
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array;
  readonly timeoutMs?: number;
}

/** Answers larger than this are not ours (a chain is ~2 KiB, a JWE ~1 KiB). */
export const MAX_RESPONSE_BYTES = 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 15_000;
/** how long a replaced Agent may finish what it was doing before its sockets are closed */
const RETIRE_AFTER_MS = 30_000;

/** Node's codes for a server certificate that does not verify against what we trust. */
const TRUST_FAILURES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function agentFor(tls: TlsSettings): Agent {
  return new Agent({
    keepAlive: true,
    maxSockets: 4,
    ...(tls.secureContext ? { secureContext: tls.secureContext } : {}),
    ...(tls.ca ? { ca: tls.ca } : {}),
    rejectUnauthorized: tls.rejectUnauthorized ?? true,
  });
}

export class HttpsClient {
  private agent: Agent;
  private readonly retiring = new Set<Agent>();
  private closed = false;

  constructor(tls: TlsSettings) {
    this.agent = agentFor(tls);
  }

  /** Later requests use these TLS settings (a renewed certificate); in-flight ones finish. */
  use(tls: TlsSettings): void {
    const old = this.agent;
    this.agent = agentFor(tls);
    this.retiring.add(old);
    setTimeout(() => {
      old.destroy();
      this.retiring.delete(old);
    }, RETIRE_AFTER_MS).unref();
  }

  request(method: string, url: string, opts: RequestOptions = {}): Promise<HttpResponse> {
    const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
    if (this.closed)
      return Promise.reject(new AgentError('ERR_UNAVAILABLE', `${method} ${url}: the client is closed`));
    return new Promise((resolve, reject) => {
      const failed = (e: Error) => reject(this.failure(method, url, e));
      const req = request(
        url,
        {
          method,
          agent: this.agent,
          headers: { ...opts.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_RESPONSE_BYTES) {
              res.destroy(new Error(`response larger than ${MAX_RESPONSE_BYTES} bytes`));
              return;
            }
            chunks.push(c);
          });
          res.on('error', failed);
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
        },
      );
      req.setTimeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, () => req.destroy(new Error('timed out')));
      req.on('error', failed);
      req.end(body);
    });
  }

  /**
   * A request whose answer is not buffered: the body arrives as a stream, with no size limit
   * (a model package is hundreds of MB). `timeoutMs` is the idle time allowed between bytes.
   */
  stream(method: string, url: string, opts: RequestOptions = {}): Promise<StreamedResponse> {
    if (this.closed)
      return Promise.reject(new AgentError('ERR_UNAVAILABLE', `${method} ${url}: the client is closed`));
    return new Promise((resolve, reject) => {
      const req = request(url, { method, agent: this.agent, headers: { ...opts.headers } }, (res) =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }),
      );
      req.setTimeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, () => req.destroy(new Error('timed out')));
      req.on('error', (e) => reject(this.failure(method, url, e)));
      req.end();
    });
  }

  private failure(method: string, url: string, e: Error): AgentError {
    const code = (e as NodeJS.ErrnoException).code;
    return code && TRUST_FAILURES.has(code)
      ? new AgentError('ERR_TRUST', `the server at ${url} is not trusted: ${e.message}`, { cause: e })
      : new AgentError('ERR_UNAVAILABLE', `${method} ${url}: ${e.message}`, { cause: e });
  }

  /** Ends every connection, in-flight requests included (they fail); no request after this. */
  close(): void {
    this.closed = true;
    this.agent.destroy();
    for (const a of this.retiring) a.destroy();
    this.retiring.clear();
  }
}
