// Starts a real control plane for a test file: HTTPS and HTTP on ephemeral ports, data in
// in-memory PGlite — or, when DATABASE_URL is set, in a fresh Postgres database made for
// this file and dropped afterwards. The same suites run on both.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import pino from 'pino';
import postgres from 'postgres';
import { parseCaConfig } from '../../ca-service/config.ts';
import { type ControlPlane, startControlPlane } from '../../ca-service/main.ts';
import { type Database, openDatabase } from '../../ca-service/store/db.ts';
import { join } from 'node:path';
import { curl } from './curl.ts';
import { makeCsr, makeKey, openssl, tmp, writeTmp } from './openssl.ts';

export interface TestStack {
  readonly cp: ControlPlane;
  readonly dir: string;
  readonly adminToken: string;
  readonly databaseUrl: string | undefined;
  readonly database: Database;
  api(path: string, init?: RequestInit & { token?: string }): Promise<Response>;
  stop(): Promise<void>;
}

/** A fresh database: its URL (Postgres) or undefined (PGlite), and how to drop it. */
export async function freshDatabaseUrl(): Promise<{ url: string | undefined; drop(): Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (!base) return { url: undefined, drop: async () => {} };
  const name = `edgeseal_t_${randomBytes(6).toString('hex')}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const u = new URL(base);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const a = postgres(base, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

export async function startStack(env: Record<string, string> = {}): Promise<TestStack> {
  const dir = tmp();
  const db = await freshDatabaseUrl();
  const database = await openDatabase({ databaseUrl: db.url });
  const config = parseCaConfig({
    EDGESEAL_DATA_DIR: dir,
    EDGESEAL_HTTPS_PORT: '0',
    EDGESEAL_HTTP_PORT: '0',
    EDGESEAL_LOG_LEVEL: 'silent',
    ...(db.url ? { DATABASE_URL: db.url } : {}),
    ...env,
  });
  const cp = await startControlPlane(config, { database, log: pino({ level: 'silent' }) });
  const adminToken = readFileSync(cp.boot.paths.adminToken, 'utf8').trim();
  const ca = readFileSync(cp.boot.paths.rootPem, 'utf8');
  const agent = new Agent({ ca, keepAlive: false });
  return {
    cp,
    dir,
    adminToken,
    databaseUrl: db.url,
    database,
    api: (path, init = {}) => httpsFetch(`${cp.httpsUrl}${path}`, agent, init),
    async stop() {
      await cp.close();
      agent.destroy();
      await database.close();
      await db.drop();
    },
  };
}

/** fetch-like over node:https so tests can trust the test root (Node 20 fetch cannot). */
export function httpsFetch(
  url: string,
  agent: Agent,
  init: RequestInit & { token?: string } = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('authorization', `Bearer ${init.token}`);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: init.method ?? 'GET', headers: Object.fromEntries(headers), agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (typeof v === 'string') h.set(k, v);
            else if (Array.isArray(v)) for (const x of v) h.append(k, x);
          }
          resolve(
            new Response(chunks.length ? Buffer.concat(chunks) : null, {
              status: res.statusCode ?? 0,
              headers: h,
            }),
          );
        });
      },
    );
    req.on('error', reject);
    if (init.body) req.write(init.body as string | Buffer);
    req.end();
  });
}

export async function createBatch(
  s: TestStack,
  body: { hardware_model?: string; quota?: number; expires_in?: string; id_prefix?: string } = {},
): Promise<{ id: string; secret: string; hardware_model: string }> {
  const r = await s.api('/v1/batches', {
    method: 'POST',
    token: s.adminToken,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hardware_model: 'cam-v2', quota: 10, expires_in: '8h', ...body }),
  });
  if (r.status !== 201) throw new Error(`batch create failed: ${r.status} ${await r.text()}`);
  return (await r.json()) as { id: string; secret: string; hardware_model: string };
}

/** An API token for a role, made with the admin token. */
export async function createToken(s: TestStack, role: string): Promise<string> {
  const r = await s.api('/v1/tokens', {
    method: 'POST',
    token: s.adminToken,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ role }),
  });
  if (r.status !== 201) throw new Error(`token create failed: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { token: string }).token;
}

export interface EnrolledDevice {
  readonly path: string;
  readonly keyPath: string;
  readonly der: Buffer;
  readonly serial: string;
}

/** `curl` POSTing a DER CSR (base64, RFC 7030 §4.2.1) to EST simpleenroll with the batch credential. */
export function estSimpleEnroll(s: TestStack, batch: { id: string; secret: string }, csrDer: Buffer) {
  return curl(
    `${s.cp.httpsUrl}/.well-known/est/simpleenroll`,
    [
      '--cacert',
      s.cp.boot.paths.rootPem,
      '-u',
      `${batch.id}:${batch.secret}`,
      '-H',
      'Content-Type: application/pkcs10',
    ],
    csrDer.toString('base64'),
  );
}

/** Enrolls `cn` over EST with curl (a new batch unless one is given); the certificate as openssl sees it. */
export async function enrollDevice(
  s: TestStack,
  cn: string,
  batch?: { id: string; secret: string },
): Promise<EnrolledDevice> {
  const b = batch ?? (await createBatch(s));
  const dir = tmp();
  const key = makeKey('ec-p256', dir);
  const r = await estSimpleEnroll(s, b, makeCsr(key, `/CN=${cn}`));
  if (r.status !== 200) throw new Error(`enroll ${cn} failed: ${r.status} ${r.body}`);
  const p7 = writeTmp(dir, `${cn}.p7`, Buffer.from(r.body.toString(), 'base64'));
  const path = writeTmp(dir, `${cn}.pem`, openssl(['pkcs7', '-inform', 'DER', '-in', p7, '-print_certs']));
  const derPath = join(dir, `${cn}.der`);
  openssl(['x509', '-in', path, '-outform', 'DER', '-out', derPath]);
  const serial = openssl(['x509', '-in', path, '-noout', '-serial'])
    .trim()
    .replace('serial=', '')
    .toLowerCase();
  return { path, keyPath: key.keyPath, der: readFileSync(derPath), serial };
}

/** Revokes over `POST /v1/revocations` with a fresh security-admin token; the response. */
export async function revokeVia(
  s: TestStack,
  target: { serial?: string; device_id?: string; batch_id?: string; reason?: string },
): Promise<Response> {
  return s.api('/v1/revocations', {
    method: 'POST',
    token: await createToken(s, 'security-admin'),
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(target),
  });
}
