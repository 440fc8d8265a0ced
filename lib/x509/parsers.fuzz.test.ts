// Issue 7 item 8: a bounded, seeded fuzz run of the two parsers that face the network. Every
// input either parses or is refused with an EdgesealError (which the transports turn into
// their protocol's error); a TypeError or RangeError here is a 500 on the wire.
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { byteMutants, encodeTree, structuralMutations } from '../../test/helpers/der-mutate.ts';
import { bitString, ctx, nul, octets, oid, seq, setOf, smallInt, uint, utf8 } from '../der/encode.ts';
import { EdgesealError } from '../errors.ts';
import { parseCsr, verifyCsrSignature } from './csr.ts';
import { OCSP_OID, parseOcspRequest } from './ocsp.ts';
import { OID } from './oids.ts';

const SEED = 0x5eed;
const BYTE_MUTANTS = 2500;

/** Runs `f` over the inputs; returns the inputs whose error is not an EdgesealError. */
function crashes(inputs: readonly Buffer[], f: (b: Buffer) => unknown): string[] {
  const out: string[] = [];
  for (const b of inputs) {
    try {
      f(b);
    } catch (e) {
      if (!(e instanceof EdgesealError))
        out.push(`${(e as Error).name}: ${(e as Error).message} ← ${b.toString('hex')}`);
    }
  }
  return out;
}

function mutantsOf(seedInput: Buffer, seed: number): Buffer[] {
  const structural = structuralMutations(seedInput).map((m) => m.bytes ?? encodeTree(m.tree!));
  return [...structural, ...byteMutants(seedInput, BYTE_MUTANTS, seed)];
}

describe('bounded fuzz of the network-facing parsers', () => {
  it('OCSP request parser: parses or throws EdgesealError, never anything else', () => {
    const certId = (serial: Buffer) =>
      seq(seq(oid('1.3.14.3.2.26'), nul()), octets(randomBytes(20)), octets(randomBytes(20)), uint(serial));
    const request = seq(
      seq(
        ctx(0, smallInt(0)),
        seq(
          seq(certId(randomBytes(16))),
          seq(certId(randomBytes(16)), ctx(0, seq(seq(oid('1.2.3'), octets(nul()))))),
        ),
        ctx(2, seq(seq(oid(OCSP_OID.nonce), octets(octets(randomBytes(16)))))),
      ),
    );
    expect(parseOcspRequest(request).certIds).toHaveLength(2);
    const t0 = performance.now();
    const inputs = mutantsOf(request, SEED);
    expect(inputs.length).toBeGreaterThan(BYTE_MUTANTS);
    expect(crashes(inputs, parseOcspRequest)).toEqual([]);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });

  it('CSR parser and signature check: parse or throw EdgesealError, never anything else', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const extReq = seq(
      oid(OID.extensionRequest),
      setOf(seq(seq(oid(OID.subjectAltName), octets(seq(tlv82('dev-1.example')))))),
    );
    const cri = seq(
      smallInt(0),
      seq(
        setOf(seq(oid(OID.commonName), utf8('dev-1'))),
        setOf(seq(oid(OID.organizationalUnitName), utf8('cam'))),
      ),
      publicKey.export({ format: 'der', type: 'spki' }),
      ctx(0, extReq),
    );
    const csr = seq(cri, seq(oid(OID.ecdsaWithSha256)), bitString(sign('sha256', cri, privateKey)));
    verifyCsrSignature(parseCsr(csr));
    const t0 = performance.now();
    const inputs = mutantsOf(csr, SEED + 1);
    expect(crashes(inputs, (b) => verifyCsrSignature(parseCsr(b)))).toEqual([]);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
});

/** GeneralName dNSName [2] IMPLICIT IA5String */
function tlv82(name: string): Buffer {
  return Buffer.concat([Buffer.from([0x82, name.length]), Buffer.from(name, 'ascii')]);
}
