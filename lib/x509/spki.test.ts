import { createHash, ECDH, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { children, content, readTop } from '../der/decode.ts';
import { bitString, nul, oid, seq, tlv } from '../der/encode.ts';
import { EdgesealError } from '../errors.ts';
import { OID } from './oids.ts';
import { canonicalSpki } from './spki.ts';

const spkiOf = (type: 'ec' | 'ed25519' | 'rsa', opts: object = {}) =>
  generateKeyPairSync(type as 'ec', opts as { namedCurve: string }).publicKey.export({
    format: 'der',
    type: 'spki',
  });
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const canon = (der: Buffer) => canonicalSpki(readTop(der));
const code = (f: () => unknown) => {
  try {
    f();
    return 'accepted';
  } catch (e) {
    return e instanceof EdgesealError ? e.code : (e as Error).name;
  }
};

describe('canonicalSpki: one key, one encoding', () => {
  it.each([
    ['P-256', 'prime256v1', OID.prime256v1],
    ['P-384', 'secp384r1', OID.secp384r1],
  ])('an %s point sent compressed is the same key as sent uncompressed', (_n, curve, curveOid) => {
    const der = spkiOf('ec', { namedCurve: curve });
    const point = content(children(readTop(der))[1]!).subarray(1);
    const short = ECDH.convertKey(point, curve, undefined, undefined, 'compressed') as Buffer;
    const compressedDer = seq(seq(oid(OID.ecPublicKey), oid(curveOid)), bitString(short));
    expect(compressedDer.length).toBeLessThan(der.length);
    const a = canon(der);
    const b = canon(compressedDer);
    expect(b.der.equals(der)).toBe(true);
    expect(sha(b.der)).toBe(sha(a.der));
    expect(b.publicKey.equals(a.publicKey)).toBe(true);
  });

  it('an RSA modulus with a redundant leading zero octet is the same key', () => {
    const der = spkiOf('rsa', { modulusLength: 2048 });
    const [alg, bits] = children(readTop(der));
    const [n, e] = children(readTop(content(bits!).subarray(1)));
    const padded = tlv(0x02, Buffer.concat([Buffer.from([0]), content(n!)]));
    const rsaKey = seq(padded, e!.buf.subarray(e!.start, e!.end));
    const paddedDer = seq(alg!.buf.subarray(alg!.start, alg!.end), bitString(rsaKey));
    expect(sha(canon(paddedDer).der)).toBe(sha(der));
  });

  it('an Ed25519 key is its own canonical form', () => {
    const der = spkiOf('ed25519');
    expect(canon(der).der.equals(der)).toBe(true);
  });

  it.each([
    [
      'a point not on the curve',
      () => {
        const der = spkiOf('ec', { namedCurve: 'prime256v1' });
        der[der.length - 1]! ^= 1;
        return der;
      },
      'ERR_KEY_UNSUPPORTED',
    ],
    [
      'a compressed x with no point on the curve',
      () => seq(seq(oid(OID.ecPublicKey), oid(OID.prime256v1)), bitString(Buffer.alloc(33, 0xff))),
      'ERR_KEY_UNSUPPORTED',
    ],
    [
      'an extra element in the EC AlgorithmIdentifier',
      () => {
        const der = spkiOf('ec', { namedCurve: 'prime256v1' });
        const bits = children(readTop(der))[1]!;
        return seq(seq(oid(OID.ecPublicKey), oid(OID.prime256v1), nul()), bits.buf.subarray(bits.start));
      },
      'ERR_BAD_ENCODING',
    ],
    [
      'Ed25519 with parameters (RFC 8410 §3)',
      () => {
        const der = spkiOf('ed25519');
        const bits = children(readTop(der))[1]!;
        return seq(seq(oid(OID.ed25519), nul()), bits.buf.subarray(bits.start));
      },
      'ERR_BAD_ENCODING',
    ],
    [
      'RSA without its NULL parameter (RFC 3279 §2.3.1)',
      () => {
        const der = spkiOf('rsa', { modulusLength: 2048 });
        const bits = children(readTop(der))[1]!;
        return seq(seq(oid(OID.rsaEncryption)), bits.buf.subarray(bits.start));
      },
      'ERR_BAD_ENCODING',
    ],
    ['RSA 1024', () => spkiOf('rsa', { modulusLength: 1024 }), 'ERR_KEY_WEAK'],
    [
      'a third element in the SPKI',
      () => {
        const [a, b] = children(readTop(spkiOf('ed25519')));
        return seq(a!.buf.subarray(a!.start, a!.end), b!.buf.subarray(b!.start, b!.end), nul());
      },
      'ERR_BAD_ENCODING',
    ],
  ])('refuses %s', (_n, make, expected) => expect(code(() => canon(make()))).toBe(expected));
});
