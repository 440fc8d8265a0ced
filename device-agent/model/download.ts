// Downloading a package to DIR/packages/<id>.pkg.part with resume: what is already on disk is
// kept and only the rest is asked for (RFC 9110 §14.2, `Range: bytes=<have>-`), so a download
// cut by a lost connection or a restart continues where it stopped. The server's answer
// decides: 206 from exactly our offset is appended, 200 (a server that ignores ranges) starts
// the file over, 416 (our part is past its end) starts over too. The file is fsynced before
// the caller checks and renames it.
import { open, stat, truncate } from 'node:fs/promises';
import { AgentError, fail } from '../errors.ts';

export interface PackagePiece {
  /** 200, 206 or 416 */
  readonly status: number;
  /** for 206: the first byte of the body (Content-Range) */
  readonly rangeStart?: number | undefined;
  readonly body: AsyncIterable<Uint8Array> & { destroy(): void };
}

/** Where a package comes from: the control plane over mTLS, or a test's fake. */
export interface PackageSource {
  from(offset: number): Promise<PackagePiece>;
}

/** `bytes 100-199/1000` → 100 (RFC 9110 §14.4); undefined when it is not that. */
export function contentRangeStart(header: string | undefined): number | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header?.trim() ?? '');
  return m ? Number(m[1]) : undefined;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
}

export interface Downloaded {
  /** bytes that were on disk already (0: a fresh download) */
  readonly resumedFrom: number;
  /** bytes received in this call */
  readonly received: number;
}

/** Brings `part` to `size` bytes from `source`; throws ERR_UNAVAILABLE when the transfer stops early (call again to resume). */
export async function downloadPart(part: string, size: number, source: PackageSource): Promise<Downloaded> {
  let have = await sizeOf(part);
  if (have > size) {
    await truncate(part, 0);
    have = 0;
  }
  if (have === size) return { resumedFrom: have, received: 0 };
  const piece = await source.from(have);
  const start = piece.status === 206 && piece.rangeStart === have ? have : piece.status === 200 ? 0 : -1;
  if (start < 0) {
    piece.body.destroy();
    if (piece.status === 416 || piece.status === 206) {
      await truncate(part, 0).catch(() => undefined);
      fail(
        'ERR_UNAVAILABLE',
        `the server did not resume at byte ${have} (HTTP ${piece.status}); starting over`,
      );
    }
    fail('ERR_PROTOCOL', `package download answered HTTP ${piece.status}`);
  }
  // 'w' truncates (a 200 restarts the file); 'a' appends after the bytes we have
  const fh = await open(part, start === 0 ? 'w' : 'a', 0o644);
  let written = start;
  try {
    for await (const chunk of piece.body) {
      if (written + chunk.byteLength > size) {
        piece.body.destroy();
        fail('ERR_PROTOCOL', `the package is longer than its ${size} bytes`);
      }
      let off = 0;
      while (off < chunk.byteLength) {
        const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off);
        off += bytesWritten;
      }
      written += chunk.byteLength;
    }
  } catch (e) {
    await fh.sync().catch(() => undefined); // what arrived is kept for the next attempt
    await fh.close();
    if (e instanceof AgentError) throw e;
    return fail('ERR_UNAVAILABLE', `package download stopped at byte ${written} of ${size}`, e);
  }
  await fh.sync();
  await fh.close();
  if (written !== size) fail('ERR_UNAVAILABLE', `package download stopped at byte ${written} of ${size}`);
  return { resumedFrom: start, received: written - start };
}
