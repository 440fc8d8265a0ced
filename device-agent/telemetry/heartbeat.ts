// Telemetry heartbeats, only while affirming: a compact JWE (RFC 7516, ECDH-ES+A256KW /
// A256GCM) to the fleet's telemetry key, so the gateway routes what it cannot read. The key
// comes from GET /v1/telemetry-key (re-read hourly); a fleet without one gets no telemetry,
// said once in the log.
import { CompactEncrypt, importJWK, type JWK } from 'jose';
import type { Standing } from '../attest/attester.ts';
import { fail } from '../errors.ts';
import type { AgentLog } from '../log.ts';
import type { ControlPlane } from '../net/control-plane.ts';
import type { MqttLink } from '../net/mqtt-link.ts';
import type { RunResult } from '../schedule.ts';

export const TELEMETRY_ALG = 'ECDH-ES+A256KW';
export const TELEMETRY_ENC = 'A256GCM';
const KEY_REFRESH_MS = 3_600_000;
const KEY_ABSENT_RETRY_MS = 300_000;

export interface HeartbeatDeps {
  readonly cp: ControlPlane;
  readonly link: MqttLink;
  readonly topic: string;
  readonly log: AgentLog;
  readonly intervalMs: number;
  readonly now: () => Date;
  readonly standing: () => Standing;
  /** what a heartbeat says besides its sequence number and time */
  readonly facts: () => Readonly<Record<string, unknown>>;
}

type EncryptionKey = Awaited<ReturnType<typeof importJWK>>;

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

export class Heartbeat {
  private key: { kid: string; key: EncryptionKey; fetchedAt: number } | undefined;
  private saidAbsent = false;
  private seq = 0;

  constructor(private readonly d: HeartbeatDeps) {}

  /** A Job run: one heartbeat, then the interval; idle while not affirming (restarted by a result). */
  run = async (): Promise<RunResult> => {
    if (this.d.standing() !== 'affirming') return 'idle';
    if (!this.d.link.connected) return this.d.intervalMs;
    const now = this.d.now().getTime();
    if (!this.key || now - this.key.fetchedAt > KEY_REFRESH_MS) {
      const k = await this.d.cp.telemetryKey();
      if (!k) {
        if (!this.saidAbsent) this.d.log.info('telemetry_skipped', { reason: 'no_telemetry_key' });
        this.saidAbsent = true;
        this.key = undefined;
        return KEY_ABSENT_RETRY_MS;
      }
      this.key = { kid: k.kid, key: await telemetryPublicKey(k.jwk), fetchedAt: now };
      this.saidAbsent = false;
    }
    const seq = ++this.seq;
    const body = JSON.stringify({
      type: 'heartbeat',
      seq,
      time: new Date(now).toISOString(),
      ...this.d.facts(),
    });
    const jwe = await new CompactEncrypt(new TextEncoder().encode(body))
      .setProtectedHeader({
        alg: TELEMETRY_ALG,
        enc: TELEMETRY_ENC,
        kid: this.key.kid,
        cty: 'application/json',
      })
      .encrypt(this.key.key);
    const out = await this.d.link.publish(this.d.topic, jwe);
    if (out.ok) this.d.log.info('telemetry_sent', { seq, kid: this.key.kid, bytes: jwe.length });
    else if (out.reasonCode !== undefined)
      this.d.log.warn('telemetry_refused', { seq, reason_code: out.reasonCode, detail: out.error });
    else this.d.log.warn('telemetry_failed', { seq, error: out.error });
    return this.d.intervalMs;
  };
}
