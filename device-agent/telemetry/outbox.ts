// The durable telemetry outbox (DIR/outbox/): every telemetry JWE is appended here before it
// is published, and leaves only after the gateway's PUBACK, so a gateway that is away, a lost
// connection or a restart of the agent loses nothing. Only ciphertext is written.
//
//   <16-digit n>.seg   append-only segments; one record per line: `<message_id> <compact JWE>\n`
//   acked              {"segment": n, "offset": o}: everything before it has been acknowledged
//
// Appends are fsynced one by one (a telemetry message is made every few seconds at most, so
// a per-write fsync costs nothing that matters and a power cut loses no acknowledged-for-
// the-user message). Acknowledgements move the `acked` cursor, written atomically after each
// PUBACK but coalesced (one write in flight, the newest position next): a crash may resend a
// few acknowledged messages, which the consumer's (device, message_id) idempotence absorbs.
// A segment is deleted once everything in it is acknowledged. At open, a torn last record (a
// crash mid-append) is cut off.
//
// Bounded: when an append would take the unacknowledged bytes past maxBytes, the oldest
// records are dropped (the cursor moves past them) and counted; the caller logs it.
import { constants } from 'node:fs';
import { type FileHandle, open, readdir, readFile, rm, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDir, FILE_MODE, writeAtomic } from '../state.ts';

export const DEFAULT_OUTBOX_MAX_BYTES = 16 * 1024 * 1024;
/** the smallest bound that still holds a few messages (one is ~2–3 KiB) */
export const MIN_OUTBOX_MAX_BYTES = 8 * 1024;
const SEGMENT_BYTES = 1024 * 1024;
const SEGMENT_RE = /^(\d{16})\.seg$/;
const RECORD_RE = /^([A-Za-z0-9_-]{1,128}) ([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*){4})$/;

export interface OutboxRecord {
  readonly segment: number;
  readonly offset: number;
  /** bytes on disk, newline included */
  readonly length: number;
  readonly messageId: string;
}

export interface Dropped {
  readonly count: number;
  readonly bytes: number;
  readonly firstMessageId?: string;
  readonly lastMessageId?: string;
}

export interface Recovered {
  readonly pending: number;
  readonly bytes: number;
  readonly segments: number;
  /** bytes of a torn or unreadable tail cut off or skipped */
  readonly discardedBytes: number;
  readonly dropped: Dropped;
}

const segName = (n: number) => `${String(n).padStart(16, '0')}.seg`;

export class Outbox {
  private readonly queue: OutboxRecord[] = [];
  private bytes = 0;
  private active: { segment: number; size: number; fh: FileHandle | undefined };
  private cursor: { segment: number; offset: number };
  private cursorWrite: Promise<void> | undefined;
  private cursorDirty = false;
  private closed = false;

  private constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
    cursor: { segment: number; offset: number },
    active: { segment: number; size: number },
  ) {
    this.cursor = cursor;
    this.active = { ...active, fh: undefined };
  }

  /** Opens (or makes) the outbox in `dir`, recovering what a previous run left. */
  static async open(dir: string, maxBytes: number): Promise<{ outbox: Outbox; recovered: Recovered }> {
    await ensureDir(dir);
    const cursor = await readCursor(join(dir, 'acked'));
    const segments = (await readdir(dir))
      .map((f) => SEGMENT_RE.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    const records: OutboxRecord[] = [];
    let discarded = 0;
    let last: { segment: number; size: number } | undefined;
    for (const n of segments) {
      const path = join(dir, segName(n));
      if (n < cursor.segment) {
        await rm(path, { force: true });
        continue;
      }
      const data = await readFile(path);
      const start = n === cursor.segment ? Math.min(cursor.offset, data.length) : 0;
      let at = start;
      while (at < data.length) {
        const nl = data.indexOf(0x0a, at);
        const m = nl < 0 ? null : RECORD_RE.exec(data.toString('latin1', at, nl));
        if (!m) break; // torn (no newline) or unreadable: nothing after it is trusted
        records.push({ segment: n, offset: at, length: nl + 1 - at, messageId: m[1]! });
        at = nl + 1;
      }
      if (at < data.length) {
        discarded += data.length - at;
        await truncate(path, at); // a later segment never follows a torn one (appends are in order)
      }
      last = { segment: n, size: at };
    }
    // appends go on in the last segment, or a new one past everything the cursor has seen
    const active =
      last === undefined
        ? { segment: cursor.segment + 1, size: 0 }
        : last.size >= SEGMENT_BYTES
          ? { segment: last.segment + 1, size: 0 }
          : last;
    const outbox = new Outbox(dir, maxBytes, cursor, active);
    for (const r of records) {
      outbox.queue.push(r);
      outbox.bytes += r.length;
    }
    const dropped = await outbox.makeRoom(0); // the bound may have been lowered since
    return {
      outbox,
      recovered: {
        pending: outbox.queue.length,
        bytes: outbox.bytes,
        segments: new Set(outbox.queue.map((r) => r.segment)).size,
        discardedBytes: discarded,
        dropped,
      },
    };
  }

  get pending(): number {
    return this.queue.length;
  }

  get pendingBytes(): number {
    return this.bytes;
  }

  /** The oldest unacknowledged record. */
  head(): OutboxRecord | undefined {
    return this.queue[0];
  }

  /** The JWE of a record still in the outbox; undefined once it was acknowledged or dropped. */
  async read(r: OutboxRecord): Promise<string | undefined> {
    if (!this.queue.includes(r)) return undefined;
    let fh: FileHandle;
    try {
      fh = await open(join(this.dir, segName(r.segment)), 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // dropped meanwhile
      throw e;
    }
    try {
      const buf = Buffer.alloc(r.length);
      await fh.read(buf, 0, r.length, r.offset);
      const m = RECORD_RE.exec(buf.toString('latin1', 0, r.length - 1));
      return m?.[1] === r.messageId ? m[2] : undefined;
    } finally {
      await fh.close();
    }
  }

  /** Appends one message (fsynced before this resolves); drops the oldest first if it would not fit. */
  async append(messageId: string, jwe: string): Promise<Dropped> {
    if (this.closed) throw new Error('the outbox is closed');
    const line = `${messageId} ${jwe}\n`;
    if (!RECORD_RE.test(line.slice(0, -1))) throw new TypeError('not a message id and a compact JWE');
    const length = Buffer.byteLength(line, 'latin1');
    if (length > this.maxBytes)
      return { count: 1, bytes: length, firstMessageId: messageId, lastMessageId: messageId };
    const dropped = await this.makeRoom(length);
    if (this.active.size > 0 && this.active.size + length > SEGMENT_BYTES) await this.roll();
    if (!this.active.fh) {
      this.active.fh = await open(
        join(this.dir, segName(this.active.segment)),
        constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND,
        FILE_MODE,
      );
    }
    const fh = this.active.fh;
    const offset = this.active.size;
    await fh.write(line, null, 'latin1');
    await fh.datasync();
    this.active.size += length;
    this.queue.push({ segment: this.active.segment, offset, length, messageId });
    this.bytes += length;
    return dropped;
  }

  /** The gateway acknowledged `r` (or refused it for good): it leaves the outbox. No-op if it already left. */
  ack(r: OutboxRecord): void {
    if (this.queue[0] !== r) return;
    this.queue.shift();
    this.bytes -= r.length;
    this.moveCursor({ segment: r.segment, offset: r.offset + r.length });
  }

  /** Writes the cursor and closes the active segment. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.cursorWrite) await this.cursorWrite;
    await this.active.fh?.close();
    this.active.fh = undefined;
  }

  private async makeRoom(length: number): Promise<Dropped> {
    let count = 0;
    let bytes = 0;
    let first: string | undefined;
    let last: string | undefined;
    while (this.queue.length && this.bytes + length > this.maxBytes) {
      const r = this.queue.shift()!;
      this.bytes -= r.length;
      count++;
      bytes += r.length;
      first ??= r.messageId;
      last = r.messageId;
      this.moveCursor({ segment: r.segment, offset: r.offset + r.length });
    }
    if (count) await this.cursorWrite;
    return { count, bytes, ...(first ? { firstMessageId: first, lastMessageId: last } : {}) };
  }

  private async roll(): Promise<void> {
    await this.active.fh?.close();
    this.active = { segment: this.active.segment + 1, size: 0, fh: undefined };
  }

  private moveCursor(to: { segment: number; offset: number }): void {
    // the cursor points at the oldest record left, or just past the one acknowledged
    const next = this.queue[0];
    this.cursor = next ? { segment: next.segment, offset: next.offset } : to;
    this.cursorDirty = true;
    this.cursorWrite ??= this.writeCursor();
  }

  private async writeCursor(): Promise<void> {
    try {
      while (this.cursorDirty) {
        this.cursorDirty = false;
        const c = this.cursor;
        await writeAtomic(join(this.dir, 'acked'), `${JSON.stringify(c)}\n`, FILE_MODE);
        // segments wholly before the cursor hold nothing unacknowledged
        for (const f of await readdir(this.dir)) {
          const m = SEGMENT_RE.exec(f);
          if (m && Number(m[1]) < c.segment && Number(m[1]) !== this.active.segment)
            await rm(join(this.dir, f), { force: true });
        }
      }
    } finally {
      this.cursorWrite = undefined;
    }
  }
}

async function readCursor(path: string): Promise<{ segment: number; offset: number }> {
  try {
    const v = JSON.parse(await readFile(path, 'utf8')) as { segment?: unknown; offset?: unknown };
    if (Number.isSafeInteger(v.segment) && Number.isSafeInteger(v.offset))
      return { segment: v.segment as number, offset: v.offset as number };
  } catch {
    // missing or damaged: start at the oldest segment (a resend the consumer de-duplicates)
  }
  return { segment: 0, offset: 0 };
}
