// The audit log's hash chain and its verifier. Each event's hash covers its content and the
// previous event's hash; `seq` is only its position, so a renumbering shows up as a broken
// link, not as a cascade of changed events. Signed checkpoints pin the chain so that a
// rewrite from some point on (recomputing every later hash) is caught too.
import { createHash } from 'node:crypto';

export const GENESIS = '0'.repeat(64);

export interface ChainedEvent {
  readonly seq: number;
  readonly at: string; // ISO 8601, millisecond precision
  readonly actor: string;
  readonly action: string;
  readonly outcome: string;
  readonly subject: string | null;
  readonly reason: string | null;
  readonly details: string | null;
  readonly prevHash: string;
  readonly hash: string;
}

export function eventHash(e: Omit<ChainedEvent, 'seq' | 'hash'>): string {
  const canonical = JSON.stringify([
    e.at,
    e.actor,
    e.action,
    e.outcome,
    e.subject,
    e.reason,
    e.details,
    e.prevHash,
  ]);
  return createHash('sha256').update('edgeseal-audit-v1\n').update(canonical).digest('hex');
}

export interface Checkpoint {
  readonly seq: number;
  readonly hash: string;
  readonly at: string;
  /** base64 DER ECDSA signature over checkpointMessage() */
  readonly signature: string;
}

export const checkpointMessage = (c: Pick<Checkpoint, 'seq' | 'hash' | 'at'>): Buffer =>
  Buffer.from(`edgeseal-audit-checkpoint-v1\n${c.seq}\n${c.hash}\n${c.at}\n`);

export type Problem =
  | { kind: 'changed'; seq: number; detail: string }
  | { kind: 'deleted'; seq: number; detail: string }
  | { kind: 'inserted'; seq: number; detail: string }
  | { kind: 'reordered'; seq: number; detail: string }
  | { kind: 'checkpoint'; seq: number; detail: string };

export interface VerifyReport {
  readonly ok: boolean;
  readonly events: number;
  readonly head: { seq: number; hash: string } | null;
  readonly checkpointsVerified: number;
  readonly problems: readonly Problem[];
}

/** A position in the chain already verified (the events up to it need not be given again). */
export interface Verified {
  readonly seq: number;
  readonly hash: string;
}

/**
 * Verifies events (any order; sorted by seq here) against the stored head and the signed
 * checkpoints, and names what is wrong and where. With `from`, the events are those after an
 * already verified position and must link to it; checkpoints must then lie after it too.
 */
export function verifyChain(
  input: readonly ChainedEvent[],
  head: { seq: number; hash: string } | null,
  checkpoints: readonly Checkpoint[],
  verifySignature: (message: Buffer, signatureB64: string) => boolean,
  from: Verified = { seq: 0, hash: GENESIS },
): VerifyReport {
  const rows = [...input].sort((a, b) => a.seq - b.seq);
  const problems: Problem[] = [];
  const seqOfHash = new Map(rows.map((r) => [r.hash, r.seq]));
  let prev: ChainedEvent | undefined;
  let prevPrev: ChainedEvent | undefined;
  for (const r of rows) {
    const recomputed = eventHash(r);
    if (recomputed !== r.hash)
      problems.push({
        kind: 'changed',
        seq: r.seq,
        detail: `event ${r.seq} (${r.action}) was changed: its content no longer matches its hash`,
      });
    const expectedPrev = prev ? prev.hash : from.hash;
    if (r.prevHash !== expectedPrev) {
      const pointsTo = seqOfHash.get(r.prevHash);
      if (prev && prevPrev && r.prevHash === prevPrev.hash) {
        problems.push({
          kind: 'inserted',
          seq: prev.seq,
          detail: `event ${prev.seq} (${prev.action}) was inserted: event ${r.seq} follows event ${prevPrev.seq}`,
        });
      } else if (pointsTo !== undefined && pointsTo !== prev?.seq) {
        problems.push({
          kind: 'reordered',
          seq: r.seq,
          detail: `event ${r.seq} (${r.action}) was moved: it follows event ${pointsTo}, not ${prev?.seq ?? 'the start'}`,
        });
      } else if (r.prevHash === GENESIS || pointsTo === undefined) {
        const missing = (prev?.seq ?? from.seq) + 1;
        problems.push({
          kind: 'deleted',
          seq: missing,
          detail: `event ${missing}${r.seq - missing > 1 ? `–${r.seq - 1}` : ''} was deleted: event ${r.seq} follows an event that is gone`,
        });
      }
    } else if (r.seq !== (prev?.seq ?? from.seq) + 1) {
      const before = prev?.seq ?? from.seq;
      problems.push({
        kind: 'deleted',
        seq: before + 1,
        detail: `sequence gap between ${before} and ${r.seq}`,
      });
    }
    prevPrev = prev;
    prev = r;
  }
  const end: Verified = prev ?? from;
  if (head && (end.seq !== head.seq || end.hash !== head.hash)) {
    const last = end.seq;
    problems.push(
      last < head.seq
        ? {
            kind: 'deleted',
            seq: last + 1,
            detail: `events ${last + 1}–${head.seq} were deleted from the end (the head says ${head.seq})`,
          }
        : {
            kind: 'inserted',
            seq: last,
            detail: `events after ${head.seq} were appended outside the log (the head says ${head.seq})`,
          },
    );
  }
  let checkpointsVerified = 0;
  const bySeq = new Map(rows.map((r) => [r.seq, r]));
  for (const c of checkpoints) {
    if (!verifySignature(checkpointMessage(c), c.signature)) {
      problems.push({ kind: 'checkpoint', seq: c.seq, detail: `checkpoint at ${c.seq} has a bad signature` });
      continue;
    }
    checkpointsVerified++;
    const r = bySeq.get(c.seq);
    if (!r || r.hash !== c.hash) {
      problems.push({
        kind: 'checkpoint',
        seq: c.seq,
        detail: `the chain was rewritten: event ${c.seq} no longer has the hash signed in the checkpoint of ${c.at}`,
      });
    }
  }
  return { ok: problems.length === 0, events: rows.length, head, checkpointsVerified, problems };
}
