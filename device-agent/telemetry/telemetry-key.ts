// The fleet's telemetry key (GET /v1/telemetry-key, re-read hourly) and the envelope:
// a compact JWE (RFC 7516) with ECDH-ES+A256KW / A256GCM (RFC 7518 §4.6, §5.3) to it, so the
// gateway routes what it cannot read and only the control plane opens it.
import { CompactEncrypt, importJWK, type JWK } from 'jose';
import { fail } from '../errors.ts';
import type { ControlPlane } from '../net/control-plane.ts';
import { TELEMETRY_CTY } from './message.ts';

export const TELEMETRY_ALG = 'ECDH-ES+A256KW';
export const TELEMETRY_ENC = 'A256GCM';
const KEY_REFRESH_MS = 3_600_000;

type EncryptionKey = Awaited<ReturnType<typeof importJWK>>;

export interface TelemetryKey {
  readonly kid: string;
  readonly key: EncryptionKey;
}

async function telemetryPublicKey(jwk: JWK): Promise<EncryptionKey> {
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || 'd' in jwk) {
    fail('ERR_PROTOCOL', 'the telemetry key must be a public EC P-256 JWK');
  }
  try {
    return await importJWK({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, TELEMETRY_ALG);
  } catch (e) {
    return fail('ERR_PROTOCOL', 'the telemetry key does not import', e);
  }
}

export class TelemetryKeys {
  private cached: (TelemetryKey & { fetchedAt: number }) | undefined;

  constructor(
    private readonly cp: Pick<ControlPlane, 'telemetryKey'>,
    private readonly now: () => number,
  ) {}

  /** The current key; undefined when the fleet has none (404). Network failures throw. */
  async current(): Promise<TelemetryKey | undefined> {
    const now = this.now();
    if (this.cached && now - this.cached.fetchedAt <= KEY_REFRESH_MS) return this.cached;
    const k = await this.cp.telemetryKey();
    if (!k) {
      this.cached = undefined;
      return undefined;
    }
    this.cached = { kid: k.kid, key: await telemetryPublicKey(k.jwk), fetchedAt: now };
    return this.cached;
  }
}

export async function sealTelemetry(body: unknown, key: TelemetryKey): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(body)))
    .setProtectedHeader({ alg: TELEMETRY_ALG, enc: TELEMETRY_ENC, kid: key.kid, cty: TELEMETRY_CTY })
    .encrypt(key.key);
}
