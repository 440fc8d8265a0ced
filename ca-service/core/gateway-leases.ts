// Which gateways may serve the fleet at once. A gateway routing through its own in-process
// broker can deliver only to devices connected to that same gateway: beside any other
// gateway it would acknowledge commands it can never deliver. So a `local` gateway must be
// the only live one, and gateways bridging through an upstream broker (`upstream`) may be
// many, but never beside a `local` one. Gateways hold a lease, renewed while they run;
// an expired lease (a gateway that died) is free.
import { EdgesealError } from '../../lib/errors.ts';
import type { Clock } from './ports.ts';
import type { AuditSink } from './tokens.ts';

export type GatewayRouting = 'local' | 'upstream';

export interface GatewayLease {
  readonly id: string;
  readonly routing: GatewayRouting;
  /** the broker an upstream gateway bridges through (no credentials), for humans */
  readonly upstream: string | null;
  readonly startedAt: Date;
  readonly renewedAt: Date;
  readonly expiresAt: Date;
}

export interface LeaseRequest {
  readonly id: string;
  readonly routing: GatewayRouting;
  readonly upstream: string | null;
}

/** How long a lease lives without renewal; gateways renew every third of it. */
export const LEASE_TTL_MS = 30_000;

export const GATEWAY_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

const describe = (l: GatewayLease) =>
  `gateway ${l.id} (${l.routing === 'local' ? 'its own in-process broker' : `upstream ${l.upstream ?? 'broker'}`}, since ${l.startedAt.toISOString()})`;

/** Throws ERR_GATEWAY_CONFLICT when `req` would split the fleet; `live` are unexpired leases. */
export function checkLease(req: LeaseRequest, live: readonly GatewayLease[]): void {
  const others = live.filter((l) => l.id !== req.id);
  if (req.routing === 'local' && others.length > 0) {
    throw new EdgesealError(
      'ERR_GATEWAY_CONFLICT',
      `${describe(others[0]!)} already serves this fleet; a gateway with its own in-process broker cannot reach devices on another gateway — set MQTT_UPSTREAM_URL on every gateway so they share one broker`,
    );
  }
  const local = others.find((l) => l.routing === 'local');
  if (local) {
    throw new EdgesealError(
      'ERR_GATEWAY_CONFLICT',
      `${describe(local)} routes through its own broker and must stay the only gateway; restart it with MQTT_UPSTREAM_URL before adding gateways`,
    );
  }
}

export interface GatewayLeasePort {
  acquire(req: LeaseRequest, now: Date, ttlMs: number): Promise<{ lease: GatewayLease; created: boolean }>;
  release(id: string): Promise<boolean>;
  live(now: Date): Promise<GatewayLease[]>;
}

/** Leases with their audit trail: a new lease and every refusal are audited; renewals are not. */
export class GatewayLeases {
  constructor(
    private readonly store: GatewayLeasePort,
    private readonly audit: AuditSink,
    private readonly clock: Clock,
    private readonly ttlMs = LEASE_TTL_MS,
  ) {}

  async acquire(req: LeaseRequest, actor: string): Promise<GatewayLease> {
    if (!GATEWAY_ID_RE.test(req.id)) {
      throw new EdgesealError(
        'ERR_INVALID_REQUEST',
        `gateway id ${JSON.stringify(req.id.slice(0, 64))} must be 1–128 characters of A–Z a–z 0–9 . _ : -`,
      );
    }
    const at = this.clock.now();
    const base = { at, actor, action: 'gateway.lease', subject: req.id };
    try {
      const { lease, created } = await this.store.acquire(req, at, this.ttlMs);
      if (created) {
        await this.audit.appendAudit({
          ...base,
          outcome: 'ok',
          details: { routing: req.routing, ...(req.upstream ? { upstream: req.upstream } : {}) },
        });
      }
      return lease;
    } catch (e) {
      if (e instanceof EdgesealError) {
        await this.audit
          .appendAudit({ ...base, outcome: 'refused', reason: e.code, details: { routing: req.routing } })
          .catch(() => {});
      }
      throw e;
    }
  }

  async release(id: string, actor: string): Promise<void> {
    if (await this.store.release(id)) {
      await this.audit.appendAudit({
        at: this.clock.now(),
        actor,
        action: 'gateway.release',
        outcome: 'ok',
        subject: id,
      });
    }
  }

  live(): Promise<GatewayLease[]> {
    return this.store.live(this.clock.now());
  }
}
