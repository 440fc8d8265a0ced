import { mkdtempSync, readdirSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Outbox } from './outbox.ts';

const dir = () => join(mkdtempSync(join(tmpdir(), 'outbox-')), 'outbox');
/** a compact-JWE-shaped string of about `n` bytes */
const jwe = (i: number, n = 200) => `eyJh${'A'.repeat(n)}.k${i}.iv.ct${i}.tag`;

async function drain(o: Outbox): Promise<string[]> {
  const ids: string[] = [];
  for (let r = o.head(); r; r = o.head()) {
    expect(await o.read(r)).toMatch(/^eyJh/);
    ids.push(r.messageId);
    o.ack(r);
  }
  return ids;
}

describe('telemetry outbox', () => {
  it('keeps appended messages in order across a reopen; acknowledged ones do not come back', async () => {
    const d = dir();
    let { outbox } = await Outbox.open(d, 1 << 20);
    for (let i = 1; i <= 5; i++) await outbox.append(`boot-${i}`, jwe(i));
    const first = outbox.head()!;
    expect(await outbox.read(first)).toBe(jwe(1));
    outbox.ack(first);
    outbox.ack(first); // a second ack of the same record changes nothing
    await outbox.close();
    ({ outbox } = await Outbox.open(d, 1 << 20));
    expect(outbox.pending).toBe(4);
    expect(await drain(outbox)).toEqual(['boot-2', 'boot-3', 'boot-4', 'boot-5']);
    await outbox.close();
    const again = await Outbox.open(d, 1 << 20);
    expect(again.recovered.pending).toBe(0);
    await again.outbox.append('boot2-1', jwe(6));
    expect(await drain(again.outbox)).toEqual(['boot2-1']);
    await again.outbox.close();
  });

  it('only ciphertext is written: one `<message id> <JWE>` line per record', async () => {
    const d = dir();
    const { outbox } = await Outbox.open(d, 1 << 20);
    await outbox.append('m-1', jwe(1));
    await outbox.close();
    const seg = readdirSync(d).find((f) => f.endsWith('.seg'))!;
    expect(readFileSync(join(d, seg), 'latin1')).toBe(`m-1 ${jwe(1)}\n`);
  });

  it('cuts a torn last record (a crash mid-append) and goes on after it', async () => {
    const d = dir();
    const { outbox } = await Outbox.open(d, 1 << 20);
    await outbox.append('m-1', jwe(1));
    await outbox.append('m-2', jwe(2));
    await outbox.close();
    const seg = join(d, readdirSync(d).find((f) => f.endsWith('.seg'))!);
    appendFileSync(seg, 'm-3 eyJhAAAA.k3.iv'); // no newline: the write was cut
    const re = await Outbox.open(d, 1 << 20);
    expect(re.recovered).toMatchObject({ pending: 2, discardedBytes: 'm-3 eyJhAAAA.k3.iv'.length });
    await re.outbox.append('m-4', jwe(4));
    expect(await drain(re.outbox)).toEqual(['m-1', 'm-2', 'm-4']);
    await re.outbox.close();
  });

  it('a damaged cursor file resends from the oldest segment (the consumer de-duplicates), never loses', async () => {
    const d = dir();
    const { outbox } = await Outbox.open(d, 1 << 20);
    for (let i = 1; i <= 3; i++) await outbox.append(`m-${i}`, jwe(i));
    outbox.ack(outbox.head()!);
    await outbox.close();
    writeFileSync(join(d, 'acked'), 'garbage');
    const re = await Outbox.open(d, 1 << 20);
    expect(await drain(re.outbox)).toEqual(['m-1', 'm-2', 'm-3']);
    await re.outbox.close();
  });

  it('bounded: a full outbox drops the oldest and says how many', async () => {
    const d = dir();
    const line = `m-1 ${jwe(1, 1000)}\n`.length;
    const { outbox } = await Outbox.open(d, line * 3);
    const dropped = [];
    for (let i = 1; i <= 7; i++) dropped.push(await outbox.append(`m-${i}`, jwe(i, 1000)));
    expect(dropped.map((x) => x.count)).toEqual([0, 0, 0, 1, 1, 1, 1]);
    expect(dropped[3]).toMatchObject({ firstMessageId: 'm-1', lastMessageId: 'm-1' });
    expect(outbox.pendingBytes).toBeLessThanOrEqual(line * 3);
    await outbox.close();
    // reopened with a lower bound: the oldest go at once
    const re = await Outbox.open(d, line * 2);
    expect(re.recovered.dropped).toMatchObject({ count: 1, firstMessageId: 'm-5' });
    expect(await drain(re.outbox)).toEqual(['m-6', 'm-7']);
    await re.outbox.close();
  });

  it('rolls segments and deletes the ones wholly acknowledged', async () => {
    const d = dir();
    const { outbox } = await Outbox.open(d, 8 << 20);
    const big = jwe(0, 200_000);
    for (let i = 1; i <= 12; i++) await outbox.append(`m-${i}`, big);
    expect(readdirSync(d).filter((f) => f.endsWith('.seg')).length).toBeGreaterThan(2);
    expect((await drain(outbox)).length).toBe(12);
    await outbox.close();
    expect(readdirSync(d).filter((f) => f.endsWith('.seg')).length).toBeLessThanOrEqual(1);
  });
});
