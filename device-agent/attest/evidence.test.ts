// The agent's evidence against the verifier the control plane runs: every claim in the shape
// attestation/ checks, bound to this device, this nonce and this process's wrapping key.
import { randomBytes, X509Certificate } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { hwmodelClaim, verifyEatJwt } from '../../attestation/index.ts';
import { TRUST_DOMAIN, testPki } from '../../attestation/test-pki.ts';
import { newUeid } from '../device.ts';
import { cert } from '../identity/certs.ts';
import { makeIdentity } from '../identity/identity.ts';
import { newWrappingKey } from '../keys/wrapping-key.ts';
import { AGENT_VERSION, makeEvidence, SWNAME } from './evidence.ts';

describe('makeEvidence', async () => {
  const pki = testPki();
  const dev = pki.device({ id: 'cam-0042', model: 'cam-v2' });
  const issuing = cert(Buffer.from(pki.issuingCa.raw));
  const identity = makeIdentity(dev.id, dev.key, cert(dev.certDer), issuing, issuing);
  const wrapping = await newWrappingKey();
  const nonce = randomBytes(32).toString('base64url');
  const ueid = newUeid();
  const fw = 'a1'.repeat(32);
  const agent = 'b2'.repeat(32);
  const token = await makeEvidence(
    {
      nonce,
      ueid,
      hardwareModel: 'cam-v2',
      firmwareSha256: fw,
      agentSha256: agent,
      wrappingPublicKey: wrapping.publicKey,
      now: new Date(),
    },
    identity,
  );

  it('carries ES256, typ eat+jwt and the chain (leaf, issuing CA) in x5c, nothing else', () => {
    const h = decodeProtectedHeader(token);
    expect(h).toEqual({
      alg: 'ES256',
      typ: 'eat+jwt',
      x5c: [dev.certDer.toString('base64'), Buffer.from(pki.issuingCa.raw).toString('base64')],
    });
  });

  it('verifies under the attestation library, with the claims the profile asks for', async () => {
    const v = await verifyEatJwt(token, {
      issuingCa: new X509Certificate(pki.issuingCa.raw),
      trustDomain: TRUST_DOMAIN,
      now: new Date(),
      isRevoked: () => false,
      expectedDeviceId: 'cam-0042',
    });
    expect(v.deviceId).toBe('cam-0042');
    expect(v.claims).toMatchObject({
      eat_nonce: nonce,
      ueid,
      hwmodel: hwmodelClaim('cam-v2'),
      swname: SWNAME,
      swversion: [AGENT_VERSION],
    });
    expect(v.measurements.firmware.sha256).toBe(fw);
    expect(v.measurements.agent).toEqual({ name: 'agent', sha256: agent, version: AGENT_VERSION });
    expect(v.wrappingKey).toEqual(wrapping.publicJwk);
    expect(v.wrappingKeyThumbprint).toBe(wrapping.kid);
  });
});
