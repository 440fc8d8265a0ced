// The dashboard's view of the audit chain, verified incrementally: the last verified position
// (seq + hash) is kept in memory and each check reads and verifies only the events after it.
// The first check starts from the newest signed checkpoint: its signature is verified and the
// stored event at its seq must still carry the signed hash; everything after must link to it.
// Events before that checkpoint are what `edgeseal audit verify` checks, from genesis.
// A check that finds a problem does not move the position, so the problem is reported again
// on every later check until the chain is repaired.
import {
  type ChainedEvent,
  type Checkpoint,
  checkpointMessage,
  GENESIS,
  type Problem,
  type Verified,
  verifyChain,
} from '../../lib/audit-chain.ts';

export interface ChainReader {
  head(): Promise<Verified | null>;
  /** events after `afterSeq`, oldest first */
  page(afterSeq: number, limit: number): Promise<ChainedEvent[]>;
  event(seq: number): Promise<ChainedEvent | undefined>;
  checkpointsAfter(seq: number, newest?: boolean): Promise<Checkpoint[]>;
}

export interface ChainStatus {
  readonly ok: boolean;
  readonly head: Verified | null;
  /** where verification started: genesis (seq 0) or a signed checkpoint */
  readonly origin: { readonly seq: number; readonly checkpointAt: string | null };
  /** events verified since the origin, over all checks */
  readonly eventsVerified: number;
  /** events this check read */
  readonly eventsRead: number;
  readonly checkpointsVerified: number;
  readonly problems: readonly Problem[];
}

const PAGE = 5000;

export class ChainWatch {
  private verified: Verified | undefined;
  private origin: ChainStatus['origin'] = { seq: 0, checkpointAt: null };
  private eventsVerified = 0;
  private checkpointsVerified = 0;
  /** checkpoints up to this seq have been checked */
  private checkpointsSeen = 0;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly reader: ChainReader,
    private readonly verifySignature: (message: Buffer, signatureB64: string) => boolean,
  ) {}

  /** Verifies what was appended since the last check. Checks run one at a time. */
  check(): Promise<ChainStatus> {
    const run = this.queue.then(() => this.advance());
    this.queue = run.catch(() => {});
    return run;
  }

  private async advance(): Promise<ChainStatus> {
    const head = await this.reader.head();
    const start = this.verified ?? (await this.seed());
    if ('problems' in start) return this.status(head, 0, start.problems);
    // the verified position must still be there, unchanged (a truncation or a rewrite through it)
    if (start.seq > 0) {
      const at = await this.reader.event(start.seq);
      if (at?.hash !== start.hash) {
        return this.status(head, 0, [
          {
            kind: 'changed',
            seq: start.seq,
            detail: `event ${start.seq} was ${at ? 'changed' : 'deleted'} after it had been verified`,
          },
        ]);
      }
    }
    const events: ChainedEvent[] = [];
    for (let after = start.seq; head && after < head.seq; ) {
      const page = (await this.reader.page(after, PAGE)).filter((e) => e.seq <= head.seq);
      events.push(...page);
      if (page.length < PAGE) break;
      after = page.at(-1)!.seq;
    }
    const checkpoints = await this.reader.checkpointsAfter(Math.max(this.checkpointsSeen, start.seq));
    const report = verifyChain(
      events,
      head,
      checkpoints.filter((c) => head && c.seq <= head.seq),
      this.verifySignature,
      start,
    );
    if (!report.ok) return this.status(head, events.length, report.problems);
    this.verified = head ?? start;
    this.eventsVerified += events.length;
    this.checkpointsVerified += report.checkpointsVerified;
    this.checkpointsSeen = this.verified.seq; // every checkpoint up to here was just checked
    return this.status(head, events.length, []);
  }

  /** The newest signed checkpoint whose event still carries the signed hash, else genesis. */
  private async seed(): Promise<Verified | { problems: Problem[] }> {
    const [c] = await this.reader.checkpointsAfter(0, true);
    if (!c) return { seq: 0, hash: GENESIS };
    if (!this.verifySignature(checkpointMessage(c), c.signature)) {
      return {
        problems: [{ kind: 'checkpoint', seq: c.seq, detail: `checkpoint at ${c.seq} has a bad signature` }],
      };
    }
    const e = await this.reader.event(c.seq);
    if (e?.hash !== c.hash) {
      return {
        problems: [
          {
            kind: 'checkpoint',
            seq: c.seq,
            detail: `the chain was rewritten: event ${c.seq} no longer has the hash signed in the checkpoint of ${c.at}`,
          },
        ],
      };
    }
    this.origin = { seq: c.seq, checkpointAt: c.at };
    this.checkpointsVerified = 1;
    this.checkpointsSeen = c.seq;
    this.verified = { seq: c.seq, hash: c.hash };
    return this.verified;
  }

  private status(head: Verified | null, eventsRead: number, problems: readonly Problem[]): ChainStatus {
    return {
      ok: problems.length === 0,
      head,
      origin: this.origin,
      eventsVerified: this.eventsVerified,
      eventsRead,
      checkpointsVerified: this.checkpointsVerified,
      problems,
    };
  }
}
