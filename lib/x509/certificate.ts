// X.509 v3 certificate assembly (RFC 5280 §4.1). The caller supplies pre-encoded parts; the
// issuer's constant parts (name, AKI, CDP, AIA) are encoded once per issuer, not per cert.
import { randomBytes } from 'node:crypto';
import { bitStringBytes, children, readTop } from '../der/decode.ts';
import { bitString, ctx, seq, smallInt, time, uint } from '../der/encode.ts';

/** The seam for an HSM: anything that can sign bytes with the CA key. */
export interface Signer {
  /** DER AlgorithmIdentifier of the signatures this signer makes */
  readonly algorithmIdentifier: Buffer;
  sign(data: Buffer): Buffer;
}

export interface TbsInput {
  readonly serial: Buffer;
  readonly issuer: Buffer;
  readonly subject: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spki: Buffer;
  readonly extensions: readonly Buffer[];
}

const VERSION_3 = ctx(0, smallInt(2));

export function buildTbs(input: TbsInput, signatureAlgorithm: Buffer): Buffer {
  return seq(
    VERSION_3,
    uint(input.serial),
    signatureAlgorithm,
    input.issuer,
    seq(time(input.notBefore), time(input.notAfter)),
    input.subject,
    input.spki,
    ctx(3, seq(...input.extensions)),
  );
}

export function signCertificate(tbs: Buffer, signer: Signer): Buffer {
  return seq(tbs, signer.algorithmIdentifier, bitString(signer.sign(tbs)));
}

/**
 * A random positive serial (RFC 5280 §4.1.2.2: ≤ 20 octets, CA/B BR: ≥ 64 bits of entropy).
 * 16 octets with the top bit cleared and the next set: always positive, fixed length, 126
 * random bits.
 */
export function randomSerial(random: (n: number) => Buffer = randomBytes): Buffer {
  const b = random(16);
  b[0] = (b[0]! & 0x3f) | 0x40;
  return b;
}

/** The subjectPublicKey bits of a SPKI (what key identifiers hash). */
export function spkiKeyBits(spki: Buffer): Buffer {
  const [, bits] = children(readTop(spki));
  return bitStringBytes(bits!);
}
