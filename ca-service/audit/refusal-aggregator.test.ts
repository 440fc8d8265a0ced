import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../core/ports.ts';
import { RefusalAggregator } from './refusal-aggregator.ts';

function setup(maxKeys = 256) {
  let t = Date.parse('2030-01-01T00:00:00Z');
  const written: AuditEvent[] = [];
  const agg = new RefusalAggregator(
    { appendAudit: async (e) => void written.push(e) },
    { now: () => new Date(t) },
    pino({ level: 'silent' }),
    { intervalMs: 10_000, maxKeys },
  );
  const refuse = (source: string, actor = 'anonymous', reason = 'ERR_UNAUTHENTICATED', subject?: string) =>
    agg.refused({
      event: { at: new Date(t), actor, action: 'certificate.enroll', outcome: 'refused', reason, subject },
      source,
      verified: false,
    });
  return { agg, written, refuse, tick: (ms: number) => (t += ms) };
}

describe('refusal aggregator', () => {
  it('writes the first refusal of a source at once and one counted event for its repeats', async () => {
    const { agg, written, refuse, tick } = setup();
    await refuse('::ffff:10.0.0.7');
    expect(written).toHaveLength(1);
    expect(written[0]!.details).toEqual({ source: '10.0.0.7' });
    for (let i = 0; i < 1000; i++) {
      tick(5);
      await refuse('::ffff:10.0.0.7');
    }
    expect(written).toHaveLength(1);
    await agg.flush();
    expect(written).toHaveLength(2);
    expect(written[1]).toMatchObject({
      actor: 'anonymous',
      action: 'certificate.enroll',
      outcome: 'refused',
      reason: 'ERR_UNAUTHENTICATED',
      details: {
        aggregated: true,
        count: 1000,
        source: '10.0.0.7',
        first_at: '2030-01-01T00:00:00.005Z',
        last_at: '2030-01-01T00:00:05.000Z',
      },
    });
    // a flood that goes on is counted, not written one by one, across intervals
    await refuse('10.0.0.7');
    await agg.flush();
    expect(written).toHaveLength(3);
    expect(written[2]!.details).toMatchObject({ count: 1 });
    // a source that stayed quiet for a whole interval is forgotten: its next refusal is written at once
    await agg.flush();
    await refuse('10.0.0.7');
    expect(written).toHaveLength(4);
    expect(written[3]!.details).toEqual({ source: '10.0.0.7' });
  });

  it('keeps sources, actions and reasons apart, and names several claimed actors', async () => {
    const { agg, written, refuse } = setup();
    await refuse('10.0.0.1');
    await refuse('10.0.0.2');
    await refuse('10.0.0.1', 'anonymous', 'ERR_BATCH_REVOKED');
    expect(written).toHaveLength(3);
    for (const a of ['unverified:batch:a', 'unverified:batch:b', 'anonymous']) await refuse('10.0.0.1', a);
    await agg.flush();
    expect(written).toHaveLength(4);
    expect(written[3]).toMatchObject({
      actor: 'unverified:several',
      details: { count: 3, actors: ['unverified:batch:a', 'unverified:batch:b', 'anonymous'] },
    });
  });

  it('cuts what the caller chose to a short length', async () => {
    const { written, refuse } = setup();
    await refuse(
      '10.0.0.1',
      `unverified:${'x'.repeat(15_000)}`,
      'ERR_UNAUTHENTICATED',
      `POST /${'a'.repeat(15_000)}`,
    );
    const e = written[0]!;
    expect(e.actor.length).toBeLessThan(130);
    expect(e.subject!.length).toBeLessThan(160);
    expect(e.subject).toMatch(/…\[15006 chars\]$/);
  });

  it('with every key taken, new sources fold into one bucket per action and reason', async () => {
    const { agg, written, refuse } = setup(4);
    for (let i = 0; i < 4; i++) await refuse(`10.0.1.${i}`);
    expect(written).toHaveLength(4);
    // an attacker rotating source addresses gets no more events written at once
    for (let i = 0; i < 5000; i++) await refuse(`2001:db8::${i.toString(16)}`);
    expect(written).toHaveLength(4);
    await agg.flush();
    expect(written).toHaveLength(5);
    expect(written[4]).toMatchObject({
      reason: 'ERR_UNAUTHENTICATED',
      details: { count: 5000, source: 'many' },
    });
  });

  it('passes refusals of authenticated callers through unchanged, one event each', async () => {
    const { agg, written } = setup();
    const event: AuditEvent = {
      at: new Date(),
      actor: 'auditor:tok_a',
      action: 'batch.create',
      outcome: 'refused',
      reason: 'ERR_FORBIDDEN',
    };
    await agg.refused({ event, source: '10.0.0.1', verified: true });
    await agg.refused({ event, source: '10.0.0.1', verified: true });
    expect(written).toEqual([event, event]);
  });

  it('writes what is pending when closed', async () => {
    const { agg, written, refuse } = setup();
    await refuse('10.0.0.1');
    await refuse('10.0.0.1');
    await agg.close();
    expect(written.map((e) => e.details?.count)).toEqual([undefined, 1]);
  });
});
