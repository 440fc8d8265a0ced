import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { leafHash, MerkleTree, nodeHash, verifyConsistency, verifyInclusion } from './merkle.ts';

/** RFC 9162 §2.1.1 MTH, straight from the definition (no caching), as a reference. */
function mthRef(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return createHash('sha256').digest();
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(mthRef(leaves.slice(0, k)), mthRef(leaves.slice(k)));
}

const leaves = Array.from({ length: 40 }, (_, i) => leafHash(Buffer.from(`cert-${i}`)));

describe('MerkleTree', () => {
  it('roots match the RFC 9162 definition for every size', () => {
    const t = new MerkleTree();
    expect(t.root().toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    for (let n = 1; n <= leaves.length; n++) {
      t.append(leaves[n - 1]!);
      expect(t.root().equals(mthRef(leaves.slice(0, n))), `size ${n}`).toBe(true);
      for (let m = 1; m <= n; m++) expect(t.root(m).equals(mthRef(leaves.slice(0, m)))).toBe(true);
    }
  });

  it('every inclusion proof and every consistency proof verifies; tampered ones do not', () => {
    const t = new MerkleTree();
    for (const l of leaves) t.append(l);
    for (let n = 1; n <= leaves.length; n++) {
      const root = t.root(n);
      for (let i = 0; i < n; i++) {
        const p = t.inclusionProof(i, n);
        expect(verifyInclusion(leaves[i]!, i, n, p, root), `leaf ${i} of ${n}`).toBe(true);
        expect(verifyInclusion(leaves[(i + 1) % 40]!, i, n, p, root)).toBe(false); // another leaf
        if (n > 1) expect(verifyInclusion(leaves[i]!, (i + 1) % n, n, p, root)).toBe(false); // another position
        if (p.length) {
          const bad = p.map((x) => Buffer.from(x));
          bad[0]![0]! ^= 1;
          expect(verifyInclusion(leaves[i]!, i, n, bad, root)).toBe(false); // a changed path
        }
      }
      for (let m = 1; m <= n; m++) {
        const proof = t.consistencyProof(m, n);
        expect(verifyConsistency(m, n, t.root(m), root, proof), `${m} → ${n}`).toBe(true);
        if (m < n) expect(verifyConsistency(m, n, leafHash(Buffer.from('forged')), root, proof)).toBe(false);
      }
    }
  });

  it('refuses out-of-range requests', () => {
    const t = new MerkleTree();
    t.append(leaves[0]!);
    expect(() => t.inclusionProof(1)).toThrow(RangeError);
    expect(() => t.consistencyProof(2, 1)).toThrow(RangeError);
    expect(() => t.root(5)).toThrow(RangeError);
  });
});
