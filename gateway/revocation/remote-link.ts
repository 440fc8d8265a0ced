// The control plane over its HTTPS API, for a gateway running on its own: a server
// certificate for a key made here (POST /v1/service-certificates), its lease, the
// revocation feed (GET /v1/revocations/events, server-sent events) with replay from the last
// event id on every reconnect, and the attestation feed (GET /v1/attestation/events, a full
// picture on every connect). Needs a token with the `gateway` role.
import { generateKeyPairSync } from 'node:crypto';
import { request } from 'node:https';
import type { Logger } from 'pino';
import { EdgesealError } from '../../lib/errors.ts';
import { toPem } from '../../lib/pem.ts';
import { buildCsr } from '../../lib/x509/build-csr.ts';
import type { ControlLink, ServerIdentity } from '../control-link.ts';
import type { AttestationView, DeviceState, Requirement } from '../attestation/attestation-view.ts';
import type { RevocationView } from './revocation-view.ts';
import { followSse } from './sse-follow.ts';

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
      const f = followSse(o, {
        name: 'revocation feed',
        path: () => '/v1/revocations/events',
        headers: () => ({ 'last-event-id': lastId }),
        onDown: (why) => view.sourceDown(why),
        onEvent: (e) => {
          if (e.event === 'revocation') {
            const d = JSON.parse(e.data) as { serial: string; device_id: string | null; reason: string };
            view.add([{ serial: d.serial, deviceId: d.device_id, reason: d.reason }]);
            if (e.id) lastId = e.id;
          } else if (e.event === 'ready') {
            view.sourceUp();
            return 'ready';
          } else if (e.event === 'reload') {
            return 'reconnect';
          }
          return undefined;
        },
      });
      await f.firstReady;
      return f.stop;
    },
    async followAttestation(view: AttestationView) {
      // every connection starts with the full picture (requirements, live states), then `ready`
      let states: DeviceState[] = [];
      let reqs: Requirement[] = [];
      let live = false;
      const f = followSse(o, {
        name: 'attestation feed',
        path: () => '/v1/attestation/events',
        headers: () => ({}),
        onDown: (why) => {
          live = false;
          states = [];
          reqs = [];
          view.sourceDown(why);
        },
        onEvent: (e) => {
          if (e.event === 'state') {
            const d = JSON.parse(e.data) as {
              device_id: string;
              hardware_model: string;
              status: DeviceState['status'];
              expires_at: string;
            };
            const st = {
              deviceId: d.device_id,
              hardwareModel: d.hardware_model,
              status: d.status,
              expiresAt: Date.parse(d.expires_at),
            };
            if (live) view.apply([st], []);
            else states.push(st);
          } else if (e.event === 'requirement') {
            const d = JSON.parse(e.data) as { hardware_model: string; required: boolean };
            const r = { hardwareModel: d.hardware_model, required: d.required };
            if (live) view.apply([], [r]);
            else reqs.push(r);
          } else if (e.event === 'ready') {
            view.reset(states, reqs);
            states = [];
            reqs = [];
            live = true;
            view.sourceUp();
            return 'ready';
          } else if (e.event === 'reload') {
            return 'reconnect';
          }
          return undefined;
        },
      });
      await f.firstReady;
      return f.stop;
    },
  };
}
