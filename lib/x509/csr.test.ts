import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bitString, ctx, oid, seq, setOf, smallInt, utf8 } from '../der/encode.ts';
import type { EdgesealError } from '../errors.ts';
import { parseCsr, verifyCsrSignature } from './csr.ts';
import { OID } from './oids.ts';

function build(opts: { spki?: Buffer; sigOid?: string; tamper?: boolean; version?: number } = {}) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = opts.spki ?? publicKey.export({ format: 'der', type: 'spki' });
  const cri = seq(
    smallInt(opts.version ?? 0),
    seq(setOf(seq(oid(OID.commonName), utf8('dev-1')))),
    spki,
    ctx(0, Buffer.alloc(0)),
  );
  const sig = sign('sha256', cri, privateKey);
  if (opts.tamper) sig[sig.length - 3]! ^= 1;
  return seq(cri, seq(oid(opts.sigOid ?? OID.ecdsaWithSha256)), bitString(sig));
}

const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as EdgesealError).code;
  }
  return 'no error';
};

describe('parseCsr / verifyCsrSignature', () => {
  it('parses a P-256 request and verifies it', () => {
    const csr = parseCsr(build());
    expect(csr.keyType).toBe('ec-p256');
    expect(csr.subject).toEqual([{ type: OID.commonName, value: 'dev-1' }]);
    expect(csr.spkiSha256).toMatch(/^[0-9a-f]{64}$/);
    verifyCsrSignature(csr);
  });

  it.each([
    [
      'a flipped signature bit',
      () => verifyCsrSignature(parseCsr(build({ tamper: true }))),
      'ERR_CSR_SIGNATURE',
    ],
    [
      'an unknown signature algorithm',
      () => verifyCsrSignature(parseCsr(build({ sigOid: '1.2.3.4' }))),
      'ERR_CSR_SIGNATURE',
    ],
    [
      'an RSA signature on an EC key',
      () => verifyCsrSignature(parseCsr(build({ sigOid: OID.sha256WithRsa }))),
      'ERR_CSR_SIGNATURE',
    ],
    ['version 1', () => parseCsr(build({ version: 1 })), 'ERR_CSR_MALFORMED'],
    ['random bytes', () => parseCsr(Buffer.from('30820101deadbeef', 'hex')), 'ERR_CSR_MALFORMED'],
    [
      'a P-256 point that is not on the curve',
      () => {
        const good = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({
          format: 'der',
          type: 'spki',
        });
        good[good.length - 1]! ^= 1; // y no longer matches x
        return parseCsr(build({ spki: good }));
      },
      'ERR_KEY_UNSUPPORTED',
    ],
    [
      'an EC key on explicit parameters',
      () =>
        parseCsr(
          build({ spki: seq(seq(oid(OID.ecPublicKey), seq(smallInt(1))), bitString(Buffer.alloc(65, 4))) }),
        ),
      'ERR_KEY_UNSUPPORTED',
    ],
    [
      'an unknown key algorithm',
      () => parseCsr(build({ spki: seq(seq(oid('1.2.3.4.5')), bitString(Buffer.alloc(32, 1))) })),
      'ERR_KEY_UNSUPPORTED',
    ],
  ])('refuses %s', (_n, f, expected) => expect(code(f)).toBe(expected));
});
