import { describe, expect, it } from 'vitest';
import { isPackageError, type PackageErrorCode } from './errors.ts';
import {
  encodePackage,
  MAX_ENVELOPE_BYTES,
  MAX_HEAD_BYTES,
  readPackage,
  readPackageHead,
  stripKeyEnvelope,
} from './format.ts';
import { wrapContentKey } from './key-envelope.ts';
import { verifyManifest } from './manifest.ts';
import { newPackageId } from './package-model.ts';
import { contentKey, keyService, make, NOW, releaseKeys } from './test-fixtures.ts';

const packageId = newPackageId();
const envelope = await wrapContentKey(contentKey, keyService.publicKey.export({ format: 'jwk' }), packageId);
const pkg = await make({ packageId, keyEnvelope: envelope });
const parts = readPackage(pkg);

function code(f: () => unknown): PackageErrorCode | unknown {
  try {
    f();
    return 'accepted';
  } catch (e) {
    return isPackageError(e) ? e.code : e;
  }
}

/** A copy of pkg with a big-endian integer written at `at`. */
function patched(at: number, value: number, width: 2 | 4): Buffer {
  const b = Buffer.from(pkg);
  if (width === 2) b.writeUInt16BE(value, at);
  else b.writeUInt32BE(value, at);
  return b;
}

describe('the container', () => {
  it('lays out magic, version, flags, then the three length-prefixed sections', () => {
    const m = parts.manifestJws.length;
    const e = envelope.length;
    expect(pkg.subarray(0, 8).toString('hex')).toBe('45534d5000010000'); // "ESMP", 1, 0
    expect(pkg.readUInt32BE(8)).toBe(m);
    expect(pkg.toString('latin1', 12, 12 + m)).toBe(parts.manifestJws);
    expect(pkg.readUInt32BE(12 + m)).toBe(e);
    expect(pkg.toString('latin1', 16 + m, 16 + m + e)).toBe(envelope);
    expect(pkg.readUInt32BE(16 + m + e)).toBe(0);
    expect(pkg.readUInt32BE(20 + m + e)).toBe(parts.payload.length);
    expect(parts.payloadOffset).toBe(24 + m + e);
    expect(parts.keyEnvelope).toBe(envelope);
    expect(parts.header).toEqual({ version: 1, flags: 0 });
  });

  it('gives the payload as a view of the input, not a copy', () => {
    expect(parts.payload.buffer).toBe(pkg.buffer);
    expect(parts.payload.byteOffset).toBe(pkg.byteOffset + parts.payloadOffset);
  });

  it('strips the key envelope; the manifest and payload are untouched and still verify', async () => {
    const stripped = stripKeyEnvelope(pkg);
    expect(stripped.length).toBe(pkg.length - envelope.length);
    const s = readPackage(stripped);
    expect(s.keyEnvelope).toBeUndefined();
    expect(s.manifestJws).toBe(parts.manifestJws);
    expect(s.payload.equals(parts.payload)).toBe(true);
    expect((await verifyManifest(s.manifestJws, { releaseKeys, now: NOW })).package_id).toBe(packageId);
    expect(stripKeyEnvelope(stripped).equals(stripped)).toBe(true);
  });

  it('parses the head from a prefix, so the payload can be streamed after it', () => {
    const head = readPackageHead(pkg.subarray(0, parts.payloadOffset));
    expect(head.payloadOffset).toBe(parts.payloadOffset);
    expect(head.payloadLength).toBe(parts.payload.length);
    expect(code(() => readPackageHead(pkg.subarray(0, parts.payloadOffset - 1)))).toBe('PackageTruncated');
    expect(MAX_HEAD_BYTES).toBeGreaterThan(parts.payloadOffset);
  });

  it.each([
    ['empty input', () => Buffer.alloc(0), 'PackageTruncated'],
    ['half the magic', () => pkg.subarray(0, 2), 'PackageTruncated'],
    ['another magic', () => Buffer.concat([Buffer.from('PK\x03\x04'), pkg.subarray(4)]), 'PackageMalformed'],
    [
      'a .onnx (protobuf) handed in by mistake',
      () => Buffer.from('080712076f6e6e782d6a73', 'hex'),
      'PackageMalformed',
    ],
    ['format version 2', () => patched(4, 2, 2), 'UnsupportedVersion'],
    ['format version 0', () => patched(4, 0, 2), 'UnsupportedVersion'],
    ['a reserved flag', () => patched(6, 1, 2), 'PackageMalformed'],
    ['a manifest length of 0', () => patched(8, 0, 4), 'PackageMalformed'],
    ['a manifest length of 4 GiB - 1', () => patched(8, 0xffffffff, 4), 'PackageMalformed'],
    ['a manifest length past the end', () => patched(8, pkg.length, 4), 'PackageTruncated'],
    [
      'a manifest one byte longer (eats the envelope length)',
      () => patched(8, parts.manifestJws.length + 1, 4),
      'PackageMalformed',
    ],
    [
      'an envelope length over 16 KiB',
      () => patched(12 + parts.manifestJws.length, MAX_ENVELOPE_BYTES + 1, 4),
      'PackageMalformed',
    ],
    ['a payload length of 2^53', () => patched(parts.payloadOffset - 8, 2 ** 21, 4), 'PackageMalformed'],
    [
      'a payload length 1 short (a trailing byte)',
      () => patched(parts.payloadOffset - 4, parts.payload.length - 1, 4),
      'PackageMalformed',
    ],
    [
      'a payload length 1 long',
      () => patched(parts.payloadOffset - 4, parts.payload.length + 1, 4),
      'PackageTruncated',
    ],
    ['a trailing byte', () => Buffer.concat([pkg, Buffer.alloc(1)]), 'PackageMalformed'],
    ['a NUL in the manifest', () => Object.assign(Buffer.from(pkg), { [20]: 0 }), 'PackageMalformed'],
    [
      'a non-ASCII byte in the envelope',
      () => Object.assign(Buffer.from(pkg), { [16 + parts.manifestJws.length]: 0xc3 }),
      'PackageMalformed',
    ],
  ])('refuses %s', (_name, bytes, expected) => {
    expect(code(() => readPackage(bytes()))).toBe(expected);
  });

  it('treats a non-byte argument as misuse', () => {
    expect(() => readPackage('ESMP' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => encodePackage('a\nb', undefined, Buffer.alloc(0))).toThrow(TypeError);
  });
});
