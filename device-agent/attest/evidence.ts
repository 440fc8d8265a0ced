// The agent's evidence: an EAT (RFC 9711) JWT signed with the device key, chain in x5c,
// built by the attestation library's attester half (signEvidence) so device and verifier
// share one profile — eat_profile, claims, the measurements encoding, the header — and
// cannot drift apart.
import type { KeyObject } from 'node:crypto';
import { signEvidence } from '../../attestation/index.ts';
import type { Identity } from '../identity/identity.ts';

export const SWNAME = 'edgeseal-agent';
export const AGENT_VERSION = '0.1.0';
/**
 * RFC 9711 §4.2.3.1: edgeseal's OEM ID of the random kind (16 bytes made once, used forever),
 * for as long as there is no IANA PEN to use instead.
 */
export const OEMID = Buffer.from('ae507c2a8a92bf301d238afcaa9fac22', 'hex');

export interface EvidenceFacts {
  /** the challenge nonce, base64url as the verifier sent it */
  readonly nonce: string;
  /** device.json's UEID, base64url */
  readonly ueid: string;
  readonly hardwareModel: string;
  readonly firmwareSha256: string;
  readonly agentSha256: string;
  /** the in-memory wrapping key's public half, bound as cnf (RFC 7800) */
  readonly wrappingPublicKey: KeyObject;
  readonly now: Date;
}

export function makeEvidence(facts: EvidenceFacts, identity: Identity): Promise<string> {
  return signEvidence(
    {
      nonce: facts.nonce,
      ueid: Buffer.from(facts.ueid, 'base64url'),
      oemid: OEMID,
      hardwareModel: facts.hardwareModel,
      swname: SWNAME,
      swversion: [AGENT_VERSION],
      firmware: { sha256: facts.firmwareSha256 },
      agent: { sha256: facts.agentSha256, version: AGENT_VERSION },
      wrappingKey: facts.wrappingPublicKey,
      now: facts.now,
    },
    { key: identity.key, chain: [identity.cert.der, identity.issuingCa.der] },
  );
}
