// Strict DER reader: definite lengths only, minimal length encoding, no trailing bytes.
// Malformed input throws DerError, never returns a partial value.

import { EdgesealError } from '../errors.ts';

export class DerError extends EdgesealError {
  constructor(message: string) {
    super('ERR_BAD_ENCODING', `malformed DER: ${message}`);
    this.name = 'DerError';
  }
}

export interface Node {
  readonly tag: number;
  /** offset of the tag octet */
  readonly start: number;
  /** offset of the first content octet */
  readonly contentStart: number;
  /** offset one past the last content octet */
  readonly end: number;
  readonly buf: Buffer;
}

export function readNode(buf: Buffer, offset = 0, limit = buf.length): Node {
  if (offset + 2 > limit) throw new DerError('truncated element');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('high-tag-number form is not supported');
  let pos = offset + 1;
  const first = buf[pos++]!;
  let len: number;
  if (first < 0x80) len = first;
  else {
    const n = first & 0x7f;
    if (n === 0) throw new DerError('indefinite length is not DER');
    if (n > 4) throw new DerError('length too large');
    if (pos + n > limit) throw new DerError('truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos++]!;
    if (len < 0x80 || (n > 1 && buf[pos - n] === 0)) throw new DerError('non-minimal length encoding');
  }
  if (pos + len > limit) throw new DerError('element runs past its container');
  return { tag, start: offset, contentStart: pos, end: pos + len, buf };
}

/** Parses exactly one element spanning the whole buffer. */
export function readTop(buf: Buffer): Node {
  const n = readNode(buf, 0, buf.length);
  if (n.end !== buf.length) throw new DerError('trailing bytes after DER element');
  return n;
}

export function children(n: Node): Node[] {
  if ((n.tag & 0x20) === 0) throw new DerError(`tag 0x${n.tag.toString(16)} is not constructed`);
  const out: Node[] = [];
  let pos = n.contentStart;
  while (pos < n.end) {
    const c = readNode(n.buf, pos, n.end);
    out.push(c);
    pos = c.end;
  }
  return out;
}

export function expect(n: Node | undefined, tag: number, what: string): Node {
  if (!n) throw new DerError(`${what} is missing`);
  if (n.tag !== tag)
    throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, got 0x${n.tag.toString(16)}`);
  return n;
}

/**
 * The children of a SEQUENCE (or other constructed `tag`) whose shape is fixed: between `min`
 * and `max` elements. An element the ASN.1 module does not define is an error, not ignored
 * (X.690 §8.9: a SEQUENCE holds exactly the components its type lists).
 */
export function fields(n: Node | undefined, tag: number, what: string, min: number, max = min): Node[] {
  const out = children(expect(n, tag, what));
  if (out.length < min) throw new DerError(`${what} has ${out.length} elements, needs ${min}`);
  if (out.length > max) throw new DerError(`${what} has ${out.length} elements, at most ${max} allowed`);
  return out;
}

export const content = (n: Node): Buffer => n.buf.subarray(n.contentStart, n.end);
export const raw = (n: Node): Buffer => n.buf.subarray(n.start, n.end);

export function oidString(n: Node): string {
  if (n.tag !== 0x06) throw new DerError('expected OBJECT IDENTIFIER');
  const b = content(n);
  if (b.length === 0) throw new DerError('empty OBJECT IDENTIFIER');
  const arcs: bigint[] = [];
  let v = 0n;
  for (let i = 0; i < b.length; i++) {
    const byte = b[i]!;
    if (v === 0n && byte === 0x80) throw new DerError('non-minimal OID arc');
    v = (v << 7n) | BigInt(byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(v);
      v = 0n;
    } else if (i === b.length - 1) throw new DerError('truncated OID arc');
  }
  const first = arcs[0]!;
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join('.');
}

/** INTEGER content octets: at least one, and minimal (X.690 §8.3.2: no redundant leading 0x00/0xFF). */
export function integerBytes(n: Node | undefined, what: string): Buffer {
  const b = content(expect(n, 0x02, what));
  checkInteger(b, what);
  return b;
}

function checkInteger(b: Buffer, what: string): void {
  if (b.length === 0) throw new DerError(`${what}: empty INTEGER`);
  if (b.length > 1 && ((b[0] === 0 && b[1]! < 0x80) || (b[0] === 0xff && b[1]! >= 0x80)))
    throw new DerError(`${what}: non-minimal INTEGER`);
}

/** BIT STRING content without the unused-bits octet; only whole-octet strings are accepted. */
export function bitStringBytes(n: Node): Buffer {
  if (n.tag !== 0x03) throw new DerError('expected BIT STRING');
  const b = content(n);
  if (b.length < 1 || b[0] !== 0) throw new DerError('BIT STRING with unused bits');
  return b.subarray(1);
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

export function stringValue(n: Node): string {
  switch (n.tag) {
    case 0x0c: // UTF8String: invalid UTF-8 is refused, as OpenSSL refuses it in a Name
      try {
        return utf8Strict.decode(content(n));
      } catch {
        throw new DerError('UTF8String is not valid UTF-8');
      }
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x14: // TeletexString, read as latin1 for legacy CSRs
      return content(n).toString('latin1');
    default:
      throw new DerError(`unsupported string type 0x${n.tag.toString(16)}`);
  }
}

/**
 * Checks an element typed ANY (an attribute value, an extension's contents) at least as
 * strictly as OpenSSL decodes one: constructed elements are walked to the leaves; universal
 * primitives must hold what their type allows. DER forbids constructed string encodings
 * (X.690 §10.2), so those are refused too.
 */
export function checkAny(n: Node, depth = 0): void {
  if (depth > 32) throw new DerError('nesting too deep');
  if (n.tag & 0x20) {
    if ((n.tag & 0xc0) === 0 && n.tag !== 0x30 && n.tag !== 0x31)
      throw new DerError(`constructed encoding of universal tag 0x${(n.tag & 0x1f).toString(16)}`);
    for (const c of children(n)) checkAny(c, depth + 1);
    return;
  }
  if ((n.tag & 0xc0) !== 0) return; // context / application / private primitive: opaque octets
  const b = content(n);
  switch (n.tag) {
    case 0x00:
      throw new DerError('end-of-contents octets are not DER');
    case 0x01: // BOOLEAN: X.690 §11.1
      if (b.length !== 1 || (b[0] !== 0 && b[0] !== 0xff)) throw new DerError('BOOLEAN is not 00 or FF');
      return;
    case 0x02:
    case 0x0a:
      checkInteger(b, 'INTEGER');
      return;
    case 0x03: // X.690 §11.2: unused bits < 8, zero when empty, and themselves zero
      if (b.length === 0 || b[0]! > 7 || (b.length === 1 && b[0] !== 0)) throw new DerError('bad BIT STRING');
      if (b[0]! > 0 && (b[b.length - 1]! & ((1 << b[0]!) - 1)) !== 0)
        throw new DerError('BIT STRING unused bits are not zero');
      return;
    case 0x05:
      if (b.length !== 0) throw new DerError('NULL with content');
      return;
    case 0x06:
      oidString(n);
      return;
    case 0x0c:
      stringValue(n);
      return;
    case 0x17: // X.690 §11.8: UTCTime is YYMMDDHHMMSSZ
      if (!/^\d{12}Z$/.test(b.toString('latin1'))) throw new DerError('bad UTCTime');
      return;
    case 0x18: // X.690 §11.7: GeneralizedTime in Zulu, no trailing zeros in the fraction
      if (!/^\d{14}(\.\d*[1-9])?Z$/.test(b.toString('latin1'))) throw new DerError('bad GeneralizedTime');
      return;
    case 0x1c: // UniversalString: 4 octets per character
      if (b.length % 4) throw new DerError('UniversalString length is not a multiple of 4');
      return;
    case 0x1e: // BMPString: 2 octets per character
      if (b.length % 2) throw new DerError('BMPString length is odd');
      return;
    default:
      return;
  }
}
