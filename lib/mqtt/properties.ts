// MQTT 5 properties (§2.2.2): a length-prefixed list of (identifier, value) pairs. Read
// strictly (unknown identifiers and repeats of single-valued ones are protocol errors) and
// written from a short list.
import { MqttProtocolError, type Reader } from './reader.ts';

type Kind = 'byte' | 'u16' | 'u32' | 'varint' | 'string' | 'binary' | 'pair';

export const PROP = {
  payloadFormat: 0x01,
  messageExpiry: 0x02,
  contentType: 0x03,
  responseTopic: 0x08,
  correlationData: 0x09,
  subscriptionId: 0x0b,
  sessionExpiry: 0x11,
  assignedClientId: 0x12,
  serverKeepAlive: 0x13,
  authMethod: 0x15,
  authData: 0x16,
  requestProblemInfo: 0x17,
  willDelay: 0x18,
  requestResponseInfo: 0x19,
  responseInfo: 0x1a,
  serverReference: 0x1c,
  reasonString: 0x1f,
  receiveMaximum: 0x21,
  topicAliasMaximum: 0x22,
  topicAlias: 0x23,
  maximumQos: 0x24,
  retainAvailable: 0x25,
  userProperty: 0x26,
  maximumPacketSize: 0x27,
  wildcardAvailable: 0x28,
  subscriptionIdsAvailable: 0x29,
  sharedSubscriptionAvailable: 0x2a,
} as const;

const KIND: Record<number, Kind> = {
  1: 'byte',
  2: 'u32',
  3: 'string',
  8: 'string',
  9: 'binary',
  11: 'varint',
  17: 'u32',
  18: 'string',
  19: 'u16',
  21: 'string',
  22: 'binary',
  23: 'byte',
  24: 'u32',
  25: 'byte',
  26: 'string',
  28: 'string',
  31: 'string',
  33: 'u16',
  34: 'u16',
  35: 'u16',
  36: 'byte',
  37: 'byte',
  38: 'pair',
  39: 'u32',
  40: 'byte',
  41: 'byte',
  42: 'byte',
};

export type PropValue = number | string | Buffer | readonly [string, string];
/** identifier → value; user properties (and subscription ids) may repeat: arrays */
export type Properties = ReadonlyMap<number, PropValue | PropValue[]>;

export const NO_PROPERTIES: Properties = new Map();

export function readProperties(r: Reader, what: string): Properties {
  const len = r.varint(`${what} property length`);
  r.need(len, `${what} properties`);
  const end = r.pos + len;
  if (len === 0) return NO_PROPERTIES;
  const out = new Map<number, PropValue | PropValue[]>();
  while (r.pos < end) {
    const id = r.varint(`${what} property identifier`);
    const kind = KIND[id];
    if (!kind) throw new MqttProtocolError(`unknown property 0x${id.toString(16)} in ${what}`);
    let v: PropValue;
    switch (kind) {
      case 'byte':
        v = r.u8(what);
        break;
      case 'u16':
        v = r.u16(what);
        break;
      case 'u32':
        v = r.u32(what);
        break;
      case 'varint':
        v = r.varint(what);
        break;
      case 'string':
        v = r.string(what);
        break;
      case 'binary':
        v = Buffer.from(r.bytes(what));
        break;
      case 'pair':
        v = [r.string(what), r.string(what)] as const;
        break;
    }
    if (id === PROP.userProperty || id === PROP.subscriptionId) {
      const list = (out.get(id) as PropValue[] | undefined) ?? [];
      list.push(v);
      out.set(id, list);
    } else {
      if (out.has(id)) throw new MqttProtocolError(`property 0x${id.toString(16)} twice in ${what}`); // §2.2.2.2
      out.set(id, v);
    }
  }
  if (r.pos !== end) throw new MqttProtocolError(`${what} properties overrun their length`);
  return out;
}

export function varintBytes(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

const str = (s: string) => {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
};

/** The property block (length + list) for `[identifier, value]` pairs. */
export function writeProperties(list: readonly (readonly [number, PropValue])[]): Buffer {
  const parts: Buffer[] = [];
  for (const [id, v] of list) {
    parts.push(varintBytes(id));
    switch (KIND[id]) {
      case 'byte':
        parts.push(Buffer.from([v as number]));
        break;
      case 'u16':
        parts.push(Buffer.from([(v as number) >> 8, (v as number) & 0xff]));
        break;
      case 'u32': {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(v as number);
        parts.push(b);
        break;
      }
      case 'varint':
        parts.push(varintBytes(v as number));
        break;
      case 'string':
        parts.push(str(v as string));
        break;
      case 'binary':
        parts.push(Buffer.from([(v as Buffer).length >> 8, (v as Buffer).length & 0xff]), v as Buffer);
        break;
      case 'pair':
        parts.push(str((v as [string, string])[0]), str((v as [string, string])[1]));
        break;
      default:
        throw new TypeError(`unknown property 0x${id.toString(16)}`);
    }
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([varintBytes(body.length), body]);
}
