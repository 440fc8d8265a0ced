import { createHmac, generateKeyPairSync, type KeyObject, sign as nodeSign } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { EAT_PROFILE } from './eat-claims.ts';
import { type EvidenceContext, verifyEatJwt } from './eat-jwt.ts';
import { type AttestationErrorCode, isAttestationError } from './errors.ts';
import { verifyEvidence } from './evidence-formats.ts';
import { evidenceClaims, signEvidence } from './evidence-sign.ts';
import { type Device, FIRMWARE_GOOD, goodInput, NOW, TRUST_DOMAIN, testPki } from './test-pki.ts';
import type { LeafCache, VerifiedLeaf } from './x5c-chain.ts';

const pki = testPki();
const dev = pki.device({ id: 'cam-0001' });
const other = pki.device({ id: 'cam-0002' });
const ed = pki.device({ id: 'cam-ed', keyType: 'Ed25519' });
const p384 = pki.device({ id: 'cam-384', keyType: 'P-384' });
const rsa = pki.device({ id: 'cam-rsa', keyType: 'RSA' });
const caLeaf = pki.caLeaf('cam-ca');
const expired = pki.device({ id: 'cam-old', from: -400, to: -1 });
const notYet = pki.device({ id: 'cam-new', from: 1, to: 365 });
// a foreign fleet, and one whose CA copies our names exactly
const foreign = testPki().device({ id: 'cam-0001' });
const lookalikePki = testPki();
const lookalike = lookalikePki.device({ id: 'cam-0001' });
// an issuing CA that expired yesterday, with a device whose own certificate is still valid
const lapsedPki = testPki({ issuingTo: -1 });
const lapsed = lapsedPki.device({ id: 'cam-0001' });
const attacker = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

const ctx = (over: Partial<EvidenceContext> = {}): EvidenceContext => ({
  issuingCa: pki.issuingCa,
  trustDomain: TRUST_DOMAIN,
  now: NOW,
  isRevoked: () => false,
  ...over,
});

const b64u = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const x5cOf = (d: Device) => d.chain.map((c) => c.toString('base64'));

/** A compact JWS built by hand, so a test can put anything in the header. */
function jws(
  header: Record<string, unknown>,
  payload: unknown,
  key: KeyObject | ((input: string) => Buffer),
): string {
  const input = `${b64u(header)}.${typeof payload === 'string' ? b64u(payload) : b64u(payload)}`;
  const sig =
    typeof key === 'function'
      ? key(input)
      : nodeSign(
          key.asymmetricKeyType === 'ed25519'
            ? null
            : key.asymmetricKeyDetails?.namedCurve === 'secp384r1'
              ? 'sha384'
              : 'sha256',
          Buffer.from(input),
          key.asymmetricKeyType === 'ec' ? { key, dsaEncoding: 'ieee-p1363' } : key,
        );
  return `${input}.${sig.toString('base64url')}`;
}

const claims = (over: Record<string, unknown> = {}) => ({ ...evidenceClaims(goodInput()), ...over });
const without = (name: string) => {
  const c: Record<string, unknown> = claims();
  delete c[name];
  return c;
};
const es256 = (d: Device, over: Record<string, unknown> = {}) => ({
  alg: 'ES256',
  typ: 'eat+jwt',
  x5c: x5cOf(d),
  ...over,
});

async function codeOf(p: Promise<unknown>): Promise<AttestationErrorCode | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (isAttestationError(e)) return e.code;
    throw e;
  }
}

describe('verifyEatJwt: good evidence', () => {
  it('returns who signed it, what it measured and the key to wrap to (ES256, P-256 device)', async () => {
    const input = goodInput();
    const token = await signEvidence(input, { key: dev.key, chain: dev.chain });
    const ev = await verifyEatJwt(token, ctx({ expectedDeviceId: 'cam-0001' }));
    expect(ev.format).toBe('eat-jwt');
    expect(ev.deviceId).toBe('cam-0001');
    expect(ev.hardwareModelFromCert).toBe('cam-v2');
    expect(ev.certSerial).toMatch(/^[0-9a-f]+$/);
    expect(ev.nonce).toEqual(Buffer.alloc(32, 7));
    expect(ev.measurements.firmware).toEqual({ name: 'firmware', sha256: FIRMWARE_GOOD, version: '1.4.2' });
    expect(ev.claims.eat_profile).toBe(EAT_PROFILE);
    expect(ev.claims.swversion).toEqual(['1.4.2', 16384]);
    expect(Object.keys(ev.wrappingKey).sort()).toEqual(['crv', 'kty', 'x', 'y']);
    expect(ev.wrappingKeyThumbprint).toBe(await calculateJwkThumbprint(ev.wrappingKey, 'sha256'));
  });

  it.each([
    ['EdDSA, Ed25519 device', ed],
    ['ES384, P-384 device', p384],
  ])('accepts %s', async (_name, d) => {
    const token = await signEvidence(goodInput(), { key: d.key, chain: d.chain });
    expect((await verifyEatJwt(token, ctx())).deviceId).toBe(d.id);
  });

  it('accepts the fully-specified Ed25519 alg (RFC 9864) and typ application/eat+jwt', async () => {
    const token = jws({ alg: 'Ed25519', typ: 'application/eat+jwt', x5c: x5cOf(ed) }, claims(), ed.key);
    expect((await verifyEatJwt(token, ctx())).deviceId).toBe('cam-ed');
  });

  it('accepts bytes as well as text, and several issuing CAs during a rotation', async () => {
    const token = await signEvidence(goodInput(), { key: dev.key, chain: dev.chain });
    const ev = await verifyEatJwt(
      Buffer.from(token),
      ctx({ issuingCa: [lookalikePki.issuingCa, pki.issuingCa] }),
    );
    expect(ev.deviceId).toBe('cam-0001');
  });
});

// Every bad input of issue 8, and the code it is refused with.
const BAD: [string, () => string | Promise<string>, AttestationErrorCode, Partial<EvidenceContext>?][] = [
  // whose key
  [
    'signed by another device key (cert of A, signature by B)',
    () => jws(es256(dev), claims(), other.key),
    'SignatureInvalid',
  ],
  [
    'signed by an attacker key with the victim chain',
    () => jws(es256(dev), claims(), attacker.privateKey),
    'SignatureInvalid',
  ],
  ['a device of a foreign CA', () => jws(es256(foreign), claims(), foreign.key), 'ChainInvalid'],
  [
    'a foreign CA with our names, presented as [its leaf, our issuing CA]',
    () => jws(es256(lookalike, { x5c: [x5cOf(lookalike)[0], x5cOf(dev)[1]] }), claims(), lookalike.key),
    'ChainInvalid',
  ],
  ['an x5c leaf that is a CA', () => jws(es256(caLeaf), claims(), caLeaf.key), 'LeafIsCa'],
  [
    'the device certificate of the caller is another device',
    () => jws(es256(other), claims(), other.key),
    'DeviceMismatch',
    { expectedDeviceId: 'cam-0001' },
  ],
  [
    'a leaf of an issuing CA past its validity',
    () => jws(es256(lapsed), claims(), lapsed.key),
    'ChainInvalid',
    { issuingCa: lapsedPki.issuingCa },
  ],
  [
    'a revoked leaf',
    () => jws(es256(dev), claims(), dev.key),
    'CertificateRevoked',
    { isRevoked: async () => true },
  ],
  ['an expired leaf', () => jws(es256(expired), claims(), expired.key), 'CertificateExpired'],
  ['a leaf not yet valid', () => jws(es256(notYet), claims(), notYet.key), 'CertificateExpired'],
  // x5c itself
  ['no x5c', () => jws({ alg: 'ES256' }, claims(), dev.key), 'ChainInvalid'],
  ['an empty x5c', () => jws(es256(dev, { x5c: [] }), claims(), dev.key), 'ChainInvalid'],
  [
    'x5c with the leaf only',
    () => jws(es256(dev, { x5c: x5cOf(dev).slice(0, 1) }), claims(), dev.key),
    'ChainInvalid',
  ],
  [
    'x5c too long',
    () => jws(es256(dev, { x5c: [...x5cOf(dev), x5cOf(dev)[1]] }), claims(), dev.key),
    'ChainInvalid',
  ],
  [
    'x5c in base64url, not base64',
    () => jws(es256(dev, { x5c: dev.chain.map((c) => c.toString('base64url')) }), claims(), dev.key),
    'ChainInvalid',
  ],
  [
    'x5c of garbage DER',
    () => jws(es256(dev, { x5c: ['MIIB', x5cOf(dev)[1]] }), claims(), dev.key),
    'ChainInvalid',
  ],
  // algorithms
  ['alg none', () => `${b64u({ alg: 'none', x5c: x5cOf(dev) })}.${b64u(claims())}.`, 'AlgorithmNotAllowed'],
  [
    'HS256 keyed with the public certificate',
    () =>
      jws({ alg: 'HS256', x5c: x5cOf(dev) }, claims(), (input) =>
        createHmac('sha256', dev.certDer).update(input).digest(),
      ),
    'AlgorithmNotAllowed',
  ],
  [
    'RS256 from an RSA device',
    () =>
      jws({ alg: 'RS256', x5c: x5cOf(rsa) }, claims(), (i) => nodeSign('sha256', Buffer.from(i), rsa.key)),
    'AlgorithmNotAllowed',
  ],
  ['ES256 over an Ed25519 leaf', () => jws(es256(ed), claims(), ed.key), 'AlgorithmNotAllowed'],
  [
    'ES384 over a P-256 leaf',
    () => jws(es256(dev, { alg: 'ES384' }), claims(), dev.key),
    'AlgorithmNotAllowed',
  ],
  ['no alg', () => jws({ x5c: x5cOf(dev) }, claims(), dev.key), 'AlgorithmNotAllowed'],
  // headers pointing elsewhere
  ['a kid header', () => jws(es256(dev, { kid: 'cam-0001' }), claims(), dev.key), 'KeyHeaderNotAllowed'],
  [
    'a jwk header with the attacker key, signed by it',
    () =>
      jws(es256(dev, { jwk: attacker.publicKey.export({ format: 'jwk' }) }), claims(), attacker.privateKey),
    'KeyHeaderNotAllowed',
  ],
  [
    'a jku header',
    () => jws(es256(dev, { jku: 'https://evil.example/jwks' }), claims(), dev.key),
    'KeyHeaderNotAllowed',
  ],
  [
    'an x5u header',
    () => jws(es256(dev, { x5u: 'https://evil.example/c.pem' }), claims(), dev.key),
    'KeyHeaderNotAllowed',
  ],
  ['an x5t header', () => jws(es256(dev, { x5t: 'AAAA' }), claims(), dev.key), 'KeyHeaderNotAllowed'],
  ['a crit header', () => jws(es256(dev, { crit: ['exp'] }), claims(), dev.key), 'KeyHeaderNotAllowed'],
  [
    'a b64 header (RFC 7797)',
    () => jws(es256(dev, { b64: false }), claims(), dev.key),
    'KeyHeaderNotAllowed',
  ],
  ['typ of another kind', () => jws(es256(dev, { typ: 'JWT' }), claims(), dev.key), 'EvidenceMalformed'],
  // as a token
  [
    'a token cut to two parts',
    () => jws(es256(dev), claims(), dev.key).split('.').slice(0, 2).join('.'),
    'EvidenceMalformed',
  ],
  [
    'a token cut inside the signature',
    () => jws(es256(dev), claims(), dev.key).slice(0, -10),
    'SignatureInvalid',
  ],
  [
    'a token cut inside the payload',
    () => {
      const t = jws(es256(dev), claims(), dev.key);
      return t.slice(0, t.indexOf('.') + 20);
    },
    'EvidenceMalformed',
  ],
  ['an empty string', () => '', 'EvidenceMalformed'],
  [
    'an oversized token',
    () => jws(es256(dev), claims({ pad: 'x'.repeat(17_000) }), dev.key),
    'EvidenceTooLarge',
  ],
  [
    'a non-JSON payload, validly signed',
    () => jws(es256(dev), 'not json at all', dev.key),
    'EvidenceMalformed',
  ],
  ['a JSON array payload', () => jws(es256(dev), '[1,2]', dev.key), 'EvidenceMalformed'],
  ['a non-JSON header', () => `${b64u('{alg:ES256')}.${b64u(claims())}.AAAA`, 'EvidenceMalformed'],
  ['a JWE-shaped token (five parts)', () => 'a.b.c.d.e', 'EvidenceMalformed'],
  // claims
  ['no nonce', () => jws(es256(dev), without('eat_nonce'), dev.key), 'NonceMissing'],
  ['a nonce too short', () => jws(es256(dev), claims({ eat_nonce: 'AAAAAAA' }), dev.key), 'ClaimInvalid'],
  [
    'two nonces',
    () => jws(es256(dev), claims({ eat_nonce: ['AAAAAAAAAAA', 'BBBBBBBBBBB'] }), dev.key),
    'ClaimInvalid',
  ],
  [
    'a wrong profile',
    () => jws(es256(dev), claims({ eat_profile: 'tag:evil.example,2026:eat' }), dev.key),
    'ClaimInvalid',
  ],
  ['no profile', () => jws(es256(dev), without('eat_profile'), dev.key), 'ClaimMissing'],
  ['no ueid', () => jws(es256(dev), without('ueid'), dev.key), 'ClaimMissing'],
  [
    'a ueid of 40 bytes',
    () => jws(es256(dev), claims({ ueid: b64u(Buffer.alloc(40).toString('latin1')) }), dev.key),
    'ClaimInvalid',
  ],
  ['no oemid', () => jws(es256(dev), without('oemid'), dev.key), 'ClaimMissing'],
  ['no hwmodel', () => jws(es256(dev), without('hwmodel'), dev.key), 'ClaimMissing'],
  [
    'a hwmodel of another model',
    () => jws(es256(dev), claims({ hwmodel: b64u('cam-v3') }), dev.key),
    'HardwareModelMismatch',
  ],
  [
    'a swversion as a bare string',
    () => jws(es256(dev), claims({ swversion: '1.4.2' }), dev.key),
    'ClaimInvalid',
  ],
  [
    'a floating-point iat',
    () => jws(es256(dev), claims({ iat: NOW.getTime() / 1000 + 0.5 }), dev.key),
    'ClaimInvalid',
  ],
  [
    'an iat an hour ahead',
    () => jws(es256(dev), claims({ iat: NOW.getTime() / 1000 + 3600 }), dev.key),
    'ClaimInvalid',
  ],
  ['no measurements', () => jws(es256(dev), without('measurements'), dev.key), 'ClaimMissing'],
  [
    'measurements without the agent',
    () => jws(es256(dev), claims({ measurements: [(claims().measurements as unknown[])[0]] }), dev.key),
    'ClaimMissing',
  ],
  [
    'a measured component with authorities',
    () =>
      jws(
        es256(dev),
        claims({
          measurements: [
            [
              50,
              JSON.stringify({
                id: ['firmware'],
                'digested-measurement': ['sha-256', b64u('x'.repeat(32))],
                authorities: ['AA'],
              }),
            ],
          ],
        }),
        dev.key,
      ),
    'ClaimInvalid',
  ],
  ['no cnf', () => jws(es256(dev), without('cnf'), dev.key), 'ClaimMissing'],
  [
    'cnf with the private d',
    () => jws(es256(dev), claims({ cnf: { jwk: attacker.privateKey.export({ format: 'jwk' }) } }), dev.key),
    'ClaimInvalid',
  ],
  [
    'cnf on P-384',
    () =>
      jws(
        es256(dev),
        claims({
          cnf: {
            jwk: generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ format: 'jwk' }),
          },
        }),
        dev.key,
      ),
    'ClaimInvalid',
  ],
  [
    'cnf with x not below the field prime',
    () =>
      jws(
        es256(dev),
        claims({
          cnf: {
            jwk: {
              kty: 'EC',
              crv: 'P-256',
              x: b64u(Buffer.alloc(32, 0xff).toString('latin1')),
              y: b64u('y'.repeat(32)),
            },
          },
        }),
        dev.key,
      ),
    'ClaimInvalid',
  ],
  [
    'cnf with a point off the curve',
    () =>
      jws(
        es256(dev),
        claims({
          cnf: { jwk: { kty: 'EC', crv: 'P-256', x: b64u('x'.repeat(32)), y: b64u('y'.repeat(32)) } },
        }),
        dev.key,
      ),
    'ClaimInvalid',
  ],
];

describe('verifyEatJwt refuses bad evidence with its reason', () => {
  const vectors = BAD.map(([name, make, code, over]) => ({ name, make, code, over }));
  it.each(vectors)('$name → $code', async ({ make, code, over }) => {
    expect(await codeOf(verifyEatJwt(await make(), ctx(over)))).toBe(code);
  });

  it('an unknown evidence format is malformed evidence', async () => {
    expect(await codeOf(verifyEvidence('tpm2-quote', 'x', ctx()))).toBe('EvidenceMalformed');
    expect(await codeOf(verifyEvidence('__proto__', 'x', ctx()))).toBe('EvidenceMalformed');
  });

  it('says which device signed when it is not the caller, and never echoes the token', async () => {
    const token = jws(es256(other), claims(), other.key);
    const err = await verifyEatJwt(token, ctx({ expectedDeviceId: 'cam-0001' })).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'DeviceMismatch' });
    expect((err as Error).message).toContain('cam-0002');
    expect((err as Error).message).not.toContain(token.slice(0, 20));
  });
});

describe('verifiedLeafCache', () => {
  it('skips re-verifying a known leaf, yet checks revocation and validity on every call', async () => {
    const map = new Map<string, VerifiedLeaf>();
    const cache: LeafCache = {
      get: vi.fn((k: string) => map.get(k)),
      set: vi.fn((k: string, v: VerifiedLeaf) => map.set(k, v)),
    };
    const token = await signEvidence(goodInput(), { key: dev.key, chain: dev.chain });
    await verifyEatJwt(token, ctx({ verifiedLeafCache: cache }));
    await verifyEatJwt(token, ctx({ verifiedLeafCache: cache }));
    expect(cache.set).toHaveBeenCalledTimes(1);
    expect(await codeOf(verifyEatJwt(token, ctx({ verifiedLeafCache: cache, isRevoked: () => true })))).toBe(
      'CertificateRevoked',
    );
    const later = new Date(NOW.getTime() + 400 * 86_400_000);
    expect(await codeOf(verifyEatJwt(token, ctx({ verifiedLeafCache: cache, now: later })))).toBe(
      'CertificateExpired',
    );
  });

  it('a cached leaf is refused once its issuing CA is no longer trusted', async () => {
    const map = new Map<string, VerifiedLeaf>();
    const token = await signEvidence(goodInput(), { key: dev.key, chain: dev.chain });
    await verifyEatJwt(token, ctx({ verifiedLeafCache: map }));
    const c = ctx({ verifiedLeafCache: map, issuingCa: lookalikePki.issuingCa });
    expect(await codeOf(verifyEatJwt(token, c))).toBe('ChainInvalid');
  });
});
