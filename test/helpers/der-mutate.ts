// Structural and byte-level mutations of DER, for the differential test against openssl and
// the bounded fuzz runs. Deterministic: the same input and seed give the same mutations.
import { children, readNode, readTop, type Node } from '../../lib/der/decode.ts';
import { tlv } from '../../lib/der/encode.ts';

export interface Tree {
  readonly tag: number;
  /** constructed elements: their children; primitive ones: undefined */
  readonly kids?: readonly Tree[];
  readonly body: Buffer;
}

function toTree(n: Node): Tree {
  const body = n.buf.subarray(n.contentStart, n.end);
  return n.tag & 0x20 ? { tag: n.tag, kids: children(n).map(toTree), body } : { tag: n.tag, body };
}

export const parseTree = (der: Buffer): Tree => toTree(readTop(der));

export function encodeTree(t: Tree): Buffer {
  return tlv(t.tag, t.kids ? Buffer.concat(t.kids.map(encodeTree)) : t.body);
}

export type Path = readonly number[];

export function paths(t: Tree, at: Path = []): Path[] {
  return [at, ...(t.kids ?? []).flatMap((k, i) => paths(k, [...at, i]))];
}

export function nodeAt(t: Tree, p: Path): Tree {
  return p.reduce((n, i) => n.kids![i]!, t);
}

/** A copy of `t` with the node at `p` replaced by what `f` returns (undefined: removed). */
export function edit(t: Tree, p: Path, f: (n: Tree) => Tree | undefined): Tree | undefined {
  if (p.length === 0) return f(t);
  const [i, ...rest] = p;
  const kids = [...t.kids!];
  const changed = edit(kids[i!]!, rest, f);
  if (changed === undefined) kids.splice(i!, 1);
  else kids[i!] = changed;
  return { tag: t.tag, kids, body: t.body };
}

export interface Mutation {
  readonly name: string;
  readonly path: Path;
  readonly tree?: Tree;
  /** raw bytes when the mutation is below the tree (a broken length) */
  readonly bytes?: Buffer;
}

const NULL: Tree = { tag: 0x05, body: Buffer.alloc(0) };
const RETAGS = [0x30, 0x31, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0xa0, 0x80];

/** Every structural mutation of `der`: extra, duplicated, dropped and swapped elements, other tags, lengths ±1. */
export function structuralMutations(der: Buffer): Mutation[] {
  const tree = parseTree(der);
  const out: Mutation[] = [];
  for (const p of paths(tree)) {
    const n = nodeAt(tree, p);
    const at = p.join('.') || 'root';
    if (n.kids) {
      out.push({
        name: `extra NULL at the end of ${at}`,
        path: p,
        tree: edit(tree, p, (x) => ({ ...x, kids: [...x.kids!, NULL] })),
      });
      if (n.kids.length > 0) {
        out.push({
          name: `last element of ${at} duplicated`,
          path: p,
          tree: edit(tree, p, (x) => ({ ...x, kids: [...x.kids!, x.kids!.at(-1)!] })),
        });
      }
      for (let i = 0; i + 1 < n.kids.length; i++) {
        out.push({
          name: `elements ${i} and ${i + 1} of ${at} swapped`,
          path: p,
          tree: edit(tree, p, (x) => {
            const k = [...x.kids!];
            [k[i], k[i + 1]] = [k[i + 1]!, k[i]!];
            return { ...x, kids: k };
          }),
        });
      }
    }
    if (p.length > 0) out.push({ name: `${at} dropped`, path: p, tree: edit(tree, p, () => undefined) });
    for (const tag of RETAGS) {
      if (tag === n.tag) continue;
      out.push({
        name: `${at} retagged 0x${tag.toString(16)}`,
        path: p,
        tree: edit(tree, p, (x) => {
          const body = x.kids ? Buffer.concat(x.kids.map(encodeTree)) : x.body;
          if (!(tag & 0x20)) return { tag, body };
          try {
            return { tag, kids: parseTree(tlv(0x30, body)).kids!, body };
          } catch {
            return undefined; // the contents are not elements: no constructed form of it
          }
        }),
      });
    }
  }
  // Lengths ±1 without fixing the containers: the encoding itself is broken.
  const walk = (n: Node, p: Path) => {
    const lenAt = n.contentStart - 1;
    for (const d of [-1, 1]) {
      const b = Buffer.from(der);
      b[lenAt] = (b[lenAt]! + d) & 0xff;
      out.push({ name: `length of ${p.join('.') || 'root'} ${d > 0 ? '+1' : '-1'}`, path: p, bytes: b });
    }
    if (n.tag & 0x20) for (const [i, c] of children(n).entries()) walk(c, [...p, i]);
  };
  walk(readNode(der), []);
  return out.filter((m) => m.tree !== undefined || m.bytes !== undefined);
}

/** mulberry32: a small seeded PRNG, so a fuzz run is the same run every time. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` byte-level mutants of `seedInput`: bit flips, random octets, insertions, deletions, truncations. */
export function byteMutants(seedInput: Buffer, count: number, seed: number): Buffer[] {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    let b = Buffer.from(seedInput);
    const edits = 1 + int(4);
    for (let e = 0; e < edits && b.length > 0; e++) {
      const at = int(b.length);
      switch (int(6)) {
        case 0:
          b[at] = b[at]! ^ (1 << int(8));
          break;
        case 1:
          b[at] = int(256);
          break;
        case 2:
          b = Buffer.concat([b.subarray(0, at), Buffer.from([int(256)]), b.subarray(at)]);
          break;
        case 3:
          b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(4))]);
          break;
        case 4:
          b = b.subarray(0, at);
          break;
        default:
          // interesting octets: lengths and tags at their edges
          b[at] = [0x00, 0x7f, 0x80, 0x81, 0x82, 0xff, 0x30, 0xa0][int(8)]!;
      }
    }
    out.push(b);
  }
  return out;
}
