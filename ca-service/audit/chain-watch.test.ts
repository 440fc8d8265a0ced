import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type ChainedEvent,
  type Checkpoint,
  checkpointMessage,
  eventHash,
  GENESIS,
} from '../../lib/audit-chain.ts';
import { type ChainReader, ChainWatch } from './chain-watch.ts';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const ver = (m: Buffer, s: string) => verify('sha256', m, publicKey, Buffer.from(s, 'base64'));

/** An in-memory log that counts the events it hands out. */
function memoryLog() {
  const events: ChainedEvent[] = [];
  const checkpoints: Checkpoint[] = [];
  let read = 0;
  const append = (n: number) => {
    for (let i = 0; i < n; i++) {
      const base = {
        at: new Date(1_700_000_000_000 + events.length).toISOString(),
        actor: 'system',
        action: `a${events.length + 1}`,
        outcome: 'ok',
        subject: null,
        reason: null,
        details: null,
        prevHash: events.at(-1)?.hash ?? GENESIS,
      };
      events.push({ ...base, seq: events.length + 1, hash: eventHash(base) });
    }
  };
  const checkpoint = (signature?: string) => {
    const h = events.at(-1)!;
    const c = { seq: h.seq, hash: h.hash, at: new Date().toISOString() };
    checkpoints.push({
      ...c,
      signature: signature ?? sign('sha256', checkpointMessage(c), privateKey).toString('base64'),
    });
  };
  const reader: ChainReader = {
    head: async () => (events.length ? { seq: events.at(-1)!.seq, hash: events.at(-1)!.hash } : null),
    page: async (after, limit) => {
      const out = events.filter((e) => e.seq > after).slice(0, limit);
      read += out.length;
      return out;
    },
    event: async (seq) => events.find((e) => e.seq === seq),
    checkpointsAfter: async (seq, newest) => {
      const cs = checkpoints.filter((c) => c.seq > seq);
      return newest ? cs.slice(-1) : cs;
    },
  };
  return { events, append, checkpoint, reader, read: () => read };
}

describe('ChainWatch', () => {
  it('starts at the newest signed checkpoint and then reads only what was appended', async () => {
    const log = memoryLog();
    log.append(10_000);
    log.checkpoint();
    log.append(7);
    const w = new ChainWatch(log.reader, ver);
    expect(await w.check()).toMatchObject({ ok: true, eventsRead: 7, origin: { seq: 10_000 } });
    log.append(3);
    log.checkpoint();
    expect(await w.check()).toMatchObject({
      ok: true,
      eventsRead: 3,
      eventsVerified: 10,
      checkpointsVerified: 2,
    });
    expect(await w.check()).toMatchObject({ ok: true, eventsRead: 0 });
    expect(log.read()).toBe(10);
  });

  it('without a checkpoint, verifies from the first event', async () => {
    const log = memoryLog();
    log.append(5);
    expect(await new ChainWatch(log.reader, ver).check()).toMatchObject({
      ok: true,
      eventsRead: 5,
      origin: { seq: 0, checkpointAt: null },
    });
  });

  it('refuses to start from a checkpoint with a bad signature, or one the chain no longer matches', async () => {
    const forged = memoryLog();
    forged.append(3);
    forged.checkpoint(sign('sha256', Buffer.from('something else'), privateKey).toString('base64'));
    expect((await new ChainWatch(forged.reader, ver).check()).problems[0]).toMatchObject({
      kind: 'checkpoint',
      detail: expect.stringMatching(/bad signature/),
    });
    const rewritten = memoryLog();
    rewritten.append(3);
    rewritten.checkpoint();
    rewritten.events[2] = { ...rewritten.events[2]!, hash: 'f'.repeat(64) };
    expect((await new ChainWatch(rewritten.reader, ver).check()).problems[0]).toMatchObject({
      kind: 'checkpoint',
      detail: expect.stringMatching(/chain was rewritten/),
    });
  });

  it('notices the verified position vanishing, and keeps reporting a problem on every check', async () => {
    const log = memoryLog();
    log.append(4);
    const w = new ChainWatch(log.reader, ver);
    expect((await w.check()).ok).toBe(true);
    log.events.pop(); // truncate the verified tail
    for (let i = 0; i < 2; i++) {
      expect((await w.check()).problems[0]).toMatchObject({
        seq: 4,
        detail: expect.stringMatching(/deleted/),
      });
    }
  });
});
