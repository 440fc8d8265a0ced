import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { appraise, type ReferenceValues } from './appraise.ts';
import { verifyEatJwt } from './eat-jwt.ts';
import { type AttestationErrorCode, isAttestationError } from './errors.ts';
import { signEvidence } from './evidence-sign.ts';
import { authorizeKeyRelease, type ReleaseRequest, unwrapContentKey, wrapContentKey } from './key-release.ts';
import { type AttestationResult, signResult, verifyResult } from './result.ts';
import { FIRMWARE_GOOD, goodInput, NOW, TRUST_DOMAIN, testPki } from './test-pki.ts';

const pki = testPki();
const dev = pki.device({ id: 'cam-0001' });
const verifier = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const wrapping = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const NONCE = Buffer.alloc(32, 7);
const REFS: ReferenceValues = {
  firmware: [{ sha256: FIRMWARE_GOOD, version: '1.4.2', svn: 5 }],
  deniedDigests: new Set(),
  agentDigests: new Set(),
};

/** The whole verifier path: evidence → appraisal → signed result → verified result. */
async function attest(refs: ReferenceValues): Promise<AttestationResult> {
  const token = await signEvidence(goodInput({ nonce: NONCE, wrappingKey: wrapping.publicKey }), {
    key: dev.key,
    chain: dev.chain,
  });
  const ctx = { issuingCa: pki.issuingCa, trustDomain: TRUST_DOMAIN, now: NOW, isRevoked: () => false };
  const ev = await verifyEatJwt(token, { ...ctx, expectedDeviceId: 'cam-0001' });
  const jwt = await signResult(appraise(ev, refs), ev, {
    key: verifier.privateKey,
    kid: 'v1',
    now: NOW,
    ttlSeconds: 300,
    resultId: 'res-1',
    verifierId: { developer: 'https://edgeseal.dev', build: 'test' },
  });
  return verifyResult(jwt, { publicKey: verifier.publicKey, now: NOW, expectedDeviceId: 'cam-0001' });
}

let good: AttestationResult;
let bad: AttestationResult;
beforeAll(async () => {
  good = await attest(REFS);
  bad = await attest({ ...REFS, deniedDigests: new Set([FIRMWARE_GOOD]) });
});

const req = (over: Partial<ReleaseRequest> = {}): ReleaseRequest => ({
  deviceId: 'cam-0001',
  now: new Date(NOW.getTime() + 5000),
  sessionNonce: NONCE,
  ...over,
});

function codeOf(f: () => unknown): AttestationErrorCode | 'ok' {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (isAttestationError(e)) return e.code;
    throw e;
  }
}

describe('key release', () => {
  it('wraps a content key to the attested key only; the agent opens it in memory', async () => {
    const grant = authorizeKeyRelease(good, req());
    expect(grant.kid).toBe(good.wrappingKeyThumbprint);
    const cek = randomBytes(32);
    const jwe = await wrapContentKey(cek, grant);
    expect(decodeProtectedHeader(jwe)).toMatchObject({
      alg: 'ECDH-ES+A256KW',
      enc: 'A256GCM',
      kid: grant.kid,
    });
    expect(Buffer.from(await unwrapContentKey(jwe, wrapping.privateKey, grant.kid))).toEqual(cek);
    // any other key — another process's, another device's — cannot open it
    const stranger = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    await expect(unwrapContentKey(jwe, stranger)).rejects.toMatchObject({ code: 'KeyReleaseInvalid' });
    await expect(unwrapContentKey(jwe, wrapping.privateKey, 'other-kid')).rejects.toMatchObject({
      code: 'KeyReleaseInvalid',
    });
  });

  const CASES: {
    name: string;
    result: () => AttestationResult | undefined;
    over?: Partial<ReleaseRequest>;
    code: AttestationErrorCode | 'ok';
  }[] = [
    { name: 'an affirming, fresh result of this device and session', result: () => good, code: 'ok' },
    { name: 'no result', result: () => undefined, code: 'ResultMissing' },
    {
      name: "another device's result",
      result: () => good,
      over: { deviceId: 'cam-0002' },
      code: 'ResultOtherDevice',
    },
    {
      name: 'an expired result',
      result: () => good,
      over: { now: new Date(NOW.getTime() + 300_000) },
      code: 'ResultExpired',
    },
    {
      name: "another session's result",
      result: () => good,
      over: { sessionNonce: Buffer.alloc(32, 8) },
      code: 'ResultOtherSession',
    },
    { name: 'a contraindicated result', result: () => bad, code: 'ResultNotAffirming' },
    {
      name: 'firmware below the model floor',
      result: () => good,
      over: { minFirmwareSvn: 6 },
      code: 'BelowMinimumSvn',
    },
    { name: 'firmware at the model floor', result: () => good, over: { minFirmwareSvn: 5 }, code: 'ok' },
  ];
  it.each(CASES)('$name → $code', ({ result, over, code }) => {
    expect(codeOf(() => authorizeKeyRelease(result(), req(over)))).toBe(code);
  });
});
