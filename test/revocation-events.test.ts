// Revocation events reach subscribers within a second: an SSE subscriber over HTTPS, and —
// when the suite runs on Postgres — a second control-plane instance on the same database,
// whose CRL and OCSP answers change without it being asked to revoke anything.
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCaConfig } from '../ca-service/config.ts';
import { type ControlPlane, startControlPlane } from '../ca-service/main.ts';
import { openDatabase } from '../ca-service/store/db.ts';
import { curl } from './helpers/curl.ts';
import { openssl, tmp, writeTmp } from './helpers/openssl.ts';
import { createToken, enrollDevice, startStack, type TestStack } from './helpers/stack.ts';

let s: TestStack;
let sec: string;
let auditor: string;
const dir = tmp();
const json = { 'content-type': 'application/json' };

beforeAll(async () => {
  s = await startStack();
  sec = await createToken(s, 'security-admin');
  auditor = await createToken(s, 'auditor');
});
afterAll(() => s?.stop());

const enroll = (cn: string) => enrollDevice(s, cn);

/** Collects SSE events until `until` says stop. */
function subscribe(headers: Record<string, string> = {}) {
  const events: { event: string; id?: string; data: Record<string, string> }[] = [];
  let buffer = '';
  const ready = new Promise<void>((resolveReady, reject) => {
    const req = request(`${s.cp.httpsUrl}/v1/revocations/events`, {
      ca: readFileSync(s.cp.boot.paths.rootPem),
      headers: { authorization: `Bearer ${auditor}`, accept: 'text/event-stream', ...headers },
    });
    req.on('response', (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let i = buffer.indexOf('\n\n'); i >= 0; i = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          const ev: { event: string; id?: string; data: Record<string, string> } = {
            event: 'message',
            data: {},
          };
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) ev.event = line.slice(7);
            if (line.startsWith('id: ')) ev.id = line.slice(4);
            if (line.startsWith('data: ')) ev.data = JSON.parse(line.slice(6));
          }
          if (!block.startsWith(':')) events.push(ev);
          if (ev.event === 'ready') resolveReady();
        }
      });
    });
    req.on('error', reject);
    req.end();
    afterAll(() => req.destroy());
  });
  return { events, ready };
}

const waitFor = async (check: () => boolean, ms = 1000) => {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > ms) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - t0;
};

describe('revocation events over SSE', () => {
  it('a subscriber learns of a revocation within a second, with the device id; Last-Event-ID replays', async () => {
    const dev = await enroll('sse-1');
    const sub = subscribe();
    await sub.ready;
    await s.api('/v1/revocations', {
      method: 'POST',
      token: sec,
      headers: json,
      body: JSON.stringify({ serial: dev.serial, reason: 'keyCompromise' }),
    });
    const took = await waitFor(() => sub.events.some((e) => e.event === 'revocation'));
    expect(took).toBeLessThan(1000);
    const ev = sub.events.find((e) => e.event === 'revocation')!;
    expect(ev.data).toMatchObject({ serial: dev.serial, device_id: 'sse-1', reason: 'keyCompromise' });

    const replay = subscribe({ 'last-event-id': ev.id! });
    await replay.ready;
    expect(replay.events.filter((e) => e.event === 'revocation').map((e) => e.data.serial)).toContain(
      dev.serial,
    );
  });

  it('refuses subscribers without a token', async () => {
    const r = await s.api('/v1/revocations/events');
    expect(r.status).toBe(401);
  });
});

describe.runIf(!!process.env.DATABASE_URL)('across control-plane instances on one Postgres', () => {
  let second: ControlPlane;
  let db2: Awaited<ReturnType<typeof openDatabase>>;
  beforeAll(async () => {
    // a second instance on the same database and KEK, as `edgeseal up ca` on another host would be
    db2 = await openDatabase({ databaseUrl: s.databaseUrl });
    const kek = readFileSync(`${s.dir}/kek`, 'utf8').trim();
    second = await startControlPlane(
      parseCaConfig({
        EDGESEAL_DATA_DIR: tmp(),
        EDGESEAL_KEK: kek,
        DATABASE_URL: s.databaseUrl,
        EDGESEAL_HTTPS_PORT: '0',
        EDGESEAL_HTTP_PORT: '0',
      }),
      { database: db2, log: pino({ level: 'silent' }) },
    );
  });
  afterAll(async () => {
    await second?.close();
    await db2?.close();
  });

  it("the other instance's CRL and OCSP show a revocation within a second", async () => {
    const dev = await enroll('multi-1');
    const crlUrl = `${second.httpUrl}/crl/${s.cp.boot.hierarchy.issuing.id}.crl`;
    const listed = async () => {
      const r = await curl(crlUrl);
      const f = writeTmp(dir, `c-${Math.random()}.der`, r.body);
      return openssl(['crl', '-inform', 'DER', '-in', f, '-noout', '-text']).includes(
        dev.serial.toUpperCase(),
      );
    };
    expect(await listed()).toBe(false);
    const t0 = Date.now();
    await s.api('/v1/revocations', {
      method: 'POST',
      token: sec,
      headers: json,
      body: JSON.stringify({ serial: dev.serial }),
    });
    while (!(await listed()) && Date.now() - t0 < 1000) await new Promise((r) => setTimeout(r, 25));
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(second.crl.revoked(dev.serial)).toMatchObject({ deviceId: 'multi-1' });
  });
});
