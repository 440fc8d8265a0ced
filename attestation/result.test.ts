import { generateKeyPairSync, type KeyObject, sign as nodeSign } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { appraise, type ReferenceValues } from './appraise.ts';
import { type VerifiedEvidence, verifyEatJwt } from './eat-jwt.ts';
import { type AttestationErrorCode, isAttestationError } from './errors.ts';
import { signEvidence } from './evidence-sign.ts';
import {
  EAR_PROFILE,
  EAR_SUBMOD,
  EDGESEAL_CLAIM,
  requireAffirming,
  type SignResultOptions,
  signResult,
  verifyResult,
} from './result.ts';
import { AGENT_GOOD, FIRMWARE_GOOD, goodInput, NOW, TRUST_DOMAIN, testPki } from './test-pki.ts';

const pki = testPki();
const dev = pki.device({ id: 'cam-0001' });
const verifier = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const otherVerifier = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const REFS: ReferenceValues = {
  firmware: [{ sha256: FIRMWARE_GOOD, version: '1.4.2', svn: 5 }],
  deniedDigests: new Set(),
  agentDigests: new Set([AGENT_GOOD]),
};
const opts = (over: Partial<SignResultOptions> = {}): SignResultOptions => ({
  key: verifier.privateKey,
  kid: 'verifier-1',
  now: NOW,
  ttlSeconds: 300,
  resultId: 'res-0001',
  verifierId: { developer: 'https://edgeseal.dev', build: 'edgeseal 0.1.0' },
  ...over,
});

let ev: VerifiedEvidence;
beforeAll(async () => {
  const token = await signEvidence(goodInput(), { key: dev.key, chain: dev.chain });
  ev = await verifyEatJwt(token, {
    issuingCa: pki.issuingCa,
    trustDomain: TRUST_DOMAIN,
    now: NOW,
    isRevoked: () => false,
  });
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

const later = (s: number) => new Date(NOW.getTime() + s * 1000);

describe('signResult / verifyResult', () => {
  it('round-trips an affirming result as an EAR in the Veraison profile', async () => {
    const jwt = await signResult(appraise(ev, REFS), ev, opts());
    const r = await verifyResult(jwt, {
      publicKey: verifier.publicKey,
      now: later(10),
      expectedDeviceId: 'cam-0001',
    });
    expect(r).toMatchObject({
      resultId: 'res-0001',
      deviceId: 'cam-0001',
      status: 'affirming',
      reasons: [],
      nonce: ev.claims.eat_nonce,
      certSerial: ev.certSerial,
      hardwareModel: 'cam-v2',
      wrappingKey: ev.wrappingKey,
      wrappingKeyThumbprint: ev.wrappingKeyThumbprint,
      firmware: { sha256: FIRMWARE_GOOD, version: '1.4.2', svn: 5 },
      agent: { sha256: AGENT_GOOD, judged: true },
      verifierId: { developer: 'https://edgeseal.dev', build: 'edgeseal 0.1.0' },
    });
    expect(r.expiresAt.getTime() - r.issuedAt.getTime()).toBe(300_000);
    expect(r.trustVector).toMatchObject({ 'instance-identity': 2, executables: 2, hardware: 2 });
    expect(requireAffirming(r)).toBe(r);

    // the wire shape, as veraison/ear reads it
    expect(decodeProtectedHeader(jwt)).toEqual({ alg: 'ES256', kid: 'verifier-1', typ: 'eat+jwt' });
    const c = decodeJwt(jwt) as Record<string, unknown>;
    expect(c['eat_profile']).toBe(EAR_PROFILE);
    expect(c['ear.verifier-id']).toEqual({ developer: 'https://edgeseal.dev', build: 'edgeseal 0.1.0' });
    expect(c['submods']).toEqual({
      [EAR_SUBMOD]: {
        'ear.status': 'affirming',
        'ear.trustworthiness-vector': r.trustVector,
        'ear.appraisal-policy-id': r.policyId,
      },
    });
    expect(c['cnf']).toEqual({ jwk: ev.wrappingKey });
    expect(Object.keys(c[EDGESEAL_CLAIM] as object).sort()).toEqual([
      'agent',
      'cert_serial',
      'firmware',
      'hardware_model',
      'reasons',
      'wrapping_key_thumbprint',
    ]);
  });

  it('carries the reasons of a contraindicated result, and requireAffirming refuses it', async () => {
    const refs = { ...REFS, deniedDigests: new Set([FIRMWARE_GOOD]) };
    const jwt = await signResult(appraise(ev, refs), ev, opts());
    const r = await verifyResult(jwt, { publicKey: verifier.publicKey, now: NOW });
    expect(r.status).toBe('contraindicated');
    expect(r.reasons.map((x) => x.code)).toEqual(['FirmwareDenied']);
    expect(() => requireAffirming(r)).toThrow(expect.objectContaining({ code: 'ResultNotAffirming' }));
  });

  it('a warning is not affirming either', async () => {
    const jwt = await signResult(
      appraise(ev, { ...REFS, agentDigests: new Set(['cc'.repeat(32)]) }),
      ev,
      opts(),
    );
    const r = await verifyResult(jwt, { publicKey: verifier.publicKey, now: NOW });
    expect(() => requireAffirming(r)).toThrow(expect.objectContaining({ code: 'ResultNotAffirming' }));
  });

  it('no result → ResultMissing', () => {
    expect(() => requireAffirming(undefined)).toThrow(expect.objectContaining({ code: 'ResultMissing' }));
  });

  const tamper = (jwt: string, f: (claims: Record<string, unknown>) => void) => {
    const [h, p, s] = jwt.split('.') as [string, string, string];
    const c = JSON.parse(Buffer.from(p, 'base64url').toString());
    f(c);
    return `${h}.${Buffer.from(JSON.stringify(c)).toString('base64url')}.${s}`;
  };
  const resign = (claims: Record<string, unknown>, header: Record<string, unknown>, key: KeyObject) => {
    const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return `${input}.${nodeSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  };

  const BAD: {
    name: string;
    make: (jwt: string) => string;
    code: AttestationErrorCode;
    now?: Date;
    device?: string;
    refs?: ReferenceValues;
  }[] = [
    { name: 'expired (at exp)', make: (j) => j, code: 'ResultExpired', now: later(300) },
    { name: 'expired (long after)', make: (j) => j, code: 'ResultExpired', now: later(86_400) },
    { name: "another device's result", make: (j) => j, code: 'ResultOtherDevice', device: 'cam-0002' },
    {
      name: 'a tampered signature',
      make: (j) => `${j.slice(0, -6)}${j.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA'}`,
      code: 'ResultInvalid',
    },
    {
      name: 'a contraindicated result tampered to affirming',
      refs: { ...REFS, deniedDigests: new Set([FIRMWARE_GOOD]) },
      make: (j) =>
        tamper(j, (c) => {
          (c['submods'] as Record<string, Record<string, unknown>>)[EAR_SUBMOD]!['ear.status'] = 'affirming';
        }),
      code: 'ResultInvalid',
    },
    {
      name: 'a result signed by another verifier key',
      make: (j) => resign(decodeJwt(j), decodeProtectedHeader(j), otherVerifier.privateKey),
      code: 'ResultInvalid',
    },
    {
      name: 'alg none',
      make: (j) => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${j.split('.')[1]}.`,
      code: 'ResultInvalid',
    },
    {
      name: 'a jwk header',
      make: (j) =>
        resign(
          decodeJwt(j),
          { alg: 'ES256', jwk: verifier.publicKey.export({ format: 'jwk' }) },
          verifier.privateKey,
        ),
      code: 'ResultInvalid',
    },
    {
      name: 'an evidence-shaped token under the verifier key (wrong profile)',
      make: (j) =>
        resign(
          { ...decodeJwt(j), eat_profile: 'tag:edgeseal.dev,2026:eat-jwt-v1' },
          { alg: 'ES256' },
          verifier.privateKey,
        ),
      code: 'ResultInvalid',
    },
    {
      name: 'a result issued an hour ahead',
      make: (j) =>
        resign(
          { ...decodeJwt(j), iat: NOW.getTime() / 1000 + 3600, exp: NOW.getTime() / 1000 + 7200 },
          { alg: 'ES256' },
          verifier.privateKey,
        ),
      code: 'ResultInvalid',
    },
    { name: 'a truncated token', make: (j) => j.slice(0, j.lastIndexOf('.')), code: 'ResultInvalid' },
    { name: 'garbage', make: () => 'not a token', code: 'ResultInvalid' },
  ];

  it.each(BAD)('$name → $code', async ({ make, code, now, device, refs }) => {
    const jwt = make(await signResult(appraise(ev, refs ?? REFS), ev, opts()));
    const o = { publicKey: verifier.publicKey, now: now ?? later(1), expectedDeviceId: device ?? 'cam-0001' };
    expect(await codeOf(verifyResult(jwt, o))).toBe(code);
  });

  it('refuses misuse with TypeError: a zero TTL, a non-P-256 verifier key', async () => {
    const a = appraise(ev, REFS);
    expect(() => signResult(a, ev, opts({ ttlSeconds: 0 }))).toThrow(TypeError);
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey;
    expect(() => signResult(a, ev, opts({ key: p384 }))).toThrow(TypeError);
  });
});
