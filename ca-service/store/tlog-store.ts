// The transparency log's storage: every certificate gets a dense log index and its leaf hash
// in the transaction that records it (under a row lock on tlog_head).
import { and, asc, eq, gte, lt } from 'drizzle-orm';
import { leafHash } from '../../lib/merkle.ts';
import { certificates, tlogHead } from '../../migrations/schema/index.ts';
import type { CertificateRecord } from '../core/ports.ts';
import type { Tx } from './audit-log.ts';
import type { Db } from './db.ts';

export async function withLogIndexes(tx: Tx, certs: readonly CertificateRecord[]) {
  const [head] = await tx.select().from(tlogHead).where(eq(tlogHead.id, 1)).for('update');
  let size = head?.size ?? 0;
  const rows = certs.map((c) => ({ ...c, logIndex: size++, leafHash: leafHash(c.der).toString('hex') }));
  await tx
    .insert(tlogHead)
    .values({ id: 1, size })
    .onConflictDoUpdate({ target: tlogHead.id, set: { size } });
  return rows;
}

export class TlogStore {
  constructor(private readonly db: Db) {}

  /** Leaf hashes from `from` on, in order. */
  async leaves(from: number, limit = 50_000): Promise<Buffer[]> {
    const rows = await this.db
      .select({ leafHash: certificates.leafHash })
      .from(certificates)
      .where(and(gte(certificates.logIndex, from), lt(certificates.logIndex, from + limit)))
      .orderBy(asc(certificates.logIndex));
    return rows.map((r) => Buffer.from(r.leafHash, 'hex'));
  }

  async indexOf(serial: string): Promise<{ logIndex: number; der: Buffer } | undefined> {
    const [r] = await this.db
      .select({ logIndex: certificates.logIndex, der: certificates.der })
      .from(certificates)
      .where(eq(certificates.serial, serial));
    return r;
  }
}
