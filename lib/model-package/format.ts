// The package container. All integers big-endian; sections in a fixed order, each once, so
// there is no section type to confuse, no duplicate and no missing section to decide about:
//
//   0        4  magic "ESMP"
//   4        2  format version (1)
//   6        2  flags, reserved: 0
//   8        4  manifest length M (1 … 256 KiB)
//   12       M  manifest: compact JWS, ASCII
//   12+M     4  key envelope length E (0 = stripped … 16 KiB)
//   16+M     E  key envelope: compact JWE, ASCII
//   16+M+E   8  payload length P (must be exactly the rest of the bytes)
//   24+M+E   P  payload: chunk_0 ‖ … ‖ chunk_{n-1}, each ciphertext ‖ 16-byte tag
//
// The manifest does not cover the envelope (the envelope binds the package id itself), so
// stripping the envelope leaves the manifest valid. The payload length is redundant with the
// file size on purpose: a truncated download is named as such, and a streaming reader knows
// the payload's size from the head alone.
import { fail } from './errors.ts';
import { MAX_MANIFEST_BYTES } from './manifest.ts';

export const MAGIC = Buffer.from('ESMP', 'latin1');
export const FORMAT_VERSION = 1;
/** an ECDH-ES+A256KW JWE of a 32-byte key is ~400 bytes */
export const MAX_ENVELOPE_BYTES = 16 * 1024;
const FIXED_HEAD = 8 + 4 + 4 + 8;
/** Bytes a reader needs at most to parse the head (readPackageHead) of any package. */
export const MAX_HEAD_BYTES = FIXED_HEAD + MAX_MANIFEST_BYTES + MAX_ENVELOPE_BYTES;
const ASCII_TOKEN = /^[\x21-\x7e]*$/;

export interface PackageHeader {
  readonly version: number;
  readonly flags: number;
}

export interface PackageHead {
  readonly header: PackageHeader;
  readonly manifestJws: string;
  /** undefined once the publisher stripped it */
  readonly keyEnvelope: string | undefined;
  readonly payloadOffset: number;
  readonly payloadLength: number;
}

export interface PackageParts extends PackageHead {
  /** a view of the input bytes, not a copy */
  readonly payload: Buffer;
}

const view = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

function need(buf: Buffer, end: number, what: string): void {
  if (buf.length < end) fail('PackageTruncated', `package ends inside the ${what}`);
}

function asciiSection(buf: Buffer, at: number, max: number, min: number, what: string): [string, number] {
  need(buf, at + 4, `${what} length`);
  const len = buf.readUInt32BE(at);
  if (len < min || len > max) fail('PackageMalformed', `${what} length ${len} is outside [${min}, ${max}]`);
  need(buf, at + 4 + len, what);
  const text = buf.toString('latin1', at + 4, at + 4 + len);
  if (!ASCII_TOKEN.test(text)) fail('PackageMalformed', `${what} is not printable ASCII`);
  return [text, at + 4 + len];
}

/**
 * Parses the head of a package: everything before the payload. `prefix` may be the whole
 * package or only its first bytes (at most MAX_HEAD_BYTES are needed), so a reader can
 * stream the payload from a file or a download after reading the head.
 */
export function readPackageHead(prefix: Uint8Array): PackageHead {
  if (!(prefix instanceof Uint8Array)) throw new TypeError('package must be a Uint8Array');
  const buf = view(prefix);
  const magicSeen = buf.subarray(0, MAGIC.length);
  if (!magicSeen.equals(MAGIC.subarray(0, magicSeen.length)))
    fail('PackageMalformed', 'not an edgeseal model package');
  need(buf, 8, 'header');
  const version = buf.readUInt16BE(4);
  if (version !== FORMAT_VERSION)
    fail('UnsupportedVersion', `package format version ${version} is not supported`);
  const flags = buf.readUInt16BE(6);
  if (flags !== 0) fail('PackageMalformed', 'reserved header flags are set');
  const [manifestJws, afterManifest] = asciiSection(buf, 8, MAX_MANIFEST_BYTES, 1, 'manifest');
  const [envelope, afterEnvelope] = asciiSection(buf, afterManifest, MAX_ENVELOPE_BYTES, 0, 'key envelope');
  need(buf, afterEnvelope + 8, 'payload length');
  const high = buf.readUInt32BE(afterEnvelope);
  // 2^53 bytes: beyond any file and any safe integer
  if (high >= 2 ** 21) fail('PackageMalformed', 'payload length is absurd');
  const payloadLength = high * 2 ** 32 + buf.readUInt32BE(afterEnvelope + 4);
  return {
    header: { version, flags },
    manifestJws,
    keyEnvelope: envelope.length === 0 ? undefined : envelope,
    payloadOffset: afterEnvelope + 8,
    payloadLength,
  };
}

/** Parses a whole package strictly: lengths in bounds, the payload to the last byte, nothing after. */
export function readPackage(bytes: Uint8Array): PackageParts {
  const head = readPackageHead(bytes);
  const buf = view(bytes);
  const end = head.payloadOffset + head.payloadLength;
  if (end > buf.length) fail('PackageTruncated', `package ends ${end - buf.length} bytes inside the payload`);
  if (end < buf.length) fail('PackageMalformed', `${buf.length - end} bytes after the payload`);
  return { ...head, payload: buf.subarray(head.payloadOffset, end) };
}

/** The head of a package (everything before the payload bytes). */
export function encodeHead(
  manifestJws: string,
  keyEnvelope: string | undefined,
  payloadLength: number,
): Buffer {
  const env = keyEnvelope ?? '';
  if (!ASCII_TOKEN.test(manifestJws) || manifestJws.length === 0 || manifestJws.length > MAX_MANIFEST_BYTES)
    throw new TypeError('manifest must be 1 … 256 KiB of printable ASCII');
  if (!ASCII_TOKEN.test(env) || env.length > MAX_ENVELOPE_BYTES)
    throw new TypeError('key envelope must be at most 16 KiB of printable ASCII');
  if (!Number.isSafeInteger(payloadLength) || payloadLength < 0) throw new TypeError('bad payload length');
  const head = Buffer.alloc(FIXED_HEAD + manifestJws.length + env.length);
  MAGIC.copy(head, 0);
  head.writeUInt16BE(FORMAT_VERSION, 4);
  head.writeUInt16BE(0, 6);
  let at = 8;
  head.writeUInt32BE(manifestJws.length, at);
  at += 4 + head.write(manifestJws, at + 4, 'latin1');
  head.writeUInt32BE(env.length, at);
  at += 4 + head.write(env, at + 4, 'latin1');
  head.writeUInt32BE(Math.floor(payloadLength / 2 ** 32), at);
  head.writeUInt32BE(payloadLength >>> 0, at + 4);
  return head;
}

export function encodePackage(
  manifestJws: string,
  keyEnvelope: string | undefined,
  payload: Uint8Array,
): Buffer {
  return Buffer.concat([encodeHead(manifestJws, keyEnvelope, payload.byteLength), payload]);
}

/**
 * The package as devices download it: the same manifest and payload, no key envelope. The
 * publisher sends the envelope to the key service and distributes these bytes.
 */
export function stripKeyEnvelope(bytes: Uint8Array): Buffer {
  const p = readPackage(bytes);
  return encodePackage(p.manifestJws, undefined, p.payload);
}
