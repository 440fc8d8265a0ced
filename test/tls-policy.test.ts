// Both TLS listeners (the gateway's MQTTS, the control plane's HTTPS) offer TLS 1.3, or TLS 1.2
// with ECDHE and an AEAD cipher only (lib/tls-policy.ts): openssl s_client, as a scanner would.
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../gateway/main.ts';
import { rootOf, startTestGateway } from './helpers/mqtt.ts';
import { enrollDevice, type EnrolledDevice, startStack, type TestStack } from './helpers/stack.ts';

let s: TestStack;
let gw: Gateway;
let dev: EnrolledDevice;

beforeAll(async () => {
  s = await startStack();
  gw = await startTestGateway(s);
  dev = await enrollDevice(s, 'cam-tls1');
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await s?.stop();
});

/** openssl s_client's verdict: the protocol and suite it negotiated, or undefined when the handshake failed. */
function handshake(port: number, args: string[], cert?: EnrolledDevice): Promise<string | undefined> {
  const client = cert ? ['-cert', cert.path, '-key', cert.keyPath] : [];
  return new Promise((resolve) => {
    const p = execFile(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', rootOf(s), '-brief', ...client, ...args],
      { encoding: 'utf8', timeout: 10_000 },
      (err, stdout, stderr) => {
        const out = `${stdout}${stderr}`;
        const version = /Protocol version: (\S+)/.exec(out)?.[1];
        const suite = /Ciphersuite: (\S+)/.exec(out)?.[1];
        resolve(err || !version ? undefined : `${version} ${suite}`);
      },
    );
    p.stdin?.end();
  });
}

const listeners = () => [
  { name: 'gateway MQTTS', port: gw.port, cert: dev },
  { name: 'control plane HTTPS', port: Number(new URL(s.cp.httpsUrl).port), cert: undefined },
];

describe('TLS policy: AEAD with forward secrecy only', () => {
  it.each([
    'ECDHE-ECDSA-AES128-SHA', // CBC, SHA-1 MAC: accepted by Node's default list
    'ECDHE-ECDSA-AES256-SHA384', // CBC
  ])('refuses TLS 1.2 with %s on both listeners', async (cipher) => {
    for (const l of listeners()) {
      expect(await handshake(l.port, ['-tls1_2', '-cipher', cipher], l.cert), l.name).toBeUndefined();
    }
  });

  it('accepts TLS 1.2 with ECDHE-ECDSA AES-GCM and ChaCha20-Poly1305, and TLS 1.3, on both listeners', async () => {
    for (const l of listeners()) {
      for (const cipher of ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-CHACHA20-POLY1305']) {
        expect(await handshake(l.port, ['-tls1_2', '-cipher', cipher], l.cert), l.name).toBe(
          `TLSv1.2 ${cipher}`,
        );
      }
      expect(await handshake(l.port, ['-tls1_3'], l.cert), l.name).toMatch(/^TLSv1\.3 TLS_/);
      expect(await handshake(l.port, ['-tls1_1'], l.cert), l.name).toBeUndefined();
    }
  });
});
