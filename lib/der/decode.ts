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

/** BIT STRING content without the unused-bits octet; only whole-octet strings are accepted. */
export function bitStringBytes(n: Node): Buffer {
  if (n.tag !== 0x03) throw new DerError('expected BIT STRING');
  const b = content(n);
  if (b.length < 1 || b[0] !== 0) throw new DerError('BIT STRING with unused bits');
  return b.subarray(1);
}

export function stringValue(n: Node): string {
  switch (n.tag) {
    case 0x0c: // UTF8String
      return content(n).toString('utf8');
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x14: // TeletexString, read as latin1 for legacy CSRs
      return content(n).toString('latin1');
    default:
      throw new DerError(`unsupported string type 0x${n.tag.toString(16)}`);
  }
}
