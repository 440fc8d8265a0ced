// The OCSP responder's one query: which of these serials this issuer signed (revoked ones
// included). Reads the primary key only, never the certificate rows.
import { and, eq, inArray } from 'drizzle-orm';
import { certificates } from '../../migrations/schema/index.ts';
import type { Db } from './db.ts';

export function issuedSerialsLookup(
  db: Db,
  issuerId: string,
): (serials: readonly string[]) => Promise<ReadonlySet<string>> {
  return async (serials) => {
    const rows = await db
      .select({ serial: certificates.serial })
      .from(certificates)
      .where(and(eq(certificates.issuerId, issuerId), inArray(certificates.serial, [...serials])));
    return new Set(rows.map((r) => r.serial));
  };
}
