// Keeps one issuer's CRL current: entries are encoded once as revocations arrive; a rebuild
// (within `debounceMs` of a revocation, and every `refreshMs` from a full reload of the
// database) allocates the next CRL number, signs, and stores the result.
import type { Logger } from 'pino';
import { buildCrl, crlEntry } from '../../lib/x509/crl.ts';
import type { Issuer } from '../core/issuer.ts';
import type { Clock } from '../core/ports.ts';
import type { RevokedEntry } from '../core/revocation.ts';
import type { RevocationStore } from '../store/revocation-store.ts';

export interface CrlOptions {
  readonly debounceMs: number;
  readonly refreshMs: number;
  /** nextUpdate − thisUpdate */
  readonly validityMs: number;
}

export const DEFAULT_CRL_OPTIONS: CrlOptions = {
  debounceMs: 100,
  refreshMs: 3_600_000,
  validityMs: 86_400_000,
};

export class CrlPublisher {
  private entries = new Map<string, Buffer>();
  private revokedBySerial = new Map<string, RevokedEntry>();
  private current: { number: number; der: Buffer; builtAt: number } | undefined;
  private pending: NodeJS.Timeout | undefined;
  private refresh: NodeJS.Timeout | undefined;
  private building: Promise<void> = Promise.resolve();

  constructor(
    private readonly issuer: Issuer,
    private readonly store: RevocationStore,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly opts: CrlOptions = DEFAULT_CRL_OPTIONS,
  ) {}

  async start(): Promise<void> {
    await this.reload();
    this.refresh = setInterval(() => {
      this.reload().catch((err) => this.log.error({ err }, 'CRL refresh failed; serving the previous CRL'));
    }, this.opts.refreshMs);
    this.refresh.unref();
  }

  stop(): void {
    clearInterval(this.refresh);
    clearTimeout(this.pending);
  }

  /** The latest CRL (DER) and its number. */
  latest(): { number: number; der: Buffer } | undefined {
    return this.current;
  }

  /** The revocation of a serial of this issuer, if it is revoked. */
  revoked(serial: string): RevokedEntry | undefined {
    return this.revokedBySerial.get(serial);
  }

  /** New revocations: encoded now, published within debounceMs. */
  add(revoked: readonly RevokedEntry[]): void {
    for (const r of revoked) {
      if (r.issuerId !== this.issuer.id) continue;
      this.entries.set(r.serial, crlEntry(r.serial, r.revokedAt, r.reason));
      this.revokedBySerial.set(r.serial, r);
    }
    if (!this.pending) {
      this.pending = setTimeout(() => {
        this.pending = undefined;
        this.rebuild().catch((err) =>
          this.log.error({ err }, 'CRL rebuild failed; will retry on the next change or refresh'),
        );
      }, this.opts.debounceMs);
    }
  }

  /** Waits for any rebuild in progress (tests and shutdown). */
  settled(): Promise<void> {
    return this.building;
  }

  /** Full reload from the database (another instance revoked more than a NOTIFY can carry). */
  reloadNow(): Promise<void> {
    return this.reload();
  }

  private async reload(): Promise<void> {
    const all = await this.store.revokedOf(this.issuer.id);
    this.entries = new Map(all.map((r) => [r.serial, crlEntry(r.serial, r.revokedAt, r.reason)]));
    this.revokedBySerial = new Map(all.map((r) => [r.serial, r]));
    await this.rebuild();
  }

  private rebuild(): Promise<void> {
    this.building = this.building.then(async () => {
      const t0 = performance.now();
      const entries = [...this.entries.values()];
      const thisUpdate = this.clock.now();
      const nextUpdate = new Date(thisUpdate.getTime() + this.opts.validityMs);
      const { number, der } = await this.store.publishCrl(this.issuer.id, (number) => ({
        der: buildCrl({
          issuerName: this.issuer.cert.subjectDer,
          authorityKeyId: this.issuer.keyId,
          number,
          thisUpdate,
          nextUpdate,
          entries,
          signer: this.issuer.signer,
        }),
        thisUpdate,
        nextUpdate,
      }));
      this.current = { number, der, builtAt: Date.now() };
      this.log.info(
        {
          issuer_id: this.issuer.id,
          crl_number: number,
          entries: entries.length,
          bytes: der.length,
          duration_ms: Math.round(performance.now() - t0),
        },
        'CRL published',
      );
    });
    return this.building;
  }
}
