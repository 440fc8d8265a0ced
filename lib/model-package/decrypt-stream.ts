// The payload as a stream (a file read, a download): chunk i is decrypted while the read of
// what follows is already under way, so reading and decryption overlap instead of adding up.
// Two things make the overlap: the next piece is asked for before the current one is
// decrypted, and a Node Readable keeps reading up to its highWaterMark on the libuv thread
// pool while this thread runs AES. Pieces need not align with chunks.
import { createHash, type Hash } from 'node:crypto';
import { payloadSizeFor, TAG_BYTES } from './chunks.ts';
import { ChunkOpener } from './chunk-opener.ts';
import { checkedManifest } from './decrypt.ts';
import type { HashThread } from './hash-thread.ts';
import { fail, PackageError } from './errors.ts';
import type { Manifest } from './manifest-claims.ts';

export interface DecryptStreamOptions {
  /** where the plaintext goes (exactly plaintext_size bytes); default a new buffer of its own */
  readonly output?: Uint8Array;
  /** hash the plaintext on this worker thread instead of this one (the digest still gates the result) */
  readonly hashThread?: HashThread;
  /**
   * Also hash the ciphertext as it passes and compare payload_sha256 at the end (default
   * false). The chunk tags and the plaintext digest already bind what is returned to the
   * signed manifest; this second SHA-256 pass (~55 ms per 100 MiB here) is for a payload
   * straight off the network that was never checked with checkPayload.
   */
  readonly checkPayloadDigest?: boolean;
}

type Source = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

function iteratorOf(source: Source): AsyncIterator<Uint8Array> {
  const s = source as Partial<AsyncIterable<Uint8Array> & Iterable<Uint8Array>> | null;
  const asyncIt = s?.[Symbol.asyncIterator];
  if (typeof asyncIt === 'function') return asyncIt.call(s);
  const syncIt = s?.[Symbol.iterator];
  if (typeof syncIt === 'function' && typeof s === 'object') {
    const it: Iterator<Uint8Array> = syncIt.call(s);
    return {
      next: async () => it.next(),
      return: async () => it.return?.() ?? { done: true, value: undefined },
    };
  }
  throw new TypeError('source must be a Readable or an (async) iterable of Uint8Array');
}

/** Stops the source without waiting on it (a stalled download must not hold up the error). */
function close(source: Source, it: AsyncIterator<Uint8Array>): void {
  const destroy = (source as { destroy?: unknown }).destroy;
  if (typeof destroy === 'function') destroy.call(source);
  it.return?.().catch(() => {});
}

/**
 * Decrypts a payload from a stream of pieces into one buffer, with the checks of
 * decryptPackage: size, every chunk's tag before its plaintext is used, the plaintext digest.
 * On failure the buffer is zeroed and the source closed.
 */
export async function decryptStream(
  manifest: Manifest,
  source: Source,
  contentKey: Uint8Array,
  opts: DecryptStreamOptions = {},
): Promise<Buffer> {
  const m = checkedManifest(manifest);
  const it = iteratorOf(source);
  const expected = payloadSizeFor(m.plaintext_size, m.chunk_count);
  let opener: ChunkOpener | undefined;
  try {
    opener = new ChunkOpener(m, contentKey, opts.output, opts.hashThread);
    const payloadHash: Hash | undefined = opts.checkPayloadDigest ? createHash('sha256') : undefined;
    const tag = Buffer.alloc(TAG_BYTES);
    let tagHave = 0;
    let ctNeed = opener.chunkBytes;
    let total = 0;
    let next = read(it);
    for (;;) {
      const r = await received(next);
      if (r.done) break;
      if (!(r.value instanceof Uint8Array)) throw new TypeError('the source must yield Uint8Array pieces');
      next = read(it); // ask for more before decrypting this piece
      const piece = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
      total += piece.length;
      if (total > expected)
        fail('PayloadSizeMismatch', `payload is longer than the ${expected} bytes of the manifest`);
      payloadHash?.update(piece);
      let at = 0;
      while (at < piece.length) {
        if (ctNeed > 0) {
          const n = Math.min(ctNeed, piece.length - at);
          opener.update(piece.subarray(at, at + n));
          at += n;
          ctNeed -= n;
          continue;
        }
        const n = Math.min(TAG_BYTES - tagHave, piece.length - at);
        piece.copy(tag, tagHave, at, at + n);
        tagHave += n;
        at += n;
        if (tagHave === TAG_BYTES) {
          opener.final(tag);
          tagHave = 0;
          if (!opener.done) ctNeed = opener.chunkBytes;
        }
      }
    }
    if (total !== expected) fail('PayloadSizeMismatch', `payload ends after ${total} of ${expected} bytes`);
    const out = opener.finish();
    if (payloadHash && payloadHash.digest('hex') !== m.payload_sha256)
      fail('PayloadDigestMismatch', 'payload SHA-256 is not the manifest payload_sha256');
    return out;
  } catch (e) {
    opener?.wipe();
    close(source, it);
    throw e;
  }
}

/** The source's own failures (a read error, a dropped download) as one coded error. */
async function received(p: Promise<IteratorResult<Uint8Array>>): Promise<IteratorResult<Uint8Array>> {
  try {
    return await p;
  } catch (e) {
    throw new PackageError('PayloadReadFailed', 'reading the payload failed', { cause: e });
  }
}

/** next(), with a rejection marked handled: it is awaited later, or dropped on an error. */
function read(it: AsyncIterator<Uint8Array>): Promise<IteratorResult<Uint8Array>> {
  const p = it.next();
  p.catch(() => {});
  return p;
}
