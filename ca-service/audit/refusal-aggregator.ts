// Bounds what callers without credentials can write to the audit log. Every refusal is still
// audited, but refusals of unverified callers are keyed by (source, action, reason): the first
// is written at once, repeats within the interval are counted and written as one event with
// `details.count`. At most `maxKeys` keys are tracked; beyond that, refusals fold into one
// bucket per (action, reason), whose number is fixed by the code. Every field a caller chose
// (path, claimed ids, names) is cut to a short length before it reaches an event.
import type { Logger } from 'pino';
import type { AuditEvent, Clock } from '../core/ports.ts';
import type { Refusal, RefusalSink } from '../core/refusals.ts';
import type { AuditSink } from '../core/tokens.ts';

export interface RefusalAggregation {
  /** repeats of one (source, action, reason) within this many ms become one event */
  readonly intervalMs: number;
  /** keys tracked at once before refusals fold into per-(action, reason) buckets */
  readonly maxKeys: number;
}

export const DEFAULT_REFUSAL_AGGREGATION: RefusalAggregation = { intervalMs: 10_000, maxKeys: 256 };

/** Longest caller-chosen string an event keeps. */
export const FIELD_CHARS = 128;
const MAX_ACTORS = 4;
const MAX_DETAIL_KEYS = 8;

export const capField = (s: string, n = FIELD_CHARS): string =>
  s.length <= n ? s : `${s.slice(0, n)}…[${s.length} chars]`;

/** `::ffff:1.2.3.4` is the IPv4 client of a dual-stack socket: name it as IPv4. */
const normalSource = (s: string | undefined): string =>
  s ? capField(s.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1'), 64) : 'unknown';

function capDetails(d: AuditEvent['details']): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(d ?? {}).slice(0, MAX_DETAIL_KEYS)) {
    out[capField(k, 32)] =
      typeof v === 'number' || typeof v === 'boolean' || v === null
        ? v
        : capField(typeof v === 'string' ? v : JSON.stringify(v));
  }
  return out;
}

interface Pending {
  readonly source: string;
  readonly action: string;
  readonly reason: string | undefined;
  /** of the first repeat; `severalSubjects` when later ones differ */
  subject: string | undefined;
  severalSubjects: boolean;
  readonly actors: Set<string>;
  count: number;
  firstAt: Date | undefined;
  lastAt: Date | undefined;
  /** actors beyond MAX_ACTORS were seen */
  moreActors: boolean;
}

export class RefusalAggregator implements RefusalSink {
  private readonly keys = new Map<string, Pending>();
  private readonly buckets = new Map<string, Pending>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sink: AuditSink,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly options: RefusalAggregation = DEFAULT_REFUSAL_AGGREGATION,
  ) {
    if (!(options.intervalMs > 0) || !(options.maxKeys > 0)) throw new TypeError('bad refusal aggregation');
  }

  refused(r: Refusal): Promise<void> {
    if (r.verified) return this.sink.appendAudit(r.event);
    const source = normalSource(r.source);
    // the action names the check (chosen by our code); cut anyway, it is part of the key
    const e = { ...r.event, action: capField(r.event.action, 64) };
    const actor = capField(e.actor, 96);
    const subject = e.subject === undefined ? undefined : capField(e.subject);
    const key = `${source}\n${e.action}\n${e.reason ?? ''}`;
    let p = this.keys.get(key);
    if (!p) {
      if (this.keys.size < this.options.maxKeys) {
        this.keys.set(key, pending(source, e));
        return this.sink.appendAudit({
          ...e,
          actor,
          subject,
          details: { ...capDetails(e.details), source },
        });
      }
      const bucketKey = `${e.action}\n${e.reason ?? ''}`;
      p = this.buckets.get(bucketKey);
      if (!p) {
        p = pending('many', e);
        this.buckets.set(bucketKey, p);
      }
    }
    const now = this.clock.now();
    if (p.count++ === 0) {
      p.firstAt = now;
      p.subject = subject;
    } else if (p.subject !== subject) p.severalSubjects = true;
    p.lastAt = now;
    if (p.actors.size < MAX_ACTORS) p.actors.add(actor);
    else if (!p.actors.has(actor)) p.moreActors = true;
    return Promise.resolve();
  }

  /**
   * Writes one event per key with counted repeats. A key without repeats since the last
   * flush is forgotten, so its next refusal is written at once again.
   */
  async flush(): Promise<void> {
    const at = this.clock.now();
    const events: AuditEvent[] = [];
    for (const [key, p] of this.keys) {
      if (p.count === 0) this.keys.delete(key);
      else events.push(this.take(p, at));
    }
    for (const p of this.buckets.values()) events.push(this.take(p, at));
    this.buckets.clear();
    const results = await Promise.allSettled(events.map((e) => this.sink.appendAudit(e)));
    const failed = results.filter((r) => r.status === 'rejected').length;
    if (failed) this.log.error({ failed }, 'could not write aggregated refusals to the audit log');
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.options.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and writes what is pending. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private take(p: Pending, at: Date): AuditEvent {
    const actors = [...p.actors];
    const event: AuditEvent = {
      at,
      actor: actors.length === 1 && !p.moreActors ? actors[0]! : 'unverified:several',
      action: p.action,
      outcome: 'refused',
      subject: p.severalSubjects ? undefined : p.subject,
      reason: p.reason,
      details: {
        aggregated: true,
        ...(p.severalSubjects ? { several_subjects: true } : {}),
        count: p.count,
        first_at: p.firstAt!.toISOString(),
        last_at: p.lastAt!.toISOString(),
        source: p.source,
        ...(actors.length > 1 || p.moreActors ? { actors, more_actors: p.moreActors } : {}),
      },
    };
    p.count = 0;
    p.subject = undefined;
    p.severalSubjects = false;
    p.firstAt = undefined;
    p.lastAt = undefined;
    p.actors.clear();
    p.moreActors = false;
    return event;
  }
}

const pending = (source: string, e: AuditEvent): Pending => ({
  source,
  action: e.action,
  reason: e.reason,
  subject: undefined,
  severalSubjects: false,
  actors: new Set(),
  count: 0,
  firstAt: undefined,
  lastAt: undefined,
  moreActors: false,
});
