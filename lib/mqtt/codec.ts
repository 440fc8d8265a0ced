// MQTT 3.1.1 and 5.0 wire codec: the packet decoder (the streaming parser that frames
// TCP/TLS chunks into packets is parser.ts) and encoders for every packet (MQTT 5 encoders
// in encode-v5.ts). Strict: a malformed packet throws MqttProtocolError and the
// caller closes the connection, as the spec asks (§4.8). Spec clauses are cited inline.
import type {
  ConnectPacket,
  Packet,
  ProtocolVersion,
  PublishPacket,
  QoS,
  SubscribePacket,
  Subscription,
  Will,
} from './packets.ts';
import { readProperties } from './properties.ts';
import { TYPE_CODE } from './packets.ts';
import { MqttProtocolError, Reader } from './reader.ts';

export { MqttProtocolError } from './reader.ts';

const packetId = (r: Reader, what: string) => {
  const id = r.u16(`${what} packet identifier`);
  if (id === 0) throw new MqttProtocolError(`${what} packet identifier 0`); // [MQTT-2.3.1-1]
  return id;
};

function decodeConnect(r: Reader, flags: number): ConnectPacket {
  if (flags !== 0) throw new MqttProtocolError('CONNECT reserved header flags set');
  const name = r.string('protocol name');
  const protocolLevel = r.u8('protocol level');
  // 3.1.1 says "MQTT"/4; MQTT 3.1 clients send "MQIsdp"/3; MQTT 5 sends "MQTT"/5. The
  // caller answers an unsupported level with CONNACK 0x01 [MQTT-3.1.2-2].
  if (!((name === 'MQTT' && protocolLevel >= 4) || (name === 'MQIsdp' && protocolLevel === 3))) {
    throw new MqttProtocolError(`unknown protocol ${JSON.stringify(name)} level ${protocolLevel}`);
  }
  const f = r.u8('connect flags');
  if (f & 1) throw new MqttProtocolError('CONNECT reserved flag set'); // [MQTT-3.1.2-3]
  const keepAlive = r.u16('keep alive');
  if (protocolLevel > 5) {
    // a level this gateway does not speak: the caller answers CONNACK 0x01 [MQTT-3.1.2-2]
    return {
      type: 'connect',
      protocolLevel,
      cleanSession: !!(f & 2),
      keepAlive,
      clientId: '',
      will: undefined,
      username: undefined,
      password: undefined,
    };
  }
  const v5 = protocolLevel === 5;
  const properties = v5 ? readProperties(r, 'CONNECT') : undefined;
  const clientId = r.string('client identifier');
  let will: Will | undefined;
  const willQos = (f >> 3) & 3;
  if (f & 4) {
    if (willQos === 3) throw new MqttProtocolError('will QoS 3'); // [MQTT-3.1.2-14]
    if (v5) readProperties(r, 'will'); // will delay, expiry, content type: not kept
    const topic = r.string('will topic');
    checkTopicName(topic, 'will topic');
    const payload = Buffer.from(r.bytes('will message'));
    will = { topic, payload, qos: willQos as QoS, retain: !!(f & 0x20) };
  } else if (willQos || f & 0x20) {
    throw new MqttProtocolError('will QoS/retain set without a will'); // [MQTT-3.1.2-13/15]
  }
  const username = f & 0x80 ? r.string('user name') : undefined;
  if (!v5 && f & 0x40 && !(f & 0x80)) throw new MqttProtocolError('password without user name'); // [MQTT-3.1.2-22]
  const password = f & 0x40 ? r.bytes('password') : undefined;
  r.done('CONNECT');
  return {
    type: 'connect',
    protocolLevel,
    cleanSession: !!(f & 2),
    keepAlive,
    clientId,
    will,
    username,
    password,
    properties,
  };
}

/** Topic names (PUBLISH) carry no wildcards and are not empty [MQTT-3.3.2-2, 4.7.3-1]. */
export function checkTopicName(topic: string, what = 'topic name'): void {
  if (topic.length === 0) throw new MqttProtocolError(`${what} is empty`);
  if (topic.includes('+') || topic.includes('#')) throw new MqttProtocolError(`${what} contains a wildcard`);
}

/** Topic filters (SUBSCRIBE): '#' only last and alone in its level, '+' alone in its level (§4.7.1). */
export function checkTopicFilter(filter: string): void {
  if (filter.length === 0) throw new MqttProtocolError('empty topic filter'); // [MQTT-4.7.3-1]
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]!;
    if (l.includes('#') && (l !== '#' || i !== levels.length - 1)) {
      throw new MqttProtocolError(`bad multi-level wildcard in ${JSON.stringify(filter)}`); // [MQTT-4.7.1-2]
    }
    if (l.includes('+') && l !== '+') {
      throw new MqttProtocolError(`bad single-level wildcard in ${JSON.stringify(filter)}`); // [MQTT-4.7.1-3]
    }
  }
}

function decodePublish(r: Reader, flags: number, v: ProtocolVersion): PublishPacket {
  const qos = (flags >> 1) & 3;
  if (qos === 3) throw new MqttProtocolError('PUBLISH QoS 3'); // [MQTT-3.3.1-4]
  const dup = !!(flags & 8);
  if (qos === 0 && dup) throw new MqttProtocolError('DUP set on a QoS 0 PUBLISH'); // [MQTT-3.3.1-2]
  const topic = r.string('topic name');
  checkTopicName(topic);
  const id = qos > 0 ? packetId(r, 'PUBLISH') : undefined;
  const properties = v === 5 ? readProperties(r, 'PUBLISH') : undefined;
  const payload = r.buf.subarray(r.pos, r.end);
  return { type: 'publish', topic, payload, qos: qos as QoS, retain: !!(flags & 1), dup, id, properties };
}

function decodeSubscribe(r: Reader, v: ProtocolVersion): SubscribePacket {
  const id = packetId(r, 'SUBSCRIBE');
  const properties = v === 5 ? readProperties(r, 'SUBSCRIBE') : undefined;
  const subscriptions: Subscription[] = [];
  while (r.pos < r.end) {
    const filter = r.string('topic filter');
    checkTopicFilter(filter);
    const o = r.u8('subscription options');
    if (v === 4) {
      if (o > 2) throw new MqttProtocolError('requested QoS byte has reserved bits'); // [MQTT-3.8.3-4]
      subscriptions.push({ filter, qos: o as QoS });
      continue;
    }
    // MQTT 5 §3.8.3.1: QoS (bits 0-1), No Local, Retain As Published, Retain Handling (4-5)
    if ((o & 3) === 3 || o & 0xc0 || o >> 4 === 3) {
      throw new MqttProtocolError('bad subscription options'); // [MQTT-3.8.3-5]
    }
    subscriptions.push({
      filter,
      qos: (o & 3) as QoS,
      noLocal: !!(o & 4),
      retainAsPublished: !!(o & 8),
      retainHandling: ((o >> 4) & 3) as 0 | 1 | 2,
    });
  }
  if (!subscriptions.length) throw new MqttProtocolError('SUBSCRIBE without topic filters'); // [MQTT-3.8.3-3]
  return { type: 'subscribe', id, subscriptions, properties };
}

const FLAGS_0010 = new Set([TYPE_CODE.pubrel, TYPE_CODE.subscribe, TYPE_CODE.unsubscribe]);

export function decodePacket(
  buf: Buffer,
  start: number,
  end: number,
  header: number,
  v: ProtocolVersion = 4,
): Packet {
  const type = header >> 4;
  const flags = header & 0x0f;
  const r = new Reader(buf, start, end);
  if (type !== TYPE_CODE.publish && type !== TYPE_CODE.connect) {
    const want = FLAGS_0010.has(type as 6 | 8 | 10) ? 2 : 0;
    if (flags !== want) throw new MqttProtocolError(`packet type ${type} with header flags ${flags}`); // [MQTT-2.2.2-2]
  }
  switch (type) {
    case TYPE_CODE.connect:
      return decodeConnect(r, flags);
    case TYPE_CODE.connack: {
      const ack = r.u8('acknowledge flags');
      const returnCode = r.u8('return code');
      r.done('CONNACK');
      return { type: 'connack', sessionPresent: !!(ack & 1), returnCode };
    }
    case TYPE_CODE.publish:
      return decodePublish(r, flags, v);
    case TYPE_CODE.puback:
    case TYPE_CODE.pubrec:
    case TYPE_CODE.pubrel:
    case TYPE_CODE.pubcomp:
    case TYPE_CODE.unsuback: {
      const names = { 4: 'puback', 5: 'pubrec', 6: 'pubrel', 7: 'pubcomp', 11: 'unsuback' } as const;
      const name = names[type as keyof typeof names];
      const id = packetId(r, name);
      if (v === 5 && type === TYPE_CODE.unsuback) {
        readProperties(r, name);
        return { type: name, id, reasonCode: r.remaining ? r.u8('reason code') : 0 };
      }
      // MQTT 5 §3.4.2.1: the reason code and properties may be left out
      const reasonCode = v === 5 && r.remaining ? r.u8('reason code') : 0;
      if (v === 5 && r.remaining) readProperties(r, name);
      r.done(name);
      return { type: name, id, reasonCode };
    }
    case TYPE_CODE.subscribe:
      return decodeSubscribe(r, v);
    case TYPE_CODE.suback: {
      const id = packetId(r, 'SUBACK');
      if (v === 5) readProperties(r, 'SUBACK');
      const codes = [...buf.subarray(r.pos, end)];
      return { type: 'suback', id, codes };
    }
    case TYPE_CODE.unsubscribe: {
      const id = packetId(r, 'UNSUBSCRIBE');
      if (v === 5) readProperties(r, 'UNSUBSCRIBE');
      const filters: string[] = [];
      while (r.pos < r.end) {
        const f = r.string('topic filter');
        checkTopicFilter(f);
        filters.push(f);
      }
      if (!filters.length) throw new MqttProtocolError('UNSUBSCRIBE without topic filters'); // [MQTT-3.10.3-2]
      return { type: 'unsubscribe', id, filters };
    }
    case TYPE_CODE.disconnect: {
      // MQTT 5 §3.14.2: reason code and properties, each optional
      const reasonCode = v === 5 && r.remaining ? r.u8('reason code') : 0;
      if (v === 5 && r.remaining) readProperties(r, 'DISCONNECT');
      r.done('DISCONNECT');
      return { type: 'disconnect', reasonCode };
    }
    case TYPE_CODE.pingreq:
    case TYPE_CODE.pingresp:
      r.done('packet');
      return { type: type === 12 ? 'pingreq' : 'pingresp' };
    default:
      throw new MqttProtocolError(`reserved packet type ${type}`);
  }
}

// ---- encoders ----

function header(first: number, remaining: number, total: number): { out: Buffer; pos: number } {
  const lenBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  const out = Buffer.allocUnsafe(total + 1 + lenBytes);
  out[0] = first;
  let pos = 1;
  let x = remaining;
  do {
    let b = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) b |= 0x80;
    out[pos++] = b;
  } while (x > 0);
  return { out, pos };
}

export function encodePublish(
  topic: string | Buffer,
  payload: Buffer,
  qos: QoS,
  retain: boolean,
  id: number | undefined,
  dup = false,
  v: ProtocolVersion = 4,
): Buffer {
  const topicLen = typeof topic === 'string' ? Buffer.byteLength(topic) : topic.length;
  const remaining = 2 + topicLen + (qos > 0 ? 2 : 0) + (v === 5 ? 1 : 0) + payload.length;
  const { out, pos: p0 } = header(0x30 | (dup ? 8 : 0) | (qos << 1) | (retain ? 1 : 0), remaining, remaining);
  let pos = out.writeUInt16BE(topicLen, p0);
  pos += typeof topic === 'string' ? out.write(topic, pos) : topic.copy(out, pos);
  if (qos > 0) pos = out.writeUInt16BE(id!, pos);
  if (v === 5) out[pos++] = 0; // no properties
  payload.copy(out, pos);
  return out;
}

const ack = (first: number, id: number) => Buffer.from([first, 2, id >> 8, id & 0xff]);
export const encodePuback = (id: number) => ack(0x40, id);
export const encodePubrec = (id: number) => ack(0x50, id);
export const encodePubrel = (id: number) => ack(0x62, id);
export const encodePubcomp = (id: number) => ack(0x70, id);
export const encodeUnsuback = (id: number) => ack(0xb0, id);
export const encodeConnack = (sessionPresent: boolean, code: number) =>
  Buffer.from([0x20, 2, sessionPresent ? 1 : 0, code]);
export const PINGREQ = Buffer.from([0xc0, 0]);
export const PINGRESP = Buffer.from([0xd0, 0]);
export const DISCONNECT = Buffer.from([0xe0, 0]);

export function encodeSuback(id: number, codes: readonly number[]): Buffer {
  const { out, pos } = header(0x90, 2 + codes.length, 2 + codes.length);
  out.writeUInt16BE(id, pos);
  for (let i = 0; i < codes.length; i++) out[pos + 2 + i] = codes[i]!;
  return out;
}

const str = (s: string) => {
  const b = Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(2 + b.length);
  out.writeUInt16BE(b.length, 0);
  b.copy(out, 2);
  return out;
};
const bin = (b: Buffer) => Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);

export function encodeConnect(p: Omit<ConnectPacket, 'type' | 'protocolLevel'>): Buffer {
  let flags = p.cleanSession ? 2 : 0;
  const parts = [str('MQTT'), Buffer.from([4, 0, p.keepAlive >> 8, p.keepAlive & 0xff]), str(p.clientId)];
  if (p.will) {
    flags |= 4 | (p.will.qos << 3) | (p.will.retain ? 0x20 : 0);
    parts.push(str(p.will.topic), bin(p.will.payload));
  }
  if (p.username !== undefined) {
    flags |= 0x80;
    parts.push(str(p.username));
  }
  if (p.password !== undefined) {
    flags |= 0x40;
    parts.push(bin(p.password));
  }
  parts[1]![1] = flags;
  const body = Buffer.concat(parts);
  const { out, pos } = header(0x10, body.length, body.length);
  body.copy(out, pos);
  return out;
}

export function encodeSubscribe(id: number, subs: readonly { filter: string; qos: QoS }[]): Buffer {
  const body = Buffer.concat([
    Buffer.from([id >> 8, id & 0xff]),
    ...subs.flatMap((s) => [str(s.filter), Buffer.from([s.qos])]),
  ]);
  const { out, pos } = header(0x82, body.length, body.length);
  body.copy(out, pos);
  return out;
}

export function encodeUnsubscribe(id: number, filters: readonly string[]): Buffer {
  const body = Buffer.concat([Buffer.from([id >> 8, id & 0xff]), ...filters.map(str)]);
  const { out, pos } = header(0xa2, body.length, body.length);
  body.copy(out, pos);
  return out;
}
