// The payload in memory: checked against the manifest before any decryption (checkPayload),
// and decrypted chunk by chunk into one buffer (decryptPackage).
import { createHash } from 'node:crypto';
import { payloadSizeFor, TAG_BYTES } from './chunks.ts';
import { ChunkOpener } from './chunk-opener.ts';
import type { HashThread } from './hash-thread.ts';
import { fail } from './errors.ts';
import { type Manifest, parseClaims } from './manifest-claims.ts';

export interface DecryptOptions {
  /** where the plaintext goes (exactly plaintext_size bytes); default a new buffer of its own */
  readonly output?: Uint8Array;
  /** hash the plaintext on this worker thread instead of this one (the digest still gates the result) */
  readonly hashThread?: HashThread;
}

/** The manifest as decryption relies on it: re-parsed, so a hand-built object cannot derail the loop. */
export const checkedManifest = (m: Manifest): Manifest =>
  parseClaims(typeof m === 'object' && m !== null ? { ...m } : {});

export function checkPayloadSize(m: Manifest, length: number): void {
  const expected = payloadSizeFor(m.plaintext_size, m.chunk_count);
  if (length !== expected)
    fail(
      'PayloadSizeMismatch',
      `payload is ${length} bytes; ${m.chunk_count} chunks of ${m.plaintext_size} bytes in all make ${expected}`,
    );
}

/**
 * Checks the encrypted payload against the signed manifest without any key: its size, then
 * its SHA-256. What a device does on download, and the control plane at upload.
 */
export function checkPayload(manifest: Manifest, payload: Uint8Array): void {
  const m = checkedManifest(manifest);
  if (!(payload instanceof Uint8Array)) throw new TypeError('payload must be a Uint8Array');
  checkPayloadSize(m, payload.byteLength);
  if (createHash('sha256').update(payload).digest('hex') !== m.payload_sha256)
    fail('PayloadDigestMismatch', 'payload SHA-256 is not the manifest payload_sha256');
}

/**
 * Decrypts a payload into one buffer: every chunk's tag checked before its plaintext is
 * copied out, then the plaintext SHA-256 compared with the manifest. On any failure the
 * buffer is zeroed before the error is thrown. The caller wipes the result once the model is
 * loaded (onnxruntime copies the weights).
 */
export function decryptPackage(
  manifest: Manifest,
  payload: Uint8Array,
  contentKey: Uint8Array,
  opts: DecryptOptions = {},
): Buffer {
  const m = checkedManifest(manifest);
  if (!(payload instanceof Uint8Array)) throw new TypeError('payload must be a Uint8Array');
  checkPayloadSize(m, payload.byteLength);
  const opener = new ChunkOpener(m, contentKey, opts.output, opts.hashThread);
  try {
    let at = 0;
    while (!opener.done) {
      const end = at + opener.chunkBytes;
      opener.update(payload.subarray(at, end));
      opener.final(payload.subarray(end, end + TAG_BYTES));
      at = end + TAG_BYTES;
    }
    return opener.finish();
  } catch (e) {
    opener.wipe();
    throw e;
  }
}
