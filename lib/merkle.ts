// A Merkle tree in the manner of RFC 9162 §2.1 over an append-only list of leaves.
// Perfect (power-of-two, aligned) subtrees never change once complete, so their hashes are
// kept per level; any range root, inclusion path or consistency proof then costs O(log n).
// Generation follows the recursive definitions (§2.1.3.1 PATH, §2.1.4.1 PROOF); verification
// is the separate iterative algorithms of §2.1.3.2 and §2.1.4.2.
import { createHash } from 'node:crypto';

export const leafHash = (data: Buffer): Buffer =>
  createHash('sha256')
    .update(Buffer.from([0]))
    .update(data)
    .digest();
export const nodeHash = (l: Buffer, r: Buffer): Buffer =>
  createHash('sha256')
    .update(Buffer.from([1]))
    .update(l)
    .update(r)
    .digest();
const EMPTY = createHash('sha256').digest();

/** largest power of two strictly less than n (n ≥ 2) */
const split = (n: number): number => 2 ** Math.floor(Math.log2(n - 1));

export class MerkleTree {
  /** levels[k][i]: hash of the perfect subtree of 2^k leaves starting at i·2^k */
  private readonly levels: Buffer[][] = [[]];

  get size(): number {
    return this.levels[0]!.length;
  }

  append(leaf: Buffer): void {
    this.levels[0]!.push(leaf);
    let idx = this.size - 1;
    for (let k = 0; idx % 2 === 1; k++) {
      const level = this.levels[k]!;
      const parent = nodeHash(level[idx - 1]!, level[idx]!);
      idx = (idx - 1) / 2;
      if (!this.levels[k + 1]) this.levels[k + 1] = [];
      this.levels[k + 1]![idx] = parent;
    }
  }

  /** MTH(D[start : start+n]) */
  private mth(start: number, n: number): Buffer {
    if (n === 0) return EMPTY;
    if ((n & (n - 1)) === 0 && start % n === 0) return this.levels[Math.log2(n)]![start / n]!;
    const k = split(n);
    return nodeHash(this.mth(start, k), this.mth(start + k, n - k));
  }

  root(size = this.size): Buffer {
    this.check(size);
    return this.mth(0, size);
  }

  /** §2.1.3.1 PATH(m, D[0:n]) */
  inclusionProof(index: number, size = this.size): Buffer[] {
    this.check(size);
    if (index < 0 || index >= size) throw new RangeError(`leaf ${index} is not in a tree of size ${size}`);
    const path = (m: number, start: number, n: number): Buffer[] => {
      if (n === 1) return [];
      const k = split(n);
      return m < k
        ? [...path(m, start, k), this.mth(start + k, n - k)]
        : [...path(m - k, start + k, n - k), this.mth(start, k)];
    };
    return path(index, 0, size);
  }

  /** §2.1.4.1 PROOF(m, D[0:n]) */
  consistencyProof(m: number, n = this.size): Buffer[] {
    this.check(n);
    if (m < 1 || m > n) throw new RangeError(`no consistency proof from ${m} to ${n}`);
    const subproof = (mm: number, start: number, nn: number, b: boolean): Buffer[] => {
      if (mm === nn) return b ? [] : [this.mth(start, nn)];
      const k = split(nn);
      return mm <= k
        ? [...subproof(mm, start, k, b), this.mth(start + k, nn - k)]
        : [...subproof(mm - k, start + k, nn - k, false), this.mth(start, k)];
    };
    return m === n ? [] : subproof(m, 0, n, true);
  }

  private check(size: number): void {
    if (!Number.isInteger(size) || size < 0 || size > this.size)
      throw new RangeError(`tree size ${size} is beyond ${this.size}`);
  }
}

/** §2.1.3.2: verify an inclusion proof. */
export function verifyInclusion(
  leaf: Buffer,
  index: number,
  size: number,
  proof: readonly Buffer[],
  root: Buffer,
): boolean {
  if (index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else r = nodeHash(r, p);
    fn >>= 1;
    sn >>= 1;
  }
  return sn === 0 && r.equals(root);
}

/** §2.1.4.2: verify a consistency proof between two tree heads. */
export function verifyConsistency(
  first: number,
  second: number,
  firstRoot: Buffer,
  secondRoot: Buffer,
  proof: readonly Buffer[],
): boolean {
  if (first > second || first < 1) return false;
  if (first === second) return proof.length === 0 && firstRoot.equals(secondRoot);
  if (proof.length === 0) return false;
  let path = [...proof];
  if ((first & (first - 1)) === 0) path = [firstRoot, ...path];
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn >>= 1;
    sn >>= 1;
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else sr = nodeHash(sr, c);
    fn >>= 1;
    sn >>= 1;
  }
  return fr.equals(firstRoot) && sr.equals(secondRoot) && sn === 0;
}
