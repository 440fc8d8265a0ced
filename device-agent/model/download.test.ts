import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { contentRangeStart, downloadPart, type PackageSource } from './download.ts';

const PKG = randomBytes(300_000);

/** A server that honours ranges, optionally cutting the body after `cutAfter` bytes. */
function server(o: { cutAfter?: number; ignoreRanges?: boolean } = {}) {
  const asked: number[] = [];
  const source: PackageSource = {
    async from(offset) {
      asked.push(offset);
      const start = o.ignoreRanges ? 0 : offset;
      if (start >= PKG.length) return { status: 416, body: Readable.from([]) };
      let body = PKG.subarray(start);
      const cut = o.cutAfter !== undefined && body.length > o.cutAfter;
      if (cut) body = body.subarray(0, o.cutAfter);
      const pieces = [];
      for (let i = 0; i < body.length; i += 16_384) pieces.push(body.subarray(i, i + 16_384));
      const stream = Readable.from(
        (async function* () {
          yield* pieces;
          if (cut) throw new Error('connection reset');
        })(),
      );
      return { status: start > 0 ? 206 : 200, rangeStart: start > 0 ? start : undefined, body: stream };
    },
  };
  return { source, asked };
}

const part = () => join(mkdtempSync(join(tmpdir(), 'dl-')), 'r.pkg.part');

describe('package download with resume', () => {
  it('a cut download keeps its bytes; the next call asks for the rest only (Range) and completes it', async () => {
    const p = part();
    const cutting = server({ cutAfter: 100_000 });
    await expect(downloadPart(p, PKG.length, cutting.source)).rejects.toMatchObject({
      code: 'ERR_UNAVAILABLE',
    });
    expect(readFileSync(p).length).toBe(100_000);
    const rest = server();
    const got = await downloadPart(p, PKG.length, rest.source);
    expect(rest.asked).toEqual([100_000]);
    expect(got).toEqual({ resumedFrom: 100_000, received: PKG.length - 100_000 });
    expect(readFileSync(p).equals(PKG)).toBe(true);
  });

  it('a server that ignores the range (200) starts the file over', async () => {
    const p = part();
    writeFileSync(p, PKG.subarray(0, 5000));
    const got = await downloadPart(p, PKG.length, server({ ignoreRanges: true }).source);
    expect(got.resumedFrom).toBe(0);
    expect(readFileSync(p).equals(PKG)).toBe(true);
  });

  it('a part longer than the package is started over; a complete part needs no request', async () => {
    const p = part();
    writeFileSync(p, Buffer.concat([PKG, Buffer.from('junk')]));
    expect((await downloadPart(p, PKG.length, server().source)).resumedFrom).toBe(0);
    const none = server();
    expect(await downloadPart(p, PKG.length, none.source)).toEqual({ resumedFrom: PKG.length, received: 0 });
    expect(none.asked).toEqual([]);
  });

  it('a body longer than package_size is a protocol error', async () => {
    const p = part();
    await expect(downloadPart(p, PKG.length - 10, server().source)).rejects.toMatchObject({
      code: 'ERR_PROTOCOL',
    });
  });

  it.each([
    ['bytes 100-199/1000', 100],
    ['bytes 0-9/*', 0],
    ['bytes */1000', undefined],
    [undefined, undefined],
  ])('Content-Range %s → %s', (h, start) => {
    expect(contentRangeStart(h)).toBe(start);
  });
});
