// The transparency log over every certificate the CA has issued: signed tree heads,
// inclusion proofs per serial, consistency proofs between tree heads (RFC 9162 §2.1).
// The tree is kept in memory and caught up from the database before each answer, so every
// control-plane instance serves the same log.
import { sign } from 'node:crypto';
import { EdgesealError } from '../../lib/errors.ts';
import { MerkleTree } from '../../lib/merkle.ts';
import { sthMessage } from '../../lib/tlog-sth.ts';
import type { Clock } from '../core/ports.ts';
import type { LogKey } from '../keys/hierarchy.ts';
import type { TlogStore } from '../store/tlog-store.ts';

export interface SignedTreeHead {
  readonly tree_size: number;
  readonly root_hash: string; // base64
  readonly timestamp: number; // ms since epoch
  readonly key_id: string;
  readonly signature: string; // base64 DER ECDSA over sthMessage()
}

export class TransparencyLog {
  private readonly tree = new MerkleTree();
  private syncing: Promise<void> = Promise.resolve();
  private lastSth: SignedTreeHead | undefined;

  constructor(
    private readonly store: TlogStore,
    private readonly key: LogKey,
    private readonly clock: Clock,
  ) {}

  /** Appends leaves recorded since the last sync (serialized: one catch-up at a time). */
  sync(): Promise<void> {
    this.syncing = this.syncing.then(async () => {
      for (;;) {
        const more = await this.store.leaves(this.tree.size);
        for (const l of more) this.tree.append(l);
        if (more.length < 50_000) return;
      }
    });
    return this.syncing;
  }

  async sth(): Promise<SignedTreeHead> {
    await this.sync();
    const size = this.tree.size;
    if (this.lastSth?.tree_size === size) return this.lastSth;
    const root = this.tree.root(size);
    const timestamp = this.clock.now().getTime();
    const signature = sign('sha256', sthMessage(size, root, timestamp), this.key.key).toString('base64');
    this.lastSth = {
      tree_size: size,
      root_hash: root.toString('base64'),
      timestamp,
      key_id: this.key.id,
      signature,
    };
    return this.lastSth;
  }

  async inclusion(serial: string, treeSize?: number) {
    await this.sync();
    const leaf = await this.store.indexOf(serial);
    if (!leaf) throw new EdgesealError('ERR_NOT_FOUND', `no certificate with serial ${serial} in the log`);
    const size = treeSize ?? this.tree.size;
    if (size > this.tree.size || leaf.logIndex >= size) {
      throw new EdgesealError(
        'ERR_INVALID_REQUEST',
        `certificate ${serial} (leaf ${leaf.logIndex}) is not in a tree of size ${size}`,
      );
    }
    return {
      leaf_index: leaf.logIndex,
      tree_size: size,
      audit_path: this.tree.inclusionProof(leaf.logIndex, size).map((b) => b.toString('base64')),
    };
  }

  async consistency(first: number, second: number) {
    await this.sync();
    if (
      !Number.isInteger(first) ||
      !Number.isInteger(second) ||
      first < 1 ||
      first > second ||
      second > this.tree.size
    ) {
      throw new EdgesealError(
        'ERR_INVALID_REQUEST',
        `need 1 ≤ first ≤ second ≤ ${this.tree.size}, got ${first} and ${second}`,
      );
    }
    return {
      first,
      second,
      proof: this.tree.consistencyProof(first, second).map((b) => b.toString('base64')),
    };
  }
}
