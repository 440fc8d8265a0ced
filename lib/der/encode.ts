// Minimal DER encoder (ITU-T X.690 §10). Values are built bottom-up as Buffers; constant
// parts of a certificate are encoded once and reused, which is where issuance gets its speed.

export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

function lengthBytes(len: number): Buffer {
  if (len < 0x80) return Buffer.from([len]);
  const out: number[] = [];
  let n = len;
  while (n > 0) {
    out.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return Buffer.from([0x80 | out.length, ...out]);
}

export function tlv(tag: number, content: Uint8Array): Buffer {
  const len = lengthBytes(content.length);
  const out = Buffer.allocUnsafe(1 + len.length + content.length);
  out[0] = tag;
  len.copy(out, 1);
  out.set(content, 1 + len.length);
  return out;
}

export const seq = (...parts: Uint8Array[]): Buffer => tlv(Tag.SEQUENCE, Buffer.concat(parts));

/** SET OF, sorted as X.690 §11.6 requires for DER. */
export const setOf = (...parts: Uint8Array[]): Buffer =>
  tlv(Tag.SET, Buffer.concat([...parts].sort((a, b) => Buffer.compare(a, b))));

/** Context-specific tag [n]; constructed unless `primitive`. */
export const ctx = (n: number, content: Uint8Array, primitive = false): Buffer =>
  tlv((primitive ? 0x80 : 0xa0) | n, content);

/** INTEGER from unsigned big-endian magnitude (adds the 0x00 sign octet when needed). */
export function uint(bytes: Uint8Array): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0 && (bytes[i + 1]! & 0x80) === 0) i++;
  const trimmed = bytes.subarray(i);
  return tlv(Tag.INTEGER, trimmed[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

export function smallInt(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new TypeError('smallInt takes a non-negative safe integer');
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  return uint(Buffer.from(bytes));
}

export const bool = (v: boolean): Buffer => tlv(Tag.BOOLEAN, Buffer.from([v ? 0xff : 0x00]));
export const nul = (): Buffer => Buffer.from([Tag.NULL, 0]);
export const octets = (b: Uint8Array): Buffer => tlv(Tag.OCTET_STRING, b);
export const bitString = (b: Uint8Array, unusedBits = 0): Buffer =>
  tlv(Tag.BIT_STRING, Buffer.concat([Buffer.from([unusedBits]), b]));
export const utf8 = (s: string): Buffer => tlv(Tag.UTF8_STRING, Buffer.from(s, 'utf8'));
export const ia5 = (s: string): Buffer => tlv(Tag.IA5_STRING, Buffer.from(s, 'ascii'));
export const printable = (s: string): Buffer => tlv(Tag.PRINTABLE_STRING, Buffer.from(s, 'ascii'));

const oidCache = new Map<string, Buffer>();
export function oid(dotted: string): Buffer {
  const hit = oidCache.get(dotted);
  if (hit) return hit;
  const arcs = dotted.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new TypeError(`bad OID ${dotted}`);
    return BigInt(a);
  });
  if (arcs.length < 2) throw new TypeError(`bad OID ${dotted}`);
  const body: number[] = [];
  const push = (v: bigint) => {
    const chunk: number[] = [Number(v & 0x7fn)];
    for (let x = v >> 7n; x > 0n; x >>= 7n) chunk.unshift(Number(x & 0x7fn) | 0x80);
    body.push(...chunk);
  };
  push(arcs[0]! * 40n + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  const out = tlv(Tag.OID, Buffer.from(body));
  oidCache.set(dotted, out);
  return out;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, always Zulu, no fractions. */
export function time(d: Date): Buffer {
  const y = d.getUTCFullYear();
  const rest = `${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
  if (y >= 1950 && y < 2050) return tlv(Tag.UTC_TIME, Buffer.from(pad(y % 100) + rest, 'ascii'));
  return tlv(Tag.GENERALIZED_TIME, Buffer.from(pad(y, 4) + rest, 'ascii'));
}

export const generalizedTime = (d: Date): Buffer => {
  const s = d
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return tlv(Tag.GENERALIZED_TIME, Buffer.from(s, 'ascii'));
};
