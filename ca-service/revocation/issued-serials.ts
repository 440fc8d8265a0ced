// "Did this CA issue serial S?", asked by the OCSP responder for every CertID that is not
// revoked. Anyone may ask, for any serial, as fast as they can send; so the answer comes from
// memory where it can, and what is left goes to the store in one query per group of requests:
// - issued serials stay issued: a bounded set of the ones seen answers them for good;
// - unknown serials are remembered for `negativeTtlMs` (a serial is 16 random octets: one
//   nobody has been issued is not about to be — unless someone guessed it first);
// - the rest of every request waiting at that moment is one `serial IN (…)` lookup, and only
//   one such lookup is in flight at a time (lib/batcher.ts), however many requests arrive.
import { Batcher, type Settled } from '../../lib/batcher.ts';

export interface IssuedSerialsOptions {
  /** issued serials kept in memory */
  readonly maxKnown: number;
  /** unknown serials kept in memory, and for how long */
  readonly maxUnknown: number;
  readonly negativeTtlMs: number;
  /** requests whose serials share one lookup */
  readonly maxGroup: number;
}

export const DEFAULT_ISSUED_SERIALS: IssuedSerialsOptions = {
  maxKnown: 200_000,
  maxUnknown: 100_000,
  negativeTtlMs: 60_000,
  maxGroup: 64,
};

/** The store's side: which of these serials exist (one query). */
export type IssuedLookup = (serials: readonly string[]) => Promise<ReadonlySet<string>>;

export class IssuedSerials {
  private readonly known = new Set<string>();
  /** serial → when the "unknown" answer expires; insertion order is age order */
  private readonly unknown = new Map<string, number>();
  private readonly lookups: Batcher<readonly string[], ReadonlySet<string>>;
  /** store lookups made, for tests and the bench */
  queries = 0;

  constructor(
    lookup: IssuedLookup,
    private readonly now: () => number,
    private readonly opts: IssuedSerialsOptions = DEFAULT_ISSUED_SERIALS,
  ) {
    this.lookups = new Batcher(async (groups) => {
      const all = [...new Set(groups.flat())];
      this.queries++;
      const found = await lookup(all);
      const at = this.now();
      for (const s of all) {
        if (found.has(s)) this.remember(s);
        else this.forget(s, at);
      }
      return groups.map((): Settled<ReadonlySet<string>> => ({ ok: true, value: found }));
    }, opts.maxGroup);
  }

  /** Which of `serials` this CA issued. */
  async issued(serials: readonly string[]): Promise<ReadonlySet<string>> {
    const at = this.now();
    const out = new Set<string>();
    const ask: string[] = [];
    for (const s of serials) {
      if (this.known.has(s)) out.add(s);
      else if ((this.unknown.get(s) ?? 0) <= at) ask.push(s);
    }
    if (ask.length === 0) return out;
    const found = await this.lookups.submit(ask);
    for (const s of ask) if (found.has(s)) out.add(s);
    return out;
  }

  private remember(serial: string): void {
    this.unknown.delete(serial);
    if (this.known.size >= this.opts.maxKnown) this.known.delete(this.known.values().next().value!);
    this.known.add(serial);
  }

  private forget(serial: string, at: number): void {
    this.unknown.delete(serial);
    if (this.unknown.size >= this.opts.maxUnknown) this.unknown.delete(this.unknown.keys().next().value!);
    this.unknown.set(serial, at + this.opts.negativeTtlMs);
  }
}
