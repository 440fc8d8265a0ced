// An open SSE revocation feed lives only as long as its token: revoking the token (here, or on
// another instance, which only changes the row), or the token expiring, ends the stream within
// a second, with an `end` event that says why; a stream of another token keeps going.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCaConfig } from '../ca-service/config.ts';
import { type ControlPlane, startControlPlane } from '../ca-service/main.ts';
import { openDatabase } from '../ca-service/store/db.ts';
import { tmp } from './helpers/openssl.ts';
import { createToken, httpsFetch, startStack, type TestStack } from './helpers/stack.ts';

let s: TestStack;

beforeAll(async () => {
  s = await startStack();
});
afterAll(() => s?.stop());

/** Opens the feed; resolves once `ready` arrived. `ended` resolves when the server closes it. */
function openFeed(token: string) {
  const events: { event: string; data: string }[] = [];
  let endedAt = 0;
  let buffer = '';
  let markReady: () => void;
  const ready = new Promise<void>((r) => {
    markReady = r;
  });
  const ended = new Promise<void>((resolve, reject) => {
    const req = request(`${s.cp.httpsUrl}/v1/revocations/events`, {
      ca: readFileSync(s.cp.boot.paths.rootPem),
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    });
    req.on('response', (res) => {
      if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let i = buffer.indexOf('\n\n'); i >= 0; i = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          if (block.startsWith(':')) continue;
          const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
          events.push({ event, data: /^data: (.*)$/m.exec(block)?.[1] ?? '' });
          if (event === 'ready') markReady();
        }
      });
      res.on('end', () => {
        endedAt = Date.now();
        resolve();
      });
    });
    req.on('error', reject);
    req.end();
    afterAll(() => req.destroy());
  });
  return { events, ready, ended, endedAt: () => endedAt };
}

const idOf = (token: string) => token.split('.')[0]!;
const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([
    p,
    new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`not within ${ms} ms`)), ms)),
  ]);

describe('an open revocation feed and its token', () => {
  it('ends within a second of the token being revoked; a stream of another token goes on', async () => {
    const gw = await createToken(s, 'gateway');
    const bystander = openFeed(await createToken(s, 'gateway'));
    const feed = openFeed(gw);
    await Promise.all([feed.ready, bystander.ready]);
    const r = await s.api(`/v1/tokens/${idOf(gw)}/revoke`, { method: 'POST', token: s.adminToken });
    expect(r.status).toBe(200);
    const t0 = Date.now();
    await within(feed.ended, 1000);
    expect(feed.endedAt() - t0).toBeLessThan(1000);
    const end = feed.events.at(-1)!;
    expect(end.event).toBe('end');
    expect(JSON.parse(end.data)).toEqual({ reason: 'the API token has been revoked' });
    expect(bystander.endedAt()).toBe(0);
    // and it cannot come back
    expect((await s.api('/v1/revocations/events', { token: gw })).status).toBe(401);
  });

  it('ends within a second when another instance revokes the token (only the row changes)', async () => {
    const gw = await createToken(s, 'gateway');
    const feed = openFeed(gw);
    await feed.ready;
    await s.database.db.execute(sql`update api_tokens set revoked_at = now() where id = ${idOf(gw)}`);
    const t0 = Date.now();
    await within(feed.ended, 1000);
    expect(feed.endedAt() - t0).toBeLessThan(1000);
    expect(JSON.parse(feed.events.at(-1)!.data)).toEqual({ reason: 'this API token has been revoked' });
  });

  it('ends within a second of the token expiring', async () => {
    const gw = await createToken(s, 'gateway');
    const feed = openFeed(gw);
    await feed.ready;
    await s.database.db.execute(
      sql`update api_tokens set expires_at = now() + interval '1500 milliseconds' where id = ${idOf(gw)}`,
    );
    const expiresAt = Date.now() + 1500;
    await new Promise((r) => setTimeout(r, 1000));
    expect(feed.endedAt()).toBe(0); // still valid: still streaming
    await within(feed.ended, 2000);
    expect(feed.endedAt() - expiresAt).toBeLessThan(1000);
    expect(JSON.parse(feed.events.at(-1)!.data)).toEqual({ reason: 'this API token has expired' });
  });
});

describe.runIf(!!process.env.DATABASE_URL)('across control-plane instances on one Postgres', () => {
  let second: ControlPlane;
  let db2: Awaited<ReturnType<typeof openDatabase>>;
  beforeAll(async () => {
    // a second instance on the same database and KEK, as `edgeseal up ca` on another host would be
    db2 = await openDatabase({ databaseUrl: s.databaseUrl });
    second = await startControlPlane(
      parseCaConfig({
        EDGESEAL_DATA_DIR: tmp(),
        EDGESEAL_KEK: readFileSync(`${s.dir}/kek`, 'utf8').trim(),
        DATABASE_URL: s.databaseUrl,
        EDGESEAL_HTTPS_PORT: '0',
        EDGESEAL_HTTP_PORT: '0',
      }),
      { database: db2, log: pino({ level: 'silent' }), announce: false },
    );
  });
  afterAll(async () => {
    await second?.close();
    await db2?.close();
  });

  it('a feed on this instance ends within a second of its token being revoked on the other', async () => {
    const gw = await createToken(s, 'gateway');
    const feed = openFeed(gw);
    await feed.ready;
    const agent = new Agent({ ca: readFileSync(s.cp.boot.paths.rootPem, 'utf8') });
    const r = await httpsFetch(`${second.httpsUrl}/v1/tokens/${idOf(gw)}/revoke`, agent, {
      method: 'POST',
      token: s.adminToken,
    });
    agent.destroy();
    expect(r.status).toBe(200);
    const t0 = Date.now();
    await within(feed.ended, 1000);
    expect(feed.endedAt() - t0).toBeLessThan(1000);
  });
});
