import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AgentLog } from '../log.ts';
import type { PublishOutcome } from '../net/mqtt-link.ts';
import { MessageIds, ulid } from './message-id.ts';
import { Outbox } from './outbox.ts';
import { Sender } from './sender.ts';

const jwe = (i: number) => `eyJraWQiOiJrIn0.k${i}.iv.ct.tag`;

async function setup(answers: PublishOutcome[]) {
  const { outbox } = await Outbox.open(join(mkdtempSync(join(tmpdir(), 'sender-')), 'outbox'), 1 << 20);
  const lines: Record<string, unknown>[] = [];
  const log: AgentLog = {
    info: (event, f) => lines.push({ event, ...f }),
    warn: (event, f) => lines.push({ event, ...f }),
    error: (event, f) => lines.push({ event, ...f }),
    child: () => log,
  };
  const sent: string[] = [];
  const link = {
    connected: true,
    publish: async (_t: string, p: string): Promise<PublishOutcome> => {
      sent.push(p);
      return answers.shift() ?? { ok: true };
    },
  };
  const sender = new Sender({
    outbox,
    link,
    topic: 'devices/d/telemetry',
    log,
    rate: 10_000,
    random: () => 0.5,
  });
  return { outbox, sender, sent, lines, link };
}

describe('telemetry sender', () => {
  it('sends in order and removes each message only on its PUBACK', async () => {
    const s = await setup([]);
    for (let i = 1; i <= 3; i++) await s.outbox.append(`m-${i}`, jwe(i));
    expect(await s.sender.run()).toBe('idle');
    expect(s.sent).toEqual([jwe(1), jwe(2), jwe(3)]);
    expect(s.outbox.pending).toBe(0);
    expect(s.lines.filter((l) => l.event === 'telemetry_sent').map((l) => l.message_id)).toEqual([
      'm-1',
      'm-2',
      'm-3',
    ]);
    expect(s.lines[0]).toMatchObject({ kid: 'k' });
  });

  it('a lost connection keeps the message at the head; it goes again, first, on the next connection', async () => {
    const s = await setup([{ ok: false, error: 'connection closed before PUBACK' }]);
    await s.outbox.append('m-1', jwe(1));
    await s.outbox.append('m-2', jwe(2));
    const publish = s.link.publish;
    s.link.publish = async (t, p) => {
      const out = await publish(t, p);
      if (!out.ok) s.link.connected = false; // the connection closed under the publish
      return out;
    };
    expect(await s.sender.run()).toBe('idle'); // waits for the next connect
    expect(s.outbox.pending).toBe(2);
    s.link.connected = true;
    await s.sender.run();
    expect(s.sent).toEqual([jwe(1), jwe(1), jwe(2)]);
    expect(s.outbox.pending).toBe(0);
  });

  it('a refusal a resend cannot change (0x99) drops the message; a passing one (0x87) keeps it and backs off', async () => {
    const s = await setup([
      { ok: false, reasonCode: 0x99, error: 'payload format invalid' },
      { ok: false, reasonCode: 0x87, error: 'not authorized' },
    ]);
    await s.outbox.append('m-1', jwe(1));
    await s.outbox.append('m-2', jwe(2));
    const next = await s.sender.run();
    expect(typeof next).toBe('number');
    expect(s.lines.filter((l) => l.event === 'telemetry_refused')).toMatchObject([
      { message_id: 'm-1', reason_code: 0x99, dropped: true },
      { message_id: 'm-2', reason_code: 0x87, dropped: false },
    ]);
    expect(s.outbox.head()?.messageId).toBe('m-2');
    await s.sender.run();
    expect(s.outbox.pending).toBe(0);
  });
});

describe('message ids', () => {
  it('a ULID per run and a sequence: never the same id twice, across runs too', () => {
    expect(ulid(0)).toMatch(/^0000000000[0-9A-HJKMNP-TV-Z]{16}$/);
    expect(ulid(Date.UTC(2026, 11, 2))).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    const a = new MessageIds();
    const b = new MessageIds();
    expect(a.next().id).toBe(`${a.boot}-1`);
    expect(a.next().id).toBe(`${a.boot}-2`);
    expect(b.next().id).not.toBe(`${a.boot}-1`);
  });
});
