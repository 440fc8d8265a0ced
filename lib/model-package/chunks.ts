// The chunked AES-256-GCM scheme, "A256GCM-CHUNKED-v1": how a plaintext is cut into chunks,
// the nonce and the associated data of each chunk. Shared by the writer and both readers so
// the three cannot disagree.
//
// chunk i of n (0-based): ciphertext_i ‖ tag_i (16 bytes), where
//   nonce_i = nonce_base XOR (0x00000000 ‖ uint64_be(i))            (12 bytes)
//   aad_i   = "A256GCM-CHUNKED-v1" ‖ 0x00 ‖ package_id (16 bytes raw)
//             ‖ uint64_be(i) ‖ uint64_be(n) ‖ uint8(i == n-1 ? 1 : 0)  (52 bytes)
//
// Nonces never repeat under one key: a content key is random and used for one package only,
// and within a package XOR with a fixed base is a bijection on the index, so distinct indices
// (i < n ≤ 2^32) give distinct nonces (the TLS 1.3 per-record construction, RFC 8446 §5.3).
// The AAD makes every chunk name its position, the total and whether it is the last (the STREAM
// construction of Hoang, Reyhanitabar, Rogaway, Vizár 2015): a chunk moved, swapped or
// duplicated carries the wrong index, a dropped or appended chunk changes n, truncating at a
// chunk boundary leaves a last chunk without the flag, and a chunk of another package carries
// the wrong package id, each a tag failure. The label keeps a future scheme's chunks from
// being taken for these.

export const ENC = 'A256GCM-CHUNKED-v1';
export const TAG_BYTES = 16;
export const NONCE_BYTES = 12;
export const KEY_BYTES = 32;
export const PACKAGE_ID_BYTES = 16;
export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024;
/** small chunks only make tests fast; below 1 KiB the tags would be a noticeable overhead */
export const MIN_CHUNK_SIZE = 1024;
/** bounds the memory a reader holds for one chunk before its tag is checked */
export const MAX_CHUNK_SIZE = 64 * 1024 * 1024;
/** far below the 2^64 the nonce could count to; 4 TiB at the smallest chunk size */
export const MAX_CHUNK_COUNT = 2 ** 32;

const LABEL = Buffer.from(`${ENC}\0`, 'latin1');
export const AAD_BYTES = LABEL.length + PACKAGE_ID_BYTES + 8 + 8 + 1;

/**
 * Chunks for a plaintext: ceil(size / chunkSize), and one empty chunk for an empty plaintext, so
 * that every payload has a last chunk that authenticates the count (an empty payload would
 * authenticate nothing).
 */
export const chunkCountFor = (plaintextSize: number, chunkSize: number): number =>
  plaintextSize === 0 ? 1 : Math.ceil(plaintextSize / chunkSize);

export const payloadSizeFor = (plaintextSize: number, chunkCount: number): number =>
  plaintextSize + chunkCount * TAG_BYTES;

/** Plaintext bytes in chunk `index` (all full but the last). */
export const chunkLength = (plaintextSize: number, chunkSize: number, index: number): number =>
  Math.min(chunkSize, plaintextSize - index * chunkSize);

function writeU64(buf: Buffer, value: number, offset: number): void {
  buf.writeUInt32BE(Math.floor(value / 2 ** 32), offset);
  buf.writeUInt32BE(value >>> 0, offset + 4);
}

export function chunkNonce(nonceBase: Buffer, index: number): Buffer {
  const nonce = Buffer.from(nonceBase);
  nonce.writeUInt32BE((nonce.readUInt32BE(4) ^ Math.floor(index / 2 ** 32)) >>> 0, 4);
  nonce.writeUInt32BE((nonce.readUInt32BE(8) ^ (index >>> 0)) >>> 0, 8);
  return nonce;
}

export function chunkAad(packageId: Buffer, index: number, count: number): Buffer {
  const aad = Buffer.alloc(AAD_BYTES);
  LABEL.copy(aad, 0);
  packageId.copy(aad, LABEL.length);
  writeU64(aad, index, LABEL.length + PACKAGE_ID_BYTES);
  writeU64(aad, count, LABEL.length + PACKAGE_ID_BYTES + 8);
  aad[AAD_BYTES - 1] = index === count - 1 ? 1 : 0;
  return aad;
}
