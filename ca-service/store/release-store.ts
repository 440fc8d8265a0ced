// Releases and their package bytes (1 MiB rows: any instance serves any byte range).
import { and, asc, desc, eq, gte, lt, max, sql } from 'drizzle-orm';
import { contentKeys, releaseBlobs, releases } from '../../migrations/schema/index.ts';
import { EdgesealError } from '../../lib/errors.ts';
import type { AuditEvent } from '../core/ports.ts';
import type { ReleasePort, ReleaseRecord } from '../core/releases.ts';
import { appendAuditEvents } from './audit-log.ts';
import type { Db } from './db.ts';
import { pgError, UNIQUE_VIOLATION } from './pg-errors.ts';

export class ReleaseStore implements ReleasePort {
  constructor(private readonly db: Db) {}

  async publish(
    r: ReleaseRecord,
    pkg: Buffer,
    contentKey: { id: string; wrapped: Buffer },
    audit: AuditEvent,
  ): Promise<void> {
    try {
      await this.db.transaction(async (tx) => {
        // one publisher per model at a time: the counter check and the insert see the same state
        await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`release:${r.modelId}`}))`);
        const [top] = await tx
          .select({ n: max(releases.releaseCounter) })
          .from(releases)
          .where(eq(releases.modelId, r.modelId));
        if (top?.n !== null && top?.n !== undefined && r.releaseCounter <= top.n) {
          throw new EdgesealError(
            'ERR_RELEASE_EXISTS',
            `model ${r.modelId} is already at release counter ${top.n}; a new release needs a higher one than ${r.releaseCounter}`,
          );
        }
        await tx.insert(releases).values(r);
        for (let i = 0, idx = 0; i < pkg.length || idx === 0; i += r.blobChunkSize, idx++) {
          await tx.insert(releaseBlobs).values({
            releaseId: r.id,
            idx,
            data: pkg.subarray(i, Math.min(pkg.length, i + r.blobChunkSize)),
          });
        }
        await tx.insert(contentKeys).values({
          id: contentKey.id,
          keyWrapped: contentKey.wrapped,
          label: `${r.modelId} ${r.version}`,
          hardwareModels: r.hardwareModels,
          createdAt: r.createdAt,
          createdBy: r.createdBy,
        });
        await appendAuditEvents(tx, [audit]);
      });
    } catch (e) {
      if (pgError(e)?.code === UNIQUE_VIOLATION) {
        throw new EdgesealError(
          'ERR_RELEASE_EXISTS',
          `release ${r.id} (or its content key) is already published`,
        );
      }
      throw e;
    }
  }

  list(modelId?: string): Promise<ReleaseRecord[]> {
    return this.db
      .select()
      .from(releases)
      .where(modelId ? eq(releases.modelId, modelId) : undefined)
      .orderBy(desc(releases.createdAt))
      .limit(1000);
  }

  async get(id: string): Promise<ReleaseRecord | undefined> {
    const [r] = await this.db.select().from(releases).where(eq(releases.id, id));
    return r;
  }

  async latestFor(hardwareModel: string): Promise<ReleaseRecord | undefined> {
    const [r] = await this.db
      .select()
      .from(releases)
      .where(sql`${hardwareModel} = any(${releases.hardwareModels})`)
      .orderBy(desc(releases.createdAt), desc(releases.releaseCounter))
      .limit(1);
    return r;
  }

  async *range(r: ReleaseRecord, start: number, end: number): AsyncIterable<Buffer> {
    const first = Math.floor(start / r.blobChunkSize);
    const last = Math.floor((end - 1) / r.blobChunkSize);
    // a few rows at a time: a 100 MB package is never all in memory on the serving side
    for (let idx = first; idx <= last; idx += 4) {
      const rows = await this.db
        .select({ idx: releaseBlobs.idx, data: releaseBlobs.data })
        .from(releaseBlobs)
        .where(
          and(
            eq(releaseBlobs.releaseId, r.id),
            gte(releaseBlobs.idx, idx),
            lt(releaseBlobs.idx, Math.min(last + 1, idx + 4)),
          ),
        )
        .orderBy(asc(releaseBlobs.idx));
      for (const row of rows) {
        const base = row.idx * r.blobChunkSize;
        const from = Math.max(start - base, 0);
        const to = Math.min(end - base, row.data.length);
        if (to > from) yield row.data.subarray(from, to);
      }
    }
  }
}
