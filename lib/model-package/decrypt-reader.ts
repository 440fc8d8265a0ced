// The payload read in place: positioned reads put each chunk's ciphertext straight into its
// place in the output buffer and its tag aside, a few chunks ahead, while this thread decrypts
// the chunk before; the plaintext then replaces the ciphertext (after the tag verified). Same
// checks as decryptPackage. Faster than decryptStream from a file because the kernel's copy
// into the output (and the first touch of its fresh pages, ~0.6 ms per MiB on this kind of
// machine) happens on the libuv thread pool instead of this thread, and no buffer is
// allocated per read. The reads are the caller's: a FileHandle's readv, or a range reader.
// With `hashThread` the plaintext digest runs on a worker while this thread decrypts; with an
// `output` from allocateOutput the first touch of the pages happened before (see README, Speed).
import { TAG_BYTES } from './chunks.ts';
import { ChunkOpener } from './chunk-opener.ts';
import { checkedManifest } from './decrypt.ts';
import type { HashThread } from './hash-thread.ts';
import { fail, PackageError } from './errors.ts';
import type { Manifest } from './manifest-claims.ts';

/**
 * Reads payload bytes at `position` (from the start of the payload) into `buffers` in order;
 * resolves to the number of bytes read, 0 at the end. `fh.readv(buffers, payloadOffset + position)`
 * of a node:fs/promises FileHandle fits once its result is mapped to bytesRead.
 */
export type PayloadReader = (buffers: Uint8Array[], position: number) => Promise<number>;

export interface DecryptReaderOptions {
  /** where the plaintext goes (exactly plaintext_size bytes); default a new buffer of its own */
  readonly output?: Uint8Array;
  /** hash the plaintext on this worker thread instead of this one (the digest still gates the result) */
  readonly hashThread?: HashThread;
  /** reads in flight ahead of the chunk being decrypted (default 2) */
  readonly readAhead?: number;
}

/** Fills `buffers` from `position`, across short reads; false when the payload ended first. */
async function readFully(read: PayloadReader, buffers: Buffer[], position: number): Promise<boolean> {
  let bufs = buffers.filter((b) => b.length > 0); // an empty chunk has only its tag to read
  let want = bufs.reduce((n, b) => n + b.length, 0);
  let pos = position;
  while (want > 0) {
    let n: number;
    try {
      n = await read(bufs, pos);
    } catch (e) {
      throw new PackageError('PayloadReadFailed', 'reading the payload failed', { cause: e });
    }
    if (!Number.isSafeInteger(n) || n < 0 || n > want)
      throw new TypeError('the reader returned a bad byte count');
    if (n === 0) return false;
    want -= n;
    pos += n;
    // drop what was filled
    let skip = n;
    while (skip > 0 && bufs.length > 0) {
      const first = bufs[0]!;
      if (skip >= first.length) {
        skip -= first.length;
        bufs = bufs.slice(1);
      } else {
        bufs = [first.subarray(skip), ...bufs.slice(1)];
        skip = 0;
      }
    }
  }
  return true;
}

/**
 * Decrypts a payload by positioned reads into one buffer, with the checks of decryptPackage:
 * size (the payload must end exactly where the manifest says), every chunk's tag before its
 * plaintext is used, the plaintext digest. On failure the reads in flight are awaited and the
 * buffer zeroed.
 */
export async function decryptReader(
  manifest: Manifest,
  read: PayloadReader,
  contentKey: Uint8Array,
  opts: DecryptReaderOptions = {},
): Promise<Buffer> {
  const m = checkedManifest(manifest);
  if (typeof read !== 'function') throw new TypeError('read must be a function');
  const ahead = opts.readAhead ?? 2;
  if (!Number.isSafeInteger(ahead) || ahead < 1 || ahead > 16)
    throw new TypeError('readAhead must be 1 … 16');
  const opener = new ChunkOpener(m, contentKey, opts.output, opts.hashThread);
  const out = opener.out;
  const tags = Buffer.alloc((ahead + 1) * TAG_BYTES);
  const inFlight: Promise<boolean>[] = [];
  const start = (i: number): void => {
    const at = i * m.chunk_size;
    const len = Math.min(m.chunk_size, m.plaintext_size - at);
    const slot = (i % (ahead + 1)) * TAG_BYTES;
    const p = readFully(
      read,
      [out.subarray(at, at + len), tags.subarray(slot, slot + TAG_BYTES)],
      at + i * TAG_BYTES,
    );
    p.catch(() => {});
    inFlight.push(p);
  };
  try {
    for (let i = 0; i < Math.min(ahead, m.chunk_count); i++) start(i);
    for (let i = 0; i < m.chunk_count; i++) {
      const complete = await inFlight[0]!;
      inFlight.shift();
      if (!complete) fail('PayloadSizeMismatch', `payload ends inside chunk ${i} of ${m.chunk_count}`);
      if (i + ahead < m.chunk_count) start(i + ahead);
      const slot = (i % (ahead + 1)) * TAG_BYTES;
      opener.update(out.subarray(i * m.chunk_size, i * m.chunk_size + opener.chunkBytes));
      opener.final(tags.subarray(slot, slot + TAG_BYTES));
    }
    // nothing may follow the last chunk
    if (await readFully(read, [Buffer.alloc(1)], m.plaintext_size + m.chunk_count * TAG_BYTES))
      fail('PayloadSizeMismatch', 'payload is longer than the manifest says');
    return opener.finish();
  } catch (e) {
    await Promise.allSettled(inFlight); // no read may land in the buffer after it is zeroed
    opener.wipe();
    throw e;
  }
}
