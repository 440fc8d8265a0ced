// A package on disk (DIR/packages/<release id>.pkg): ciphertext, the only form of a model
// that ever rests on a disk. Its head is read to find the payload; the payload is checked
// against the signed manifest without any key (size, then SHA-256: what checkPayload does,
// streamed so a 100 MB package is never all in memory) and read in pieces for decryption.
import { createHash } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import {
  MAX_HEAD_BYTES,
  type Manifest,
  PackageError,
  type PackageHead,
  payloadSizeFor,
  readPackageHead,
} from '../../lib/model-package/index.ts';
import { refuse } from './refusal.ts';

/** Pieces the payload is read in: large enough that decryption, not the syscalls, sets the pace. */
export const READ_PIECE_BYTES = 1024 * 1024;

export interface PackageLayout {
  readonly head: PackageHead;
  readonly size: number;
}

/** The head of the package at `path` (its manifest, where its payload starts) and the file's size. */
export async function readHead(path: string): Promise<PackageLayout> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const prefix = Buffer.alloc(Math.min(size, MAX_HEAD_BYTES));
    const { bytesRead } = await fh.read(prefix, 0, prefix.length, 0);
    return { head: readPackageHead(prefix.subarray(0, bytesRead)), size };
  } finally {
    await fh.close();
  }
}

/**
 * The head of the package at `path`, checked against the manifest the agent verified: the
 * same manifest, a payload of exactly the manifest's size, ending where the file ends.
 */
export async function readLayout(path: string, manifestJws: string, m: Manifest): Promise<PackageLayout> {
  const { head, size } = await readHead(path);
  if (head.manifestJws !== manifestJws) refuse('ReleaseMismatch', 'the package carries another manifest');
  const expected = payloadSizeFor(m.plaintext_size, m.chunk_count);
  if (head.payloadLength !== expected)
    throw new PackageError(
      'PayloadSizeMismatch',
      `payload is ${head.payloadLength} bytes; the manifest makes ${expected}`,
    );
  const end = head.payloadOffset + head.payloadLength;
  if (end > size)
    throw new PackageError('PackageTruncated', `package ends ${end - size} bytes inside the payload`);
  if (end < size) throw new PackageError('PackageMalformed', `${size - end} bytes after the payload`);
  return { head, size };
}

/** The payload as a stream of pieces, for decryptStream (which reads ahead while it decrypts). */
export const payloadStream = (path: string, layout: PackageLayout): ReadStream =>
  createReadStream(path, {
    start: layout.head.payloadOffset,
    end: layout.head.payloadOffset + layout.head.payloadLength - 1,
    highWaterMark: READ_PIECE_BYTES,
  });

/** checkPayload on a file: the payload's SHA-256 against payload_sha256 (its size readLayout checked). */
export async function checkPayloadFile(path: string, layout: PackageLayout, m: Manifest): Promise<void> {
  if (layout.head.payloadLength === 0) return;
  const h = createHash('sha256');
  for await (const piece of payloadStream(path, layout)) h.update(piece as Buffer);
  if (h.digest('hex') !== m.payload_sha256)
    throw new PackageError('PayloadDigestMismatch', 'payload SHA-256 is not the manifest payload_sha256');
}
