// Gateway leases (core/gateway-leases.ts) in the database: decided and written under one
// advisory lock, so two gateways starting at once on two instances cannot both win.
import { and, eq, gt, lt, sql } from 'drizzle-orm';
import { gatewayLeases } from '../../migrations/schema/index.ts';
import { checkLease, type GatewayLease, type LeaseRequest } from '../core/gateway-leases.ts';
import type { Db } from './db.ts';

const LEASE_LOCK = 7468204;

export class GatewayLeaseStore {
  constructor(private readonly db: Db) {}

  /** Grants or renews `req` until `now + ttlMs`; throws ERR_GATEWAY_CONFLICT. `created`: not a renewal. */
  acquire(req: LeaseRequest, now: Date, ttlMs: number): Promise<{ lease: GatewayLease; created: boolean }> {
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${LEASE_LOCK})`);
      // leases a day past expiry are history nobody needs
      await tx.delete(gatewayLeases).where(lt(gatewayLeases.expiresAt, new Date(now.getTime() - 86_400_000)));
      const live = await tx.select().from(gatewayLeases).where(gt(gatewayLeases.expiresAt, now));
      checkLease(req, live);
      const mine = live.find((l) => l.id === req.id && l.routing === req.routing);
      const lease: GatewayLease = {
        id: req.id,
        routing: req.routing,
        upstream: req.upstream,
        startedAt: mine?.startedAt ?? now,
        renewedAt: now,
        expiresAt: new Date(now.getTime() + ttlMs),
      };
      await tx
        .insert(gatewayLeases)
        .values(lease)
        .onConflictDoUpdate({ target: gatewayLeases.id, set: lease });
      return { lease, created: !mine };
    });
  }

  async release(id: string): Promise<boolean> {
    const rows = await this.db
      .delete(gatewayLeases)
      .where(eq(gatewayLeases.id, id))
      .returning({ id: gatewayLeases.id });
    return rows.length > 0;
  }

  live(now: Date): Promise<GatewayLease[]> {
    return this.db
      .select()
      .from(gatewayLeases)
      .where(and(gt(gatewayLeases.expiresAt, now)))
      .orderBy(gatewayLeases.startedAt);
  }
}
