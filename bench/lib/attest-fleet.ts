// A fleet of attesting devices for bench/attest.ts, made through the control plane's own API:
// a batch, a security-admin token, the firmware digest the devices report registered as a
// reference value, then each device enrolled over /v1/enroll with a key of its own. Evidence
// is signed the way the agent signs it (attestation/ signEvidence), with a fresh nonce.
import { createHash, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { Agent, request } from 'node:https';
import { signEvidence } from '../../attestation/index.ts';
import { fromPem, toPem } from '../../lib/pem.ts';
import { buildCsr } from '../../lib/x509/build-csr.ts';
import { httpsJson } from './https-json.ts';

export const MODEL = 'bench-cam';
const FIRMWARE_SHA = createHash('sha256').update('edgeseal bench firmware 1.0.0').digest('hex');
const AGENT_SHA = createHash('sha256').update('edgeseal bench agent 0.1.0').digest('hex');

export interface BenchDevice {
  readonly id: string;
  readonly serial: string;
  readonly key: KeyObject;
  readonly keyPem: string;
  readonly certPem: string;
  /** device certificate, then its issuing CA (DER): the evidence's x5c */
  readonly chain: readonly Buffer[];
  readonly ueid: Buffer;
  /** made once per agent start (device-agent keeps it in memory) */
  readonly wrappingKey: KeyObject;
}

/** Reference values and `n` enrolled devices on the control plane at `base`. */
export async function prepareFleet(base: string, rootPem: string, adminToken: string, n: number) {
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const batch = await httpsJson<{ id: string; secret: string }>(`${base}/v1/batches`, rootPem, {
    method: 'POST',
    headers: bearer(adminToken),
    body: { hardware_model: MODEL, quota: n + 10, expires_in: '2h' },
  });
  const sec = await httpsJson<{ token: string }>(`${base}/v1/tokens`, rootPem, {
    method: 'POST',
    headers: bearer(adminToken),
    body: { role: 'security-admin', expires_in: '2h' },
  });
  await httpsJson(`${base}/v1/firmware`, rootPem, {
    method: 'POST',
    headers: bearer(sec.token),
    body: { hardware_model: MODEL, version: '1.0.0', svn: 1, sha256: FIRMWARE_SHA },
  });
  const basic = `Basic ${Buffer.from(`${batch.id}:${batch.secret}`).toString('base64')}`;
  const devices: BenchDevice[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < n) {
        const i = next++;
        const id = `bench-att-${i}`;
        const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
        const r = await httpsJson<{
          serial: string;
          device_id: string;
          certificate: string;
          chain: string[];
        }>(`${base}/v1/enroll`, rootPem, {
          method: 'POST',
          headers: { authorization: basic },
          body: { csr: toPem('CERTIFICATE REQUEST', buildCsr(privateKey, id)) },
        });
        devices[i] = {
          id: r.device_id,
          serial: r.serial,
          key: privateKey,
          keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
          certPem: r.certificate,
          // the issuing CA is first in the chain the CA returns (then the root)
          chain: [fromPem(r.certificate, 'CERTIFICATE'), fromPem(r.chain[0]!, 'CERTIFICATE')],
          ueid: Buffer.concat([Buffer.from([1]), randomBytes(32)]),
          wrappingKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
        };
      }
    }),
  );
  return devices;
}

/** The device's evidence for `nonce`, signed now with its own key (no pre-signing). */
export function evidence(d: BenchDevice, nonce: string): Promise<string> {
  return signEvidence(
    {
      nonce,
      ueid: d.ueid,
      oemid: 32473,
      hardwareModel: MODEL,
      swname: 'edgeseal-agent',
      swversion: '0.1.0',
      firmware: { sha256: FIRMWARE_SHA, version: '1.0.0' },
      agent: { sha256: AGENT_SHA },
      wrappingKey: d.wrappingKey,
      now: new Date(),
    },
    { key: d.key, chain: d.chain },
  );
}

/** A keep-alive HTTPS agent presenting the device's certificate (mTLS), one socket. */
export const deviceAgent = (d: BenchDevice, rootPem: string) =>
  new Agent({ keepAlive: true, maxSockets: 1, ca: rootPem, cert: d.certPem, key: d.keyPem });

/** POST over the device's agent: status and body text. */
export function devicePost(
  url: string,
  agent: Agent,
  body: string,
  contentType?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { 'content-length': Buffer.byteLength(body) };
    if (contentType) headers['content-type'] = contentType;
    const req = request(url, { method: 'POST', agent, headers }, (res) => {
      let t = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        t += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: t }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
