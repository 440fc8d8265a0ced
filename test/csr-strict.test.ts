// Issue 7 item 9: the CSR parser is never more lenient than `openssl req -verify`. A request
// with an element its ASN.1 structure does not define (an extra field after the attributes,
// extra parameters in the signature AlgorithmIdentifier, a third element in an
// AttributeTypeAndValue) is refused before anything is signed; and over every structural
// mutation of an openssl-made CSR, re-signed so that the signature is not what refuses it,
// what we accept openssl accepts.
import { createPrivateKey, type KeyObject, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../ca-service/store/db.ts';
import { bitString, nul, oid, seq } from '../lib/der/encode.ts';
import { parseCsr, verifyCsrSignature } from '../lib/x509/csr.ts';
import { OID } from '../lib/x509/oids.ts';
import {
  encodeTree,
  type Mutation,
  parseTree,
  structuralMutations,
  type Tree,
} from './helpers/der-mutate.ts';
import { makeKey, openssl, opensslTry, tmp } from './helpers/openssl.ts';
import { createBatch, estSimpleEnroll, startStack, type TestStack } from './helpers/stack.ts';

const dir = tmp();

/** A CSR as a device tool makes it: openssl, two subject attributes, an extension request. */
function opensslCsr(): { der: Buffer; key: KeyObject } {
  const key = makeKey('ec-p256', dir);
  const out = join(dir, 'base.der');
  openssl([
    'req',
    '-new',
    '-key',
    key.keyPath,
    '-subj',
    '/CN=cam-strict/OU=cam-v2',
    '-addext',
    'subjectAltName=DNS:cam-strict.example',
    '-outform',
    'DER',
    '-out',
    out,
  ]);
  return { der: readFileSync(out), key: createPrivateKey(readFileSync(key.keyPath)) };
}

/** The CSR with its CertificationRequestInfo signed again by the device key. */
function resign(t: Tree, key: KeyObject): Buffer {
  const kids = t.kids;
  if (kids?.length !== 3 || kids[2]!.tag !== 0x03) return encodeTree(t);
  const sig = sign('sha256', encodeTree(kids[0]!), key);
  return encodeTree({ ...t, kids: [kids[0]!, kids[1]!, parseTree(bitString(sig))] });
}

const oursAccepts = (der: Buffer): boolean => {
  try {
    verifyCsrSignature(parseCsr(der));
    return true;
  } catch {
    return false;
  }
};

let n = 0;
const opensslAccepts = (der: Buffer): boolean => {
  const p = join(dir, `m-${n++}.der`);
  writeFileSync(p, der);
  // openssl 3.0 exits 0 even when the self-signature fails: read what it says
  return /verify OK/.test(opensslTry(['req', '-inform', 'DER', '-in', p, '-verify', '-noout']).out);
};

/** Applies a mutation: tree mutations are re-signed unless they touch the signature itself. */
function mutant(m: Mutation, key: KeyObject): Buffer {
  if (m.bytes) return m.bytes;
  return m.path[0] === 2 ? encodeTree(m.tree!) : resign(m.tree!, key);
}

describe('CSR parser: strict where the structure is fixed', () => {
  const base = opensslCsr();
  const tree = parseTree(base.der);
  const withCri = (f: (cri: Tree) => Tree) =>
    resign({ ...tree, kids: [f(tree.kids![0]!), ...tree.kids!.slice(1)] }, base.key);
  const cases: [string, Buffer][] = [
    [
      'an extra element after attributes in CertificationRequestInfo',
      withCri((cri) => ({ ...cri, kids: [...cri.kids!, parseTree(nul())] })),
    ],
    [
      'extra elements in the signature AlgorithmIdentifier',
      encodeTree({
        ...tree,
        kids: [tree.kids![0]!, parseTree(seq(oid(OID.ecdsaWithSha256), nul(), nul())), tree.kids![2]!],
      }),
    ],
    [
      'a third element in an AttributeTypeAndValue',
      withCri((cri) => {
        const subject = cri.kids![1]!;
        const rdn = subject.kids![0]!;
        const atv = rdn.kids![0]!;
        const atv3 = { ...atv, kids: [...atv.kids!, parseTree(nul())] };
        const subject2 = { ...subject, kids: [{ ...rdn, kids: [atv3] }, ...subject.kids!.slice(1)] };
        return { ...cri, kids: [cri.kids![0]!, subject2, ...cri.kids!.slice(2)] };
      }),
    ],
  ];

  let s: TestStack;
  beforeAll(async () => {
    s = await startStack();
  });
  afterAll(() => s?.stop());

  it('the openssl-made request itself is accepted by both', () => {
    expect(oursAccepts(base.der)).toBe(true);
    expect(opensslAccepts(base.der)).toBe(true);
  });

  it.each(cases)('EST refuses %s (400, nothing issued), as openssl does', async (_name, der) => {
    expect(opensslAccepts(der)).toBe(false);
    const batch = await createBatch(s, { hardware_model: 'cam-v2' });
    const r = await estSimpleEnroll(s, batch, der);
    expect(r.status, r.body.toString()).toBe(400);
    expect(r.body.toString()).toMatch(/CSR is not valid DER/);
    const [row] = rowsOf<{ n: number }>(
      await s.database.db.execute(
        sql`select count(*)::int as n from certificates where device_id = 'cam-strict'`,
      ),
    );
    expect(row!.n).toBe(0);
  });

  it('differential: over every structural mutation, whatever we accept `openssl req -verify` accepts', () => {
    const t0 = performance.now();
    const mutations = structuralMutations(base.der);
    expect(mutations.length).toBeGreaterThan(300);
    const lenient: string[] = [];
    let accepted = 0;
    for (const m of mutations) {
      const der = mutant(m, base.key);
      if (!oursAccepts(der)) continue;
      accepted++;
      if (!opensslAccepts(der)) lenient.push(m.name);
    }
    expect(lenient).toEqual([]);
    // the run means something: some mutations are harmless (a swapped SET, a retagged string)
    expect(accepted).toBeGreaterThan(0);
    expect(performance.now() - t0).toBeLessThan(20_000);
  });
});
