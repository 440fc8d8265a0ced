import { describe, expect, it } from 'vitest';
import { encodeConnect, encodePublish, encodeSuback, encodeSubscribe, MqttProtocolError } from './codec.ts';
import { MqttParser } from './parser.ts';
import type { Packet } from './packets.ts';
import { topicMatches } from './topic.ts';

const parse = (bytes: Buffer, max = 1 << 20): Packet[] => {
  const out: Packet[] = [];
  new MqttParser(max).feed(bytes, (p) => out.push(p));
  return out;
};

describe('MQTT codec', () => {
  it('round-trips CONNECT with will, user name and password', () => {
    const [p] = parse(
      encodeConnect({
        cleanSession: false,
        keepAlive: 30,
        clientId: 'cam-1',
        will: { topic: 'devices/cam-1/status', payload: Buffer.from('offline'), qos: 1, retain: true },
        username: 'u',
        password: Buffer.from('p'),
      }),
    );
    expect(p).toMatchObject({
      type: 'connect',
      protocolLevel: 4,
      cleanSession: false,
      keepAlive: 30,
      clientId: 'cam-1',
      username: 'u',
      will: { topic: 'devices/cam-1/status', qos: 1, retain: true },
    });
  });

  it('parses packets split across chunks and several in one chunk', () => {
    const a = encodePublish('devices/x/telemetry', Buffer.alloc(300, 1), 1, false, 7);
    const b = encodePublish('devices/x/status', Buffer.from('ok'), 0, false, undefined);
    const all = Buffer.concat([a, b]);
    const parser = new MqttParser(1 << 20);
    const got: Packet[] = [];
    for (let i = 0; i < all.length; i += 7) parser.feed(all.subarray(i, i + 7), (p) => got.push(p));
    expect(got.map((p) => p.type)).toEqual(['publish', 'publish']);
    expect(got[0]).toMatchObject({ topic: 'devices/x/telemetry', qos: 1, id: 7 });
    expect((got[0] as { payload: Buffer }).payload.length).toBe(300);
    expect(got[1]).toMatchObject({ topic: 'devices/x/status', qos: 0 });
  });

  it('round-trips SUBSCRIBE and SUBACK', () => {
    const [s] = parse(encodeSubscribe(3, [{ filter: 'devices/a/#', qos: 1 }]));
    expect(s).toEqual({ type: 'subscribe', id: 3, subscriptions: [{ filter: 'devices/a/#', qos: 1 }] });
    const [a] = parse(encodeSuback(3, [1, 0x80]));
    expect(a).toEqual({ type: 'suback', id: 3, codes: [1, 0x80] });
  });

  const bad: [string, Buffer][] = [
    ['PUBLISH QoS 3', Buffer.from([0x36, 5, 0, 1, 0x61, 0, 1])],
    ['wildcard in a topic name', encodePublish('devices/+/x', Buffer.alloc(0), 0, false, undefined)],
    ['packet id 0', Buffer.from([0x32, 5, 0, 1, 0x61, 0, 0])],
    ['SUBSCRIBE with wrong flags', Buffer.from([0x80, 6, 0, 1, 0, 1, 0x23, 0])],
    ['SUBSCRIBE without filters', Buffer.from([0x82, 2, 0, 1])],
    ['bad multi-level wildcard', encodeSubscribe(1, [{ filter: 'a/#/b', qos: 0 }])],
    ['bad single-level wildcard', encodeSubscribe(1, [{ filter: 'a/b+', qos: 0 }])],
    ['U+0000 in a topic', Buffer.from([0x30, 4, 0, 2, 0x61, 0x00])],
    ['invalid UTF-8 in a topic', Buffer.from([0x30, 4, 0, 2, 0xc3, 0x28])],
    ['remaining length over 4 bytes', Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f])],
    ['reserved packet type 15', Buffer.from([0xf0, 0])],
    ['CONNECT reserved flag', Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x01, 0, 60, 0, 0])],
  ];
  it.each(bad)('refuses %s', (_what, bytes) => {
    expect(() => parse(bytes)).toThrow(MqttProtocolError);
  });

  it('refuses a packet over the size limit before it arrives in full', () => {
    const big = encodePublish('t', Buffer.alloc(5000), 0, false, undefined);
    expect(() => parse(big.subarray(0, 10), 1024)).toThrow(/exceeds the limit/);
  });
});

describe('topic matching', () => {
  it.each([
    ['devices/a/#', 'devices/a/ota', true],
    ['devices/a/#', 'devices/a', true],
    ['devices/+/telemetry', 'devices/b/telemetry', true],
    ['devices/+/telemetry', 'devices/b/c/telemetry', false],
    ['#', '$SYS/x', false],
    ['devices/a/ota', 'devices/a/ota', true],
    ['devices/a/ota', 'devices/a/cmd', false],
  ] as const)('%s vs %s → %s', (f, t, want) => {
    expect(topicMatches(f, t)).toBe(want);
  });
});

describe('MQTT 5', () => {
  const v5connect = Buffer.from([
    0x10, 25, 0, 4, 0x4d, 0x51, 0x54, 0x54, 5, 0x02, 0, 60,
    // properties: session expiry 3600, receive maximum 10
    8, 0x11, 0, 0, 0x0e, 0x10, 0x21, 0, 10,
    // client id "cam-1"
    0, 5, 0x63, 0x61, 0x6d, 0x2d, 0x31,
  ]);
  v5connect[1] = v5connect.length - 2;

  it('reads CONNECT properties and then every later packet as MQTT 5', () => {
    const parser = new MqttParser(1 << 20);
    const got: Packet[] = [];
    const publish = Buffer.from([0x32, 9, 0, 1, 0x74, 0, 7, 2, 0x01, 1, 0x78]); // topic t, id 7, payload format 1, "x"
    parser.feed(Buffer.concat([v5connect, publish]), (p) => got.push(p));
    const c = got[0] as Extract<Packet, { type: 'connect' }>;
    expect(c).toMatchObject({ protocolLevel: 5, clientId: 'cam-1', cleanSession: true });
    expect(c.properties?.get(0x11)).toBe(3600);
    expect(c.properties?.get(0x21)).toBe(10);
    expect(got[1]).toMatchObject({ type: 'publish', topic: 't', id: 7 });
    expect((got[1] as { payload: Buffer }).payload.toString()).toBe('x');
    expect((got[1] as Extract<Packet, { type: 'publish' }>).properties?.get(0x01)).toBe(1);
  });

  it('refuses a repeated property and bad subscription options', () => {
    const twice = Buffer.from([
      0x10, 23, 0, 4, 0x4d, 0x51, 0x54, 0x54, 5, 0x02, 0, 60, 6, 0x21, 0, 1, 0x21, 0, 2, 0, 0,
    ]);
    twice[1] = twice.length - 2;
    expect(() => parse(twice)).toThrow(/twice/);
    const parser = new MqttParser(1 << 20);
    parser.feed(v5connect, () => {});
    const badOptions = Buffer.from([0x82, 7, 0, 1, 0, 0, 1, 0x61, 0xc1]); // reserved bits 6-7 set
    expect(() => parser.feed(badOptions, () => {})).toThrow(/subscription options/);
  });

  it('reads DISCONNECT with a reason code and acknowledgements in short form', () => {
    const parser = new MqttParser(1 << 20);
    const got: Packet[] = [];
    parser.feed(Buffer.concat([v5connect, Buffer.from([0x40, 2, 0, 9]), Buffer.from([0xe0, 1, 0x04])]), (p) =>
      got.push(p),
    );
    expect(got[1]).toEqual({ type: 'puback', id: 9, reasonCode: 0 });
    expect(got[2]).toEqual({ type: 'disconnect', reasonCode: 4 });
  });
});
