// The streaming parser under an attacker who dribbles: work linear in the bytes fed, and a
// CONNECT over its limit refused from its fixed header, before its body is held.
import { describe, expect, it } from 'vitest';
import { encodeConnect, encodePublish } from './codec.ts';
import type { Packet } from './packets.ts';
import { MqttPacketTooLarge, MqttParser } from './parser.ts';

/** a CONNECT of about `n` bytes (the size is in the will payload) */
const bigConnect = (n: number) =>
  encodeConnect({
    cleanSession: true,
    keepAlive: 60,
    clientId: 'cam-1',
    will: { topic: 'devices/cam-1/status', payload: Buffer.alloc(n, 0x61), qos: 0, retain: false },
    username: undefined,
    password: undefined,
  });

function dribble(parser: MqttParser, bytes: Buffer, step = 1): Packet[] {
  const got: Packet[] = [];
  for (let i = 0; i < bytes.length; i += step) parser.feed(bytes.subarray(i, i + step), (p) => got.push(p));
  return got;
}

describe('MQTT parser: linear under dribbling', () => {
  it('copies a packet fed one byte at a time O(N) times, not O(N²)', () => {
    for (const n of [16_384, 60_000]) {
      const connect = bigConnect(n);
      const parser = new MqttParser(1 << 20);
      const got = dribble(parser, connect);
      expect(got).toHaveLength(1);
      expect(got[0]).toMatchObject({ type: 'connect', clientId: 'cam-1' });
      // each byte is copied once into the pending block and once when the packet is assembled
      // (re-concatenating per chunk would copy about N²/2 bytes: 1.8 GB for 60 KB)
      expect(parser.bytesCopied).toBeLessThanOrEqual(2 * connect.length);
    }
  });

  it('stays linear for packets that straddle chunks of any size, and parses each exactly', () => {
    const packets = [
      encodePublish('devices/x/telemetry', Buffer.alloc(5000, 1), 1, false, 7),
      encodePublish('devices/x/status', Buffer.from('ok'), 0, false, undefined),
      encodePublish('devices/x/telemetry', Buffer.alloc(70_000, 2), 1, false, 8),
    ];
    const all = Buffer.concat(packets);
    for (const step of [1, 3, 700, 1500, 4096, 65_536]) {
      const parser = new MqttParser(1 << 20);
      const got = dribble(parser, all, step);
      expect(got.map((p) => (p as { id?: number }).id)).toEqual([7, undefined, 8]);
      expect((got[2] as { payload: Buffer }).payload.equals(Buffer.alloc(70_000, 2))).toBe(true);
      expect(parser.bytesCopied, `step ${step}`).toBeLessThanOrEqual(3 * all.length);
    }
  });

  it('refuses a CONNECT over its limit as soon as its fixed header arrives', () => {
    const parser = new MqttParser({ maxPacketBytes: 1 << 20, maxConnectBytes: 8192 });
    const connect = bigConnect(20_000);
    let thrown: unknown;
    let fed = 0;
    try {
      for (; fed < connect.length; fed++) parser.feed(connect.subarray(fed, fed + 1), () => {});
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(MqttPacketTooLarge);
    expect((thrown as Error).message).toMatch(/CONNECT of \d+ bytes exceeds the limit of 8192/);
    expect(fed).toBeLessThan(5); // the fixed header's bytes, nothing of the body
    // the same limit does not apply to other packets
    const ok = new MqttParser({ maxPacketBytes: 1 << 20, maxConnectBytes: 8192 });
    expect(dribble(ok, encodePublish('t', Buffer.alloc(20_000), 0, false, undefined), 997)).toHaveLength(1);
    // nor to a CONNECT within it
    expect(dribble(ok, bigConnect(8000), 1)).toHaveLength(1);
  });

  it('refuses a malformed remaining length', () => {
    const parser = new MqttParser(1 << 20);
    expect(() => dribble(parser, Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toThrow(
      /malformed remaining length/,
    );
  });
});
