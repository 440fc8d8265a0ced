import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type ChainedEvent, checkpointMessage, eventHash, GENESIS, verifyChain } from './audit-chain.ts';

function chain(n: number): ChainedEvent[] {
  const out: ChainedEvent[] = [];
  let prev = GENESIS;
  for (let i = 1; i <= n; i++) {
    const base = {
      at: new Date(1_700_000_000_000 + i).toISOString(),
      actor: 'system',
      action: `a${i}`,
      outcome: 'ok',
      subject: null,
      reason: null,
      details: null,
      prevHash: prev,
    };
    const e = { ...base, seq: i, hash: eventHash(base) };
    out.push(e);
    prev = e.hash;
  }
  return out;
}

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const sig = (m: Buffer) => sign('sha256', m, privateKey).toString('base64');
const ver = (m: Buffer, s: string) => verify('sha256', m, publicKey, Buffer.from(s, 'base64'));
const headOf = (c: ChainedEvent[]) => ({ seq: c.at(-1)!.seq, hash: c.at(-1)!.hash });

describe('verifyChain', () => {
  it('accepts an intact chain with a signed checkpoint', () => {
    const c = chain(5);
    const cp = { seq: 3, hash: c[2]!.hash, at: 'now' };
    const r = verifyChain(c, headOf(c), [{ ...cp, signature: sig(checkpointMessage(cp)) }], ver);
    expect(r).toMatchObject({ ok: true, events: 5, checkpointsVerified: 1, problems: [] });
  });

  it.each([
    [
      'changed',
      (c: ChainedEvent[]) => c.map((e) => (e.seq === 3 ? { ...e, actor: 'mallory' } : e)),
      'changed',
      3,
    ],
    ['deleted (gap)', (c: ChainedEvent[]) => c.filter((e) => e.seq !== 3), 'deleted', 3],
    [
      'deleted and renumbered',
      (c: ChainedEvent[]) =>
        c.filter((e) => e.seq !== 3).map((e) => (e.seq > 3 ? { ...e, seq: e.seq - 1 } : e)),
      'deleted',
      3,
    ],
    [
      'inserted (with a correct hash, later events renumbered)',
      (c: ChainedEvent[]) => {
        const base = {
          at: 'x',
          actor: 'mallory',
          action: 'certificate.enroll',
          outcome: 'ok',
          subject: null,
          reason: null,
          details: null,
          prevHash: c[1]!.hash,
        };
        const fake = { ...base, seq: 3, hash: eventHash(base) };
        return [...c.slice(0, 2), fake, ...c.slice(2).map((e) => ({ ...e, seq: e.seq + 1 }))];
      },
      'inserted',
      3,
    ],
    [
      'reordered',
      (c: ChainedEvent[]) =>
        c.map((e) => (e.seq === 3 ? { ...e, seq: 4 } : e.seq === 4 ? { ...e, seq: 3 } : e)),
      'reordered',
      3,
    ],
  ])('names a %s event', (_n, tamper, kind, seq) => {
    const c = chain(6);
    const t = tamper(c);
    const r = verifyChain(t, headOf(t), [], ver);
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatchObject({ kind, seq });
  });

  it('catches a rewrite from some point on through the checkpoint, and a truncated tail through the head', () => {
    const c = chain(5);
    const cp = { seq: 4, hash: c[3]!.hash, at: 'then' };
    // rewrite event 2 and recompute every later hash: the links are consistent again
    const rewritten: ChainedEvent[] = [];
    let prev = GENESIS;
    for (const e of c) {
      const base = { ...e, actor: e.seq === 2 ? 'mallory' : e.actor, prevHash: prev };
      const h = eventHash(base);
      rewritten.push({ ...base, hash: h });
      prev = h;
    }
    const r = verifyChain(
      rewritten,
      headOf(rewritten),
      [{ ...cp, signature: sig(checkpointMessage(cp)) }],
      ver,
    );
    expect(r.problems.map((p) => p.kind)).toEqual(['checkpoint']);
    const t = verifyChain(c.slice(0, 3), headOf(c), [], ver);
    expect(t.problems[0]).toMatchObject({ kind: 'deleted', seq: 4 });
    const forged = verifyChain(c, headOf(c), [{ ...cp, signature: sig(Buffer.from('other')) }], ver);
    expect(forged.problems[0]).toMatchObject({
      kind: 'checkpoint',
      detail: expect.stringMatching(/bad signature/),
    });
  });

  it('verifies only the events after an already verified position, which they must link to', () => {
    const c = chain(8);
    const from = { seq: 5, hash: c[4]!.hash };
    const cp = { seq: 7, hash: c[6]!.hash, at: 'later' };
    const tail = c.slice(5);
    expect(
      verifyChain(tail, headOf(c), [{ ...cp, signature: sig(checkpointMessage(cp)) }], ver, from),
    ).toMatchObject({ ok: true, events: 3, checkpointsVerified: 1 });
    // nothing new: the verified position is the head
    expect(verifyChain([], { seq: 5, hash: c[4]!.hash }, [], ver, from).ok).toBe(true);
    // a changed event after the position, and a tail that no longer links to it
    const changed = tail.map((e) => (e.seq === 7 ? { ...e, actor: 'mallory' } : e));
    expect(verifyChain(changed, headOf(c), [], ver, from).problems[0]).toMatchObject({
      kind: 'changed',
      seq: 7,
    });
    expect(verifyChain(c.slice(6), headOf(c), [], ver, from).problems[0]).toMatchObject({
      kind: 'deleted',
      seq: 6,
    });
    expect(verifyChain(tail, headOf(c), [], ver, { seq: 5, hash: c[3]!.hash }).ok).toBe(false);
  });
});
