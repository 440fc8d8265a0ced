// Opening a telemetry envelope: a compact JWE (RFC 7516 §7.1) to the fleet's telemetry key,
// ECDH-ES+A256KW / A256GCM only (jose's allow-lists), whose protected header names our key
// by its RFC 7638 thumbprint. Nothing about the plaintext is trusted until the tag checked.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, compactDecrypt, decodeProtectedHeader, type JWK } from 'jose';
import { TelemetryRefused } from './message.ts';

export const TELEMETRY_ALG = 'ECDH-ES+A256KW';
export const TELEMETRY_ENC = 'A256GCM';
/** the largest envelope read: a 32 KiB plaintext in base64url plus the header and key */
export const MAX_ENVELOPE_BYTES = 64 * 1024;

export interface TelemetryKey {
  /** RFC 7638 thumbprint of the public key, what devices put in `kid` */
  readonly kid: string;
  readonly privateKey: KeyObject;
}

export async function telemetryKeyOf(k: { key: KeyObject; publicKeyDer: Buffer }): Promise<TelemetryKey> {
  const jwk = createPublicKey({ key: k.publicKeyDer, format: 'der', type: 'spki' }).export({
    format: 'jwk',
  }) as JWK;
  return { kid: await calculateJwkThumbprint(jwk, 'sha256'), privateKey: k.key };
}

/** The plaintext of `payload`, or throws TelemetryRefused (too_large, unknown_key, undecryptable). */
export async function openEnvelope(payload: Uint8Array, key: TelemetryKey): Promise<Uint8Array> {
  if (payload.byteLength > MAX_ENVELOPE_BYTES)
    throw new TelemetryRefused('too_large', `envelope is over ${MAX_ENVELOPE_BYTES} bytes`);
  // a trailing newline is what `mosquitto_pub -f` sends; the gateway lets it through too
  const jwe = Buffer.from(payload)
    .toString('latin1')
    .replace(/[\r\n]+$/, '');
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jwe);
  } catch {
    throw new TelemetryRefused('undecryptable', 'not a compact JWE');
  }
  if (header.kid !== key.kid) throw new TelemetryRefused('unknown_key', 'kid is not the telemetry key');
  // RFC 7516 §4.1.3: compression is refused (no decompression of untrusted input)
  if (header.zip !== undefined) throw new TelemetryRefused('undecryptable', 'zip is not accepted');
  try {
    const { plaintext } = await compactDecrypt(jwe, key.privateKey, {
      keyManagementAlgorithms: [TELEMETRY_ALG],
      contentEncryptionAlgorithms: [TELEMETRY_ENC],
    });
    return plaintext;
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new TelemetryRefused(
      'undecryptable',
      code === 'ERR_JOSE_ALG_NOT_ALLOWED' ? 'algorithm not allowed' : 'does not decrypt',
    );
  }
}
