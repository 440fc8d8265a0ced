// Inventory: search by every filter, cursor pagination, CSV export; hygiene findings.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { craftCsr } from './helpers/craft-csr.ts';
import { type KeySpec, makeCsr, makeKey, tmp } from './helpers/openssl.ts';
import { createBatch, createToken, estSimpleEnroll, startStack, type TestStack } from './helpers/stack.ts';

let s: TestStack;
let auditor: string;
let sec: string;
const dir = tmp();
const json = { 'content-type': 'application/json' };
let camBatch: { id: string; secret: string };
let lampBatch: { id: string; secret: string };

const token = (role: string) => createToken(s, role);

async function enroll(batch: { id: string; secret: string }, cn: string, spec: KeySpec = 'ec-p256') {
  const r = await estSimpleEnroll(
    s,
    batch,
    cn.startsWith('crafted:') ? craftCsr(cn.slice(8)) : makeCsr(makeKey(spec, dir), `/CN=${cn}`),
  );
  expect(r.status, r.body.toString()).toBe(200);
}

type Item = { serial: string; device_id: string; status: string; key_bits: number; hardware_model: string };
const search = async (q: string) =>
  (await (await s.api(`/v1/certificates?${q}`, { token: auditor })).json()) as {
    items: Item[];
    next_cursor: number | null;
  };

beforeAll(async () => {
  s = await startStack();
  auditor = await token('auditor');
  sec = await token('security-admin');
  camBatch = await createBatch(s, { hardware_model: 'cam-v2', quota: 20 });
  lampBatch = await createBatch(s, { hardware_model: 'lamp-v1', quota: 20 });
  for (let i = 0; i < 5; i++) await enroll(camBatch, `cam-${i}`);
  await enroll(lampBatch, 'lamp-0');
  await enroll(lampBatch, 'lamp-rsa', 'rsa-2048');
});
afterAll(() => s?.stop());

describe('inventory search', () => {
  it('filters by device, batch, hardware model, serial, status and expiry window', async () => {
    expect((await search('device_id=cam-3')).items.map((i) => i.device_id)).toEqual(['cam-3']);
    expect((await search(`batch_id=${camBatch.id}`)).items).toHaveLength(5);
    expect((await search('hardware_model=lamp-v1')).items.map((i) => i.device_id).sort()).toEqual([
      'lamp-0',
      'lamp-rsa',
    ]);
    const one = (await search('device_id=cam-1')).items[0]!;
    expect((await search(`serial=${one.serial}`)).items[0]!.device_id).toBe('cam-1');
    await s.api('/v1/revocations', {
      method: 'POST',
      token: sec,
      headers: json,
      body: JSON.stringify({ device_id: 'cam-1' }),
    });
    expect((await search('status=revoked')).items.map((i) => i.device_id)).toEqual(['cam-1']);
    expect((await search('status=valid&kind=device')).items).toHaveLength(6);
    await s.database.db.execute(
      sql`update certificates set not_after = now() + interval '5 days' where device_id = 'cam-4'`,
    );
    await s.database.db.execute(
      sql`update certificates set not_after = now() - interval '1 day' where device_id = 'cam-0'`,
    );
    expect((await search('expiring_within_days=10&kind=device')).items.map((i) => i.device_id)).toEqual([
      'cam-4',
    ]);
    // the control plane's own 7-day OCSP responder certificate is expiring too, and is listed
    expect((await search('expiring_within_days=10&kind=ocsp')).items).toHaveLength(1);
    expect((await search('status=expired')).items.map((i) => i.device_id)).toEqual(['cam-0']);
  });

  it('pages with a cursor through everything exactly once', async () => {
    const seen: string[] = [];
    let cursor: number | null = null;
    do {
      const page = await search(`kind=device&limit=2${cursor !== null ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.items.map((i) => i.serial));
      cursor = page.next_cursor;
    } while (cursor !== null);
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
  });

  it('exports CSV with a header and one row per match', async () => {
    const r = await s.api('/v1/certificates?format=csv&hardware_model=cam-v2', { token: auditor });
    expect(r.headers.get('content-type')).toMatch(/text\/csv/);
    const lines = (await r.text()).trim().split('\r\n');
    expect(lines[0]).toBe(
      'serial,kind,device_id,batch_id,hardware_model,status,key_type,not_before,not_after,issued_at',
    );
    expect(lines).toHaveLength(6);
    expect(lines.filter((l) => l.includes(',revoked,'))).toHaveLength(1);
  });

  it('refuses bad queries by name, and callers without the right role', async () => {
    const bad = await s.api('/v1/certificates?status=sideways', { token: auditor });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { detail: string }).detail).toMatch(/status/);
    expect((await s.api('/v1/certificates?colour=red', { token: auditor })).status).toBe(400);
    expect((await s.api('/v1/certificates', { token: await token('release-manager') })).status).toBe(403);
  });
});

describe('hygiene findings', () => {
  it('reports expiring soon, weak keys, valid certificates of revoked batches, and shared keys', async () => {
    await s.api(`/v1/batches/${lampBatch.id}/revoke`, { method: 'POST', token: s.adminToken });
    // simulate a key shared by two devices (the registry refuses this at enrollment; data can still come from elsewhere)
    await s.database.db.execute(
      sql`update certificates set spki_sha256 = (select spki_sha256 from certificates where device_id = 'cam-2') where device_id = 'cam-3'`,
    );
    const r = (await (await s.api('/v1/findings', { token: auditor })).json()) as {
      findings: { type: string; subject: string; detail: string }[];
    };
    const types = r.findings.map((f) => f.type);
    expect(types).toEqual(
      expect.arrayContaining(['shared-key', 'valid-cert-of-revoked-batch', 'weak-key', 'expiring-soon']),
    );
    expect(r.findings.find((f) => f.type === 'shared-key')!.detail).toMatch(/cam-2, cam-3/);
    expect(r.findings.find((f) => f.type === 'weak-key')!.detail).toMatch(/lamp-rsa uses RSA-2048/);
    expect(
      r.findings
        .filter((f) => f.type === 'valid-cert-of-revoked-batch')
        .map((f) => f.detail)
        .join(),
    ).toMatch(/lamp-0/);
    expect(r.findings.filter((f) => f.type === 'expiring-soon').map((f) => f.detail)).toEqual([
      expect.stringMatching(/^cam-4 expires/),
    ]);
  });
});
