// Key release, the pure half: may this result have a model key, and the JWE that carries the
// key to the attested wrapping key (RFC 7516 compact, ECDH-ES+A256KW / A256GCM, RFC 7518
// §4.6 and §5.3), kid = the key's RFC 7638 thumbprint. The store and the audit are the
// caller's.
import type { KeyObject } from 'node:crypto';
import { CompactEncrypt, calculateJwkThumbprint, compactDecrypt, type JWK } from 'jose';
import { AttestationError, fail } from './errors.ts';
import { type AttestationResult, requireAffirming } from './result.ts';

export const KEY_RELEASE_ALG = 'ECDH-ES+A256KW';
export const KEY_RELEASE_ENC = 'A256GCM';

export interface ReleaseRequest {
  /** the requesting device (its mTLS identity) */
  readonly deviceId: string;
  readonly now: Date;
  /** the attestation session this request belongs to: the nonce its evidence answered */
  readonly sessionNonce?: Uint8Array | string;
  /** the model's minimum firmware SVN, when the package sets one */
  readonly minFirmwareSvn?: number;
}

export interface ReleaseGrant {
  readonly wrappingKey: JWK;
  readonly kid: string;
  readonly resultId: string;
}

/**
 * Whether a model key may be released on this result: present, affirming, of this device,
 * unexpired now, of this session, and (when the model asks) on new enough firmware.
 */
export function authorizeKeyRelease(
  result: AttestationResult | undefined | null,
  req: ReleaseRequest,
): ReleaseGrant {
  if (!result) return fail('ResultMissing', 'no attestation result for this device');
  if (result.deviceId !== req.deviceId) fail('ResultOtherDevice', `result is for device ${result.deviceId}`);
  if (req.now.getTime() >= result.expiresAt.getTime())
    fail('ResultExpired', `result ${result.resultId} expired`);
  if (req.sessionNonce !== undefined) {
    const n =
      typeof req.sessionNonce === 'string'
        ? req.sessionNonce
        : Buffer.from(req.sessionNonce).toString('base64url');
    if (n !== result.nonce) fail('ResultOtherSession', 'result answers another attestation session');
  }
  requireAffirming(result);
  if (req.minFirmwareSvn !== undefined && !((result.firmware.svn ?? -1) >= req.minFirmwareSvn)) {
    fail('BelowMinimumSvn', `model needs firmware SVN ≥ ${req.minFirmwareSvn}`);
  }
  return { wrappingKey: result.wrappingKey, kid: result.wrappingKeyThumbprint, resultId: result.resultId };
}

/** Wraps a content key to the attested wrapping key. */
export async function wrapContentKey(contentKey: Uint8Array, grant: ReleaseGrant): Promise<string> {
  // the thumbprint in the result is ours, but recomputing it costs microseconds and keeps the
  // kid honest even for a grant built by hand
  const kid = await calculateJwkThumbprint(grant.wrappingKey, 'sha256');
  if (kid !== grant.kid) throw new TypeError('grant kid is not the thumbprint of its wrapping key');
  return new CompactEncrypt(contentKey)
    .setProtectedHeader({ alg: KEY_RELEASE_ALG, enc: KEY_RELEASE_ENC, kid })
    .encrypt(grant.wrappingKey);
}

/** The agent side: opens a released key with the in-memory wrapping private key. */
export async function unwrapContentKey(
  jwe: string,
  wrappingPrivateKey: KeyObject,
  expectedKid?: string,
): Promise<Uint8Array> {
  try {
    const { plaintext, protectedHeader } = await compactDecrypt(jwe, wrappingPrivateKey, {
      keyManagementAlgorithms: [KEY_RELEASE_ALG],
      contentEncryptionAlgorithms: [KEY_RELEASE_ENC],
    });
    if (expectedKid !== undefined && protectedHeader.kid !== expectedKid) {
      return fail('KeyReleaseInvalid', 'released key is wrapped to another key');
    }
    return plaintext;
  } catch (e) {
    if (e instanceof AttestationError) throw e;
    return fail('KeyReleaseInvalid', 'released key does not open with this wrapping key', e);
  }
}
