// The control plane over its HTTPS API, for a gateway running on its own: a server
// certificate for a key made here (POST /v1/service-certificates), and the revocation feed
// (GET /v1/revocations/events, server-sent events) with replay from the last event id on
// every reconnect. Needs a token with the `gateway` role.
import { generateKeyPairSync } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import type { Logger } from 'pino';
import { EdgesealError } from '../../lib/errors.ts';
import { toPem } from '../../lib/pem.ts';
import { buildCsr } from '../../lib/x509/build-csr.ts';
import type { ControlLink, ServerIdentity } from '../control-link.ts';
import type { RevocationView } from './revocation-view.ts';

export interface RemoteOptions {
  readonly caUrl: string;
  readonly token: string;
  /** PEM of the root CA the control plane's HTTPS certificate chains to */
  readonly rootPem: string;
  readonly log: Logger;
  /** silence after which the feed counts as lost (the server sends a comment every 15 s) */
  readonly idleTimeoutMs?: number;
}

interface ServiceCertResponse {
  serial: string;
  not_after: string;
  chain: string;
}

function callJson<T>(o: RemoteOptions, path: string, body?: unknown, method?: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      `${o.caUrl}${path}`,
      {
        method: method ?? (payload === undefined ? 'GET' : 'POST'),
        ca: o.rootPem,
        headers: {
          authorization: `Bearer ${o.token}`,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode && res.statusCode < 300)
            return resolve((text ? JSON.parse(text) : undefined) as T);
          let detail = text;
          try {
            detail = (JSON.parse(text) as { detail?: string }).detail ?? text;
          } catch {}
          // a conflict keeps its code: the gateway must stop rather than retry
          reject(
            res.statusCode === 409
              ? new EdgesealError('ERR_GATEWAY_CONFLICT', `control plane ${o.caUrl}: ${detail}`)
              : new EdgesealError(
                  'ERR_CONFIG',
                  `control plane ${o.caUrl} refused ${path}: ${res.statusCode} ${detail}`,
                ),
          );
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) =>
      reject(new EdgesealError('ERR_CONFIG', `cannot reach the control plane at ${o.caUrl}: ${e.message}`)),
    );
    req.end(payload);
  });
}

/** Parses a text/event-stream body (HTML Living Standard §9.2.6) into events. */
export class SseParser {
  private buf = '';
  private event = 'message';
  private data: string[] = [];
  private id: string | undefined;
  constructor(
    private readonly onEvent: (e: { event: string; data: string; id: string | undefined }) => void,
  ) {}
  feed(text: string): void {
    this.buf += text;
    let nl = this.buf.indexOf('\n');
    while (nl >= 0) {
      const line = this.buf.slice(0, nl).replace(/\r$/, '');
      this.buf = this.buf.slice(nl + 1);
      if (line === '') {
        if (this.data.length) this.onEvent({ event: this.event, data: this.data.join('\n'), id: this.id });
        this.event = 'message';
        this.data = [];
      } else if (!line.startsWith(':')) {
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (field === 'event') this.event = value;
        else if (field === 'data') this.data.push(value);
        else if (field === 'id') this.id = value;
      }
      nl = this.buf.indexOf('\n');
    }
  }
}

export function remoteControlLink(o: RemoteOptions): ControlLink {
  return {
    describe: o.caUrl,
    async trustPem() {
      const ca = await callJson<{ root: string; issuing: string }>(o, '/v1/ca');
      return `${ca.issuing}${ca.root}`;
    },
    async serverIdentity(hosts): Promise<ServerIdentity> {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const csr = buildCsr(privateKey, hosts.dns[0] ?? hosts.ips[0] ?? 'edgeseal-gateway');
      const r = await callJson<ServiceCertResponse>(o, '/v1/service-certificates', {
        kind: 'server',
        csr: toPem('CERTIFICATE REQUEST', csr),
        hosts: [...hosts.dns, ...hosts.ips],
      });
      return {
        keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
        certChainPem: r.chain,
        serial: r.serial,
        notAfter: new Date(r.not_after),
      };
    },
    async lease(req) {
      await callJson(
        o,
        `/v1/gateways/${encodeURIComponent(req.id)}/lease`,
        { routing: req.routing, ...(req.upstream ? { upstream: req.upstream } : {}) },
        'PUT',
      );
    },
    async releaseLease(id) {
      await callJson(o, `/v1/gateways/${encodeURIComponent(id)}/lease`, undefined, 'DELETE');
    },
    async followRevocations(view: RevocationView) {
      let lastId = '0';
      let stopped = false;
      let current: ReturnType<typeof request> | undefined;
      let backoff = 250;
      let firstReady: (() => void) | undefined;
      const ready = new Promise<void>((r) => {
        firstReady = r;
      });
      const connect = () => {
        if (stopped) return;
        let idle: NodeJS.Timeout | undefined;
        const resetIdle = () => {
          clearTimeout(idle);
          idle = setTimeout(() => req.destroy(new Error('feed silent')), o.idleTimeoutMs ?? 40_000);
          idle.unref();
        };
        let over = false;
        const again = (why: string) => {
          if (over) return;
          over = true;
          clearTimeout(idle);
          view.sourceDown(why);
          if (stopped) return;
          const t = setTimeout(connect, backoff);
          t.unref();
          backoff = Math.min(backoff * 2, 5000);
        };
        const req = request(`${o.caUrl}/v1/revocations/events`, {
          ca: o.rootPem,
          headers: {
            authorization: `Bearer ${o.token}`,
            accept: 'text/event-stream',
            'last-event-id': lastId,
          },
        });
        current = req;
        req.on('response', (res: IncomingMessage) => {
          if (res.statusCode !== 200) {
            o.log.error(
              { status: res.statusCode },
              'the control plane refused the revocation feed (is the token a gateway token?)',
            );
            res.resume();
            backoff = 5000;
            again(`HTTP ${res.statusCode}`);
            return;
          }
          resetIdle();
          res.setEncoding('utf8');
          const parser = new SseParser((e) => {
            if (e.event === 'revocation') {
              const d = JSON.parse(e.data) as { serial: string; device_id: string | null; reason: string };
              view.add([{ serial: d.serial, deviceId: d.device_id, reason: d.reason }]);
              if (e.id) lastId = e.id;
            } else if (e.event === 'ready') {
              backoff = 250;
              view.sourceUp();
              firstReady?.();
              firstReady = undefined;
            } else if (e.event === 'reload') {
              req.destroy(new Error('reload'));
            }
          });
          res.on('data', (t: string) => {
            resetIdle();
            parser.feed(t);
          });
          res.on('close', () => again('feed closed'));
        });
        req.on('error', (e) => {
          o.log.debug({ err: e.message }, 'revocation feed connection ended');
          again(e.message);
        });
        req.end();
      };
      connect();
      // Start-up waits for the first full list, briefly: under fail-closed nobody gets in
      // until it arrives anyway, and fail-open wants the best list it can get.
      await Promise.race([ready, new Promise((r) => setTimeout(r, 10_000).unref())]);
      return () => {
        stopped = true;
        current?.destroy();
      };
    },
  };
}
