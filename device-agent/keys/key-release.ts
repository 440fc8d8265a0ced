// Key release: on an affirming result, ask the key service for the configured key; it comes
// back as a compact JWE (RFC 7516) wrapped to our in-memory wrapping key with ECDH-ES+A256KW
// and encrypted with A256GCM (RFC 7518 §4.6, §5.3), kid = that key's RFC 7638 thumbprint.
// The 32-byte content key stays in memory (ContentKeyStore); only its id and kid are logged.
import { compactDecrypt, decodeProtectedHeader } from 'jose';
import { KEY_RELEASE_ALG, KEY_RELEASE_ENC } from '../../attestation/index.ts';
import type { Standing } from '../attest/attester.ts';
import { fail, failureFields, isRefusal } from '../errors.ts';
import type { AgentLog } from '../log.ts';
import type { ControlPlane } from '../net/control-plane.ts';
import type { RunResult } from '../schedule.ts';
import type { ContentKeyStore } from './content-keys.ts';
import type { WrappingKey } from './wrapping-key.ts';

export const CONTENT_KEY_BYTES = 32;

/** Opens a released key: only our algorithms, only to our wrapping key, only a 256-bit key. */
export async function openReleasedKey(jwe: string, wrapping: WrappingKey): Promise<Uint8Array> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jwe);
  } catch {
    return fail('ERR_PROTOCOL', 'released key is not a compact JWE');
  }
  if (header.alg !== KEY_RELEASE_ALG || header.enc !== KEY_RELEASE_ENC) {
    fail(
      'ERR_PROTOCOL',
      `released key uses ${String(header.alg)}/${String(header.enc)}, not ${KEY_RELEASE_ALG}/${KEY_RELEASE_ENC}`,
    );
  }
  if (header.kid !== wrapping.kid)
    fail('ERR_PROTOCOL', `released key is wrapped to ${String(header.kid)}, not to this process's key`);
  let plaintext: Uint8Array;
  try {
    ({ plaintext } = await compactDecrypt(jwe, wrapping.privateKey, {
      keyManagementAlgorithms: [KEY_RELEASE_ALG],
      contentEncryptionAlgorithms: [KEY_RELEASE_ENC],
    }));
  } catch (e) {
    return fail('ERR_PROTOCOL', 'released key does not open with the wrapping key', e);
  }
  if (plaintext.length !== CONTENT_KEY_BYTES) {
    plaintext.fill(0);
    fail('ERR_PROTOCOL', `released key is ${plaintext.length} bytes, not ${CONTENT_KEY_BYTES}`);
  }
  return plaintext;
}

export interface KeyReleaserDeps {
  readonly cp: Pick<ControlPlane, 'releaseKey'>;
  readonly wrapping: WrappingKey;
  readonly keys: ContentKeyStore;
  /** the key ids wanted now: the configured key, the content key of a model waiting to load */
  readonly wanted: () => readonly string[];
  readonly log: AgentLog;
  /** the current result and standing (the attester's) */
  readonly current: () => { standing: Standing; result: string | undefined };
}

export class KeyReleaser {
  /** per key id, the result a refusal answered: not asked again until a new result comes */
  private readonly refusedFor = new Map<string, string>();

  constructor(private readonly d: KeyReleaserDeps) {}

  /** A Job run, triggered by each affirming result and whenever a key is wanted; idles once each is held. */
  run = async (): Promise<RunResult> => {
    for (const keyId of new Set(this.d.wanted())) {
      const { standing, result } = this.d.current();
      if (standing !== 'affirming' || !result) return 'idle';
      if (this.d.keys.get(keyId) || this.refusedFor.get(keyId) === result) continue;
      await this.release(keyId, result);
    }
    return 'idle';
  };

  private async release(keyId: string, result: string): Promise<void> {
    let released: Awaited<ReturnType<ControlPlane['releaseKey']>>;
    try {
      released = await this.d.cp.releaseKey(keyId, result);
    } catch (e) {
      if (!isRefusal(e)) throw e;
      this.refusedFor.set(keyId, result);
      this.d.log.warn('key_release_refused', { key_id: keyId, ...failureFields(e) });
      return;
    }
    if (released.keyId !== keyId) fail('ERR_PROTOCOL', `asked for key ${keyId}, got ${released.keyId}`);
    if (released.kid !== this.d.wrapping.kid)
      fail('ERR_PROTOCOL', `key ${released.keyId} was wrapped to kid ${released.kid}, not ours`);
    const key = await openReleasedKey(released.jwe, this.d.wrapping);
    this.d.keys.set(keyId, key);
    this.d.log.info('key_released', { key_id: keyId, kid: released.kid });
  }
}
