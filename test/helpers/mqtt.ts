// Gateways and MQTT peers for tests: a gateway beside a test control plane, mosquitto_pub /
// mosquitto_sub (Debian mosquitto-clients) as real device clients, service identities and
// JWE payloads.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import pino from 'pino';
import { parseGatewayConfig } from '../../gateway/config.ts';
import type { ControlLink } from '../../gateway/control-link.ts';
import { type Gateway, startGateway } from '../../gateway/main.ts';
import { localControlLink } from '../../gateway/revocation/local-feed.ts';
import { makeCsr, makeKey, tmp, writeTmp } from './openssl.ts';
import type { EnrolledDevice, TestStack } from './stack.ts';

export async function startTestGateway(
  s: TestStack,
  env: Record<string, string> = {},
  link?: ControlLink,
): Promise<Gateway> {
  const config = parseGatewayConfig({
    EDGESEAL_DATA_DIR: s.dir,
    EDGESEAL_GATEWAY_PORT: '0',
    EDGESEAL_GATEWAY_METRICS_PORT: '0',
    EDGESEAL_LOG_LEVEL: 'silent',
    ...env,
  });
  return startGateway(config, link ?? localControlLink(s.cp.local), {
    log: pino({ level: process.env.GATEWAY_TEST_LOG ?? 'silent' }),
  });
}

/** A compact JWE (RFC 7516, dir + A256GCM) of `text` under a random key: what a device sends. */
export function jwe(text: string): string {
  const header = Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid: 'test' })).toString(
    'base64url',
  );
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', randomBytes(32), iv);
  c.setAAD(Buffer.from(header));
  const ct = Buffer.concat([c.update(text), c.final()]);
  return [
    header,
    '',
    iv.toString('base64url'),
    ct.toString('base64url'),
    c.getAuthTag().toString('base64url'),
  ].join('.');
}

export interface Identity {
  readonly certPath: string;
  readonly keyPath: string;
}

export const deviceIdentity = (d: EnrolledDevice): Identity => ({ certPath: d.path, keyPath: d.keyPath });

/** A backend service identity (spiffe://…/service/<name>) from the control plane. */
export async function serviceIdentity(s: TestStack, name: string): Promise<Identity> {
  const dir = tmp();
  const key = makeKey('ec-p256', dir);
  const r = await s.api('/v1/service-certificates', {
    method: 'POST',
    token: s.adminToken,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'service', name, csr: makeCsr(key, `/CN=${name}`).toString('base64') }),
  });
  if (r.status !== 201) throw new Error(`service certificate failed: ${r.status} ${await r.text()}`);
  const body = (await r.json()) as { chain: string };
  return { certPath: writeTmp(dir, `${name}.pem`, body.chain), keyPath: key.keyPath };
}

const tlsArgs = (gw: { port: number }, root: string, id: Identity, clientId: string | undefined) => [
  '-h',
  '127.0.0.1',
  '-p',
  String(gw.port),
  '--cafile',
  root,
  '--cert',
  id.certPath,
  '--key',
  id.keyPath,
  ...(clientId === undefined ? [] : ['-i', clientId]),
];

export function rootOf(s: TestStack): string {
  return s.cp.boot.paths.rootPem;
}

/** mosquitto_pub; resolves with its exit status and output. */
export function mosquittoPub(
  gw: { port: number },
  root: string,
  id: Identity,
  clientId: string | undefined,
  args: string[],
): Promise<{ status: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      'mosquitto_pub',
      [...tlsArgs(gw, root, id, clientId), ...args],
      { encoding: 'utf8', timeout: 15_000 },
      (err, stdout, stderr) => {
        resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
      },
    );
  });
}

export interface Sub {
  readonly lines: string[];
  readonly proc: ChildProcess;
  readonly exited: Promise<{ status: number | null; out: string }>;
  waitFor(pred: (line: string) => boolean, ms?: number): Promise<string>;
  stop(): Promise<void>;
}

/** mosquitto_sub -v, running until stopped; its output lines as they come. */
export function mosquittoSub(
  gw: { port: number },
  root: string,
  id: Identity,
  clientId: string | undefined,
  args: string[],
): Sub {
  const proc = spawn('mosquitto_sub', [...tlsArgs(gw, root, id, clientId), '-v', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let all = '';
  const waiters: (() => void)[] = [];
  const onData = (b: Buffer) => {
    all += b.toString();
    const parts = all.split('\n');
    lines.splice(0, lines.length, ...parts.filter(Boolean));
    for (const w of waiters.splice(0)) w();
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  const exited = new Promise<{ status: number | null; out: string }>((r) =>
    proc.on('exit', (status) => r({ status, out: all })),
  );
  return {
    lines,
    proc,
    exited,
    waitFor(pred, ms = 5000) {
      return new Promise((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`timed out; output so far:\n${all}`)), ms);
        const check = () => {
          const hit = lines.find(pred);
          if (hit !== undefined) {
            clearTimeout(deadline);
            resolve(hit);
          } else waiters.push(check);
        };
        check();
      });
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** Waits until the gateway reports `n` open sessions (mosquitto_sub has subscribed when it has). */
export async function untilSessions(gw: Gateway, n: number, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (gw.broker.openSessions !== n) {
    if (Date.now() > end) throw new Error(`expected ${n} sessions, have ${gw.broker.openSessions}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function metricsText(gw: Gateway): Promise<string> {
  const r = await fetch(`${gw.metricsUrl}/metrics`);
  return r.text();
}

/** the value of one metric line, e.g. metric(text, 'edgeseal_gateway_refusals_total{reason="revoked"}') */
export function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : 0;
}
