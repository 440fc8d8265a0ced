// Quarantine until attested (issue 8 item 6). A device of a hardware model that requires
// attestation, without a fresh affirming result, may publish `status` and receive `ota`,
// nothing else: the view (attestation/attestation-view.ts) says who is held, core/acl.ts which
// topics that leaves, and broker.ts asks `holds` at every publish, subscribe and delivery, so
// a change of standing takes effect at once. This file keeps the bookkeeping around that: the
// gauge, the counter, and one log line when a connected device enters or leaves quarantine.
import type { Logger } from 'pino';
import type { AttestationView } from '../attestation/attestation-view.ts';
import type { Principal } from '../core/identity.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { Connection } from './connection.ts';
import type { Sessions } from './sessions.ts';

export class Quarantine {
  constructor(
    private readonly sessions: Sessions,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
    /** without a view (no attestation configured) nobody is held */
    private readonly attestation?: AttestationView,
  ) {}

  /** Is this principal held to status/ota now? */
  holds(p: Principal): boolean {
    return this.attestation?.quarantined(p) ?? false;
  }

  /** Sessions of devices held to status/ota until they attest (gauge). */
  get count(): number {
    let n = 0;
    for (const c of this.sessions.values()) if (c.principal && this.holds(c.principal)) n++;
    return n;
  }

  /** A device just admitted (CONNACK sent): if it starts out held, count and log it. */
  admitted(c: Connection): void {
    const p = c.principal!;
    if (p.kind !== 'device' || !this.holds(p)) return;
    c.quarantined = true;
    this.metrics.quarantines.inc();
    this.log.info(
      {
        event: 'quarantined',
        device_id: p.id,
        cert_serial: p.serial,
        attestation: this.attestation?.stateOf(p.id)?.status ?? 'none',
      },
      'device admitted in quarantine: status and ota only until it attests',
    );
  }

  /**
   * The attestation standing of connected devices changed: log each one that enters or leaves
   * quarantine. Its rights change at once, since every publish, subscribe and delivery asks
   * the view (a deny-list or minimum-SVN change reaches here within the feed's latency).
   */
  restand(ids: readonly string[] | 'all'): void {
    const conns =
      ids === 'all'
        ? [...this.sessions.values()]
        : ids.flatMap((id) => {
            const c = this.sessions.get(id);
            return c ? [c] : [];
          });
    for (const c of conns) {
      const p = c.principal;
      if (p?.kind !== 'device') continue;
      const q = this.holds(p);
      if (q === (c.quarantined ?? false)) continue;
      c.quarantined = q;
      if (q) this.metrics.quarantines.inc();
      this.log.info(
        {
          event: q ? 'quarantined' : 'released',
          device_id: p.id,
          cert_serial: p.serial,
          attestation: this.attestation?.stateOf(p.id)?.status ?? 'none',
        },
        q ? 'device quarantined: status and ota only until it attests' : 'device out of quarantine',
      );
    }
  }
}
