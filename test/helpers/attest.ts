// A device attesting over the real HTTPS API with its mTLS certificate: challenge, evidence
// signed with its key (attestation/evidence-sign.ts), the signed result; key release.
import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { signEvidence } from '../../attestation/index.ts';
import type { EnrolledDevice, TestStack } from './stack.ts';

export const AGENT_SHA = createHash('sha256').update('agent build').digest('hex');
export const sha256hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export interface AttestingDevice {
  readonly enrolled: EnrolledDevice;
  readonly key: KeyObject;
  readonly certDer: Buffer;
  readonly agent: Agent;
}

export function attestingDevice(s: TestStack, e: EnrolledDevice): AttestingDevice {
  const keyPem = readFileSync(e.keyPath);
  return {
    enrolled: e,
    key: createPrivateKey(keyPem),
    certDer: e.der,
    agent: new Agent({ ca: readFileSync(s.cp.boot.paths.rootPem), cert: readFileSync(e.path), key: keyPem }),
  };
}

/** HTTPS with the device's certificate (or none): status and parsed JSON. */
export function deviceCall(
  s: TestStack,
  d: AttestingDevice | undefined,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${s.cp.httpsUrl}${path}`,
      { method, agent: d?.agent ?? new Agent({ ca: readFileSync(s.cp.boot.paths.rootPem) }), headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({
            status: res.statusCode ?? 0,
            json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export const wrappingKeyPair = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });

export async function challenge(s: TestStack, d: AttestingDevice): Promise<string> {
  const r = await deviceCall(s, d, 'POST', '/v1/attestation/challenge');
  if (r.status !== 201) throw new Error(`challenge refused: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.nonce as string;
}

export interface EvidenceOptions {
  readonly firmware: string;
  readonly hardwareModel?: string;
  readonly wrappingKey?: KeyObject;
  readonly signer?: KeyObject;
  readonly chain?: Buffer[];
}

export function evidenceFor(
  s: TestStack,
  d: AttestingDevice,
  nonce: string,
  o: EvidenceOptions,
): Promise<string> {
  return signEvidence(
    {
      nonce,
      ueid: Buffer.concat([Buffer.from([1]), randomBytes(32)]),
      oemid: 32473,
      hardwareModel: o.hardwareModel ?? 'cam-v2',
      swname: 'edgeseal-agent',
      swversion: '0.1.0',
      firmware: { sha256: o.firmware },
      agent: { sha256: AGENT_SHA },
      wrappingKey: o.wrappingKey ?? wrappingKeyPair().publicKey,
      now: new Date(),
    },
    { key: o.signer ?? d.key, chain: o.chain ?? [d.certDer, s.cp.boot.hierarchy.issuing.cert.der] },
  );
}

export const submitEvidence = (
  s: TestStack,
  d: AttestingDevice,
  token: string,
  type = 'application/eat+jwt',
) => deviceCall(s, d, 'POST', '/v1/attestation/evidence', token, { 'content-type': type });

export interface Result {
  readonly status: string;
  readonly result: string;
  readonly reasons: { code: string }[];
  readonly expires_at: string;
}

/** A whole attestation round; the result as the device got it. */
export async function attestOnce(s: TestStack, d: AttestingDevice, o: EvidenceOptions): Promise<Result> {
  const r = await submitEvidence(s, d, await evidenceFor(s, d, await challenge(s, d), o));
  if (r.status !== 200) throw new Error(`evidence refused: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json as unknown as Result;
}

export const releaseKey = (s: TestStack, d: AttestingDevice, keyId: string, result: unknown) =>
  deviceCall(s, d, 'POST', `/v1/keys/${keyId}/release`, JSON.stringify({ result }), {
    'content-type': 'application/json',
  });

/** Registers a firmware image's digest for a model (security-admin token). */
export async function addFirmware(
  s: TestStack,
  token: string,
  body: { hardware_model: string; version: string; svn: number; sha256: string },
): Promise<void> {
  const r = await s.api('/v1/firmware', {
    method: 'POST',
    token,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (r.status !== 201) throw new Error(`firmware add failed: ${r.status} ${await r.text()}`);
}

export async function denyFirmware(s: TestStack, token: string, sha256: string): Promise<string[]> {
  const r = await s.api('/v1/firmware/deny', {
    method: 'POST',
    token,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sha256 }),
  });
  if (r.status !== 200) throw new Error(`firmware deny failed: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { devices_contraindicated: string[] }).devices_contraindicated;
}
