// Every bad enrollment input gets its own clear error, leaves nothing behind but the audit
// entry of the refusal, and the service keeps serving. EST answers in text/plain with the
// RFC's status; /v1 answers in problem+json.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../ca-service/store/db.ts';
import { toPem } from '../lib/pem.ts';
import { craftCsr } from './helpers/craft-csr.ts';
import { curl } from './helpers/curl.ts';
import { makeCsr, makeKey, tmp } from './helpers/openssl.ts';
import { createBatch, startStack, type TestStack } from './helpers/stack.ts';

let s: TestStack;
let est: string;
const dir = tmp();

beforeAll(async () => {
  s = await startStack();
  est = `${s.cp.httpsUrl}/.well-known/est`;
});
afterAll(() => s?.stop());

type Batch = { id: string; secret: string };
const b64 = (der: Buffer) => der.toString('base64').replace(/.{64}/g, '$&\n');

const enroll = (batch: Batch | null, body: string | Buffer, contentType = 'application/pkcs10') =>
  curl(
    `${est}/simpleenroll`,
    [
      '--cacert',
      s.cp.boot.paths.rootPem,
      ...(batch ? ['-u', `${batch.id}:${batch.secret}`] : []),
      '-H',
      `Content-Type: ${contentType}`,
    ],
    body,
  );

async function counts() {
  // repeated refusals of unverified callers are counted and written at the next flush
  await s.cp.refusals.flush();
  const [r] = rowsOf<{ certs: number; devices: number; refused: number }>(
    await s.database.db.execute(sql`select
      (select count(*)::int from certificates where kind = 'device') as certs,
      (select count(*)::int from devices) as devices,
      (select count(*)::int from audit_events where outcome = 'refused') as refused`),
  );
  return r!;
}

async function lastRefusal() {
  const [r] = rowsOf<{ actor: string; action: string; reason: string; subject: string | null }>(
    await s.database.db.execute(
      sql`select actor, action, reason, subject from audit_events where outcome = 'refused' order by seq desc limit 1`,
    ),
  );
  return r!;
}

/** Asserts the refusal: status, message, nothing stored, one audit refusal with the code. */
async function expectRefused(
  run: () => Promise<{ status: number; body: Buffer; headers: string }>,
  status: number,
  message: RegExp,
  code: string,
) {
  const before = await counts();
  const r = await run();
  expect(r.status, r.body.toString()).toBe(status);
  expect(r.body.toString()).toMatch(message);
  const after = await counts();
  expect(after.certs).toBe(before.certs);
  expect(after.devices).toBe(before.devices);
  expect(after.refused).toBe(before.refused + 1);
  expect((await lastRefusal()).reason).toBe(code);
  return r;
}

describe('EST simpleenroll refusals', () => {
  let batch: Batch;
  beforeAll(async () => {
    batch = await createBatch(s, { hardware_model: 'cam-v2', quota: 100, id_prefix: 'cam-' });
  });

  it('malformed base64', async () => {
    const r = await expectRefused(
      () => enroll(batch, '@@not base64!!'),
      400,
      /not valid base64/,
      'ERR_BAD_ENCODING',
    );
    expect(r.headers).toMatch(/content-type: text\/plain/i);
  });

  it('base64 that is not DER', () =>
    expectRefused(
      () => enroll(batch, Buffer.from('hello world, not a CSR').toString('base64')),
      400,
      /not valid DER/,
      'ERR_CSR_MALFORMED',
    ));

  it('a PEM body where base64 DER is expected', () =>
    expectRefused(
      () => enroll(batch, toPem('CERTIFICATE REQUEST', makeCsr(makeKey('ec-p256', dir), '/CN=cam-pem'))),
      400,
      /not valid base64/,
      'ERR_BAD_ENCODING',
    ));

  it('a CSR whose signature does not verify', async () => {
    const csr = makeCsr(makeKey('ec-p256', dir), '/CN=cam-badsig');
    // flip a bit inside the subject: the signature no longer covers these bytes
    const i = csr.indexOf(Buffer.from('cam-badsig'));
    csr[i] = 'd'.charCodeAt(0);
    await expectRefused(() => enroll(batch, b64(csr)), 400, /signature does not verify/, 'ERR_CSR_SIGNATURE');
  });

  it('an oversized body, audited although no handler saw it', async () => {
    const r = await expectRefused(
      () => enroll(batch, 'A'.repeat(200_000)),
      413,
      /larger than 65536 bytes/,
      'ERR_BODY_TOO_LARGE',
    );
    expect(r.status).toBe(413);
    expect(await lastRefusal()).toMatchObject({
      actor: `unverified:batch:${batch.id}`,
      action: 'http.request',
      subject: 'POST /.well-known/est/simpleenroll',
    });
  });

  it('the wrong content type', () =>
    expectRefused(
      () => enroll(batch, b64(makeCsr(makeKey('ec-p256', dir), '/CN=cam-ct')), 'application/json'),
      415,
      /must be application\/pkcs10/,
      'ERR_UNSUPPORTED_MEDIA_TYPE',
    ));

  it('no credential, an unknown batch, and a wrong secret are 401 with a Basic challenge', async () => {
    const csr = b64(makeCsr(makeKey('ec-p256', dir), '/CN=cam-auth'));
    const none = await expectRefused(
      () => enroll(null, csr),
      401,
      /needs a production batch credential/,
      'ERR_UNAUTHENTICATED',
    );
    expect(none.headers).toMatch(/www-authenticate: Basic realm="edgeseal EST"/i);
    await expectRefused(
      () => enroll({ id: 'b_nosuchbatch', secret: 'x' }, csr),
      401,
      /unknown batch or wrong batch secret/,
      'ERR_UNAUTHENTICATED',
    );
    await expectRefused(
      () => enroll({ id: batch.id, secret: 'wrong' }, csr),
      401,
      /unknown batch or wrong batch secret/,
      'ERR_UNAUTHENTICATED',
    );
  });

  it('weak and unknown keys say why', async () => {
    await expectRefused(
      () => enroll(batch, b64(makeCsr(makeKey('rsa-1024', dir), '/CN=cam-rsa'))),
      400,
      /RSA key of 1024 bits is too weak/,
      'ERR_KEY_WEAK',
    );
    await expectRefused(
      () => enroll(batch, b64(makeCsr(makeKey('ec-secp256k1', dir), '/CN=cam-k1'))),
      400,
      /curve 1\.3\.132\.0\.10 is not accepted/,
      'ERR_KEY_UNSUPPORTED',
    );
  });

  it('device ids: bad charset, too long, missing CN, wrong prefix', async () => {
    const key = makeKey('ec-p256', dir);
    await expectRefused(
      () => enroll(batch, b64(makeCsr(key, '/CN=cam:1'))),
      400,
      /must be 1–64 characters/,
      'ERR_DEVICE_ID_INVALID',
    );
    await expectRefused(
      () => enroll(batch, b64(craftCsr(`cam-${'x'.repeat(70)}`))),
      400,
      /must be 1–64 characters/,
      'ERR_DEVICE_ID_INVALID',
    );
    await expectRefused(
      () => enroll(batch, b64(makeCsr(key, '/O=acme'))),
      400,
      /exactly one CN/,
      'ERR_DEVICE_ID_INVALID',
    );
    await expectRefused(
      () => enroll(batch, b64(makeCsr(key, '/CN=lamp-1'))),
      400,
      /must start with this batch's prefix "cam-"/,
      'ERR_DEVICE_ID_INVALID',
    );
  });

  it('a hardware model that is not the batch model', () =>
    expectRefused(
      () => enroll(batch, b64(makeCsr(makeKey('ec-p256', dir), '/CN=cam-model/OU=lamp-v1'))),
      403,
      /hardware model "lamp-v1" does not match/,
      'ERR_HARDWARE_MODEL_MISMATCH',
    ));

  it('a device id already enrolled, and one key offered for two devices', async () => {
    const key = makeKey('ec-p256', dir);
    expect((await enroll(batch, b64(makeCsr(key, '/CN=cam-dup')))).status).toBe(200);
    await expectRefused(
      () => enroll(batch, b64(makeCsr(makeKey('ec-p256', dir), '/CN=cam-dup'))),
      409,
      /already enrolled/,
      'ERR_DEVICE_EXISTS',
    );
    await expectRefused(
      () => enroll(batch, b64(makeCsr(key, '/CN=cam-dup2'))),
      409,
      /already registered to another device/,
      'ERR_KEY_REUSED',
    );
  });
});

describe('batch state refusals', () => {
  it('exhausted quota', async () => {
    const batch = await createBatch(s, { quota: 1 });
    expect((await enroll(batch, b64(makeCsr(makeKey('ec-p256', dir), '/CN=q-1')))).status).toBe(200);
    await expectRefused(
      () => enroll(batch, b64(makeCsr(makeKey('ec-p256', dir), '/CN=q-2'))),
      403,
      /has used its quota of 1 devices/,
      'ERR_BATCH_QUOTA_EXHAUSTED',
    );
  });

  it('a revoked batch', async () => {
    const batch = await createBatch(s);
    const r = await s.api(`/v1/batches/${batch.id}/revoke`, { method: 'POST', token: s.adminToken });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { status: string }).status).toBe('revoked');
    await expectRefused(
      () => enroll(batch, b64(makeCsr(makeKey('ec-p256', dir), '/CN=rv-1'))),
      403,
      /has been revoked/,
      'ERR_BATCH_REVOKED',
    );
  });

  it('an expired batch', async () => {
    const batch = await createBatch(s);
    await s.database.db.execute(
      sql`update batches set expires_at = now() - interval '1 minute' where id = ${batch.id}`,
    );
    await expectRefused(
      () => enroll(batch, b64(makeCsr(makeKey('ec-p256', dir), '/CN=ex-1'))),
      403,
      /expired at/,
      'ERR_BATCH_EXPIRED',
    );
  });

  it('concurrent enrollments never exceed the quota', async () => {
    const batch = await createBatch(s, { quota: 5 });
    const csrs = Array.from({ length: 12 }, (_, i) => b64(makeCsr(makeKey('ec-p256', dir), `/CN=race-${i}`)));
    const results = await Promise.all(csrs.map((c) => enroll(batch, c)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(5);
    expect(results.filter((r) => r.status === 403)).toHaveLength(7);
    const got = await s.api(`/v1/batches/${batch.id}`, { token: s.adminToken });
    expect(((await got.json()) as { enrolled: number }).enrolled).toBe(5);
  });
});

describe('durability', () => {
  it('when the certificate cannot be recorded the client gets a 5xx, no certificate, and nothing half-written', async () => {
    const batch = await createBatch(s, { quota: 3 });
    await s.database.db.execute(
      sql.raw(`create or replace function edgeseal_test_fail() returns trigger language plpgsql as
        $$ begin raise exception 'disk full (test)'; end $$`),
    );
    await s.database.db.execute(
      sql.raw(
        'create trigger edgeseal_test_fail before insert on certificates for each row execute function edgeseal_test_fail()',
      ),
    );
    const key = makeKey('ec-p256', dir);
    const before = await counts();
    try {
      const r = await enroll(batch, b64(makeCsr(key, '/CN=durable-1')));
      expect(r.status).toBe(503);
      expect(r.body.toString()).toMatch(/could not be recorded; it was not issued/);
      expect(r.body.toString()).not.toMatch(/BEGIN|MII/);
    } finally {
      await s.database.db.execute(sql.raw('drop trigger edgeseal_test_fail on certificates'));
    }
    const after = await counts();
    expect(after.certs).toBe(before.certs);
    expect(after.devices).toBe(before.devices);
    const b = await s.api(`/v1/batches/${batch.id}`, { token: s.adminToken });
    expect(((await b.json()) as { enrolled: number }).enrolled).toBe(0);
    // the same device and key enroll cleanly once storage is back
    expect((await enroll(batch, b64(makeCsr(key, '/CN=durable-1')))).status).toBe(200);
  });
});

describe('the /v1 JSON twin', () => {
  const post = (path: string, body: unknown, batch?: Batch, contentType = 'application/json') =>
    s.api(path, {
      method: 'POST',
      headers: {
        'content-type': contentType,
        ...(batch
          ? { authorization: `Basic ${Buffer.from(`${batch.id}:${batch.secret}`).toString('base64')}` }
          : {}),
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('enrolls with a PEM CSR and returns PEM certificate and chain', async () => {
    const batch = await createBatch(s, { hardware_model: 'gw-1' });
    const r = await post(
      '/v1/enroll',
      {
        csr: toPem('CERTIFICATE REQUEST', makeCsr(makeKey('ed25519', dir), '/CN=json-1')),
        hardware_model: 'gw-1',
      },
      batch,
    );
    expect(r.status).toBe(201);
    const body = (await r.json()) as {
      device_id: string;
      certificate: string;
      chain: string[];
      serial: string;
    };
    expect(body.device_id).toBe('json-1');
    expect(body.certificate).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(body.chain).toHaveLength(2);
  });

  it('refusals are RFC 9457 problem+json with a stable code', async () => {
    const batch = await createBatch(s, { hardware_model: 'gw-1' });
    const cases: [unknown, number, string, string?][] = [
      ['{not json', 400, 'ERR_INVALID_REQUEST'],
      [{ csr: 42 }, 400, 'ERR_INVALID_REQUEST'],
      [
        { csr: '-----BEGIN CERTIFICATE REQUEST-----\n!!!\n-----END CERTIFICATE REQUEST-----' },
        400,
        'ERR_BAD_ENCODING',
      ],
      [
        {
          csr: toPem('CERTIFICATE REQUEST', makeCsr(makeKey('ec-p256', dir), '/CN=json-2')),
          hardware_model: 'other',
        },
        403,
        'ERR_HARDWARE_MODEL_MISMATCH',
      ],
      [{ csr: 'AAAA' }, 415, 'ERR_UNSUPPORTED_MEDIA_TYPE', 'text/plain'],
    ];
    for (const [body, status, code, ct] of cases) {
      const r = await post('/v1/enroll', body, batch, ct);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(r.headers.get('content-type')).toBe('application/problem+json');
      const p = (await r.json()) as Record<string, unknown>;
      expect(p.code).toBe(code);
      expect(p.type).toBe(`urn:edgeseal:error:${code}`);
      expect(p.status).toBe(status);
      expect(typeof p.detail).toBe('string');
      expect(typeof p.request_id).toBe('string');
    }
  });

  it('openapi.json describes the API as OpenAPI 3.1', async () => {
    const r = await s.api('/openapi.json');
    const doc = (await r.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/enroll', '/v1/batches', '/.well-known/est/simpleenroll']),
    );
  });
});

describe('the service keeps serving', () => {
  it('enrolls normally after all of the above', async () => {
    const batch = await createBatch(s);
    const r = await enroll(batch, b64(makeCsr(makeKey('ec-p256', dir), '/CN=still-serving')));
    expect(r.status).toBe(200);
  });
});
