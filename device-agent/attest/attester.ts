// RATS challenge–response (RFC 9334 §5.2, the background-check model with the control plane as
// verifier): a fresh nonce, evidence signed by the device key, a signed result back. The
// result is kept fresh: re-attested at 2/3 of its remaining life, and at once when asked
// (a `{"type":"attest"}` command). Refusals are the Job's to retry with backoff.
import type { DeviceFile } from '../device.ts';
import type { CurrentIdentity } from '../identity/identity.ts';
import type { WrappingKey } from '../keys/wrapping-key.ts';
import type { AgentLog } from '../log.ts';
import type { Appraised, AttestationStatus, ControlPlane } from '../net/control-plane.ts';
import type { RunResult } from '../schedule.ts';
import { makeEvidence } from './evidence.ts';

/** What the device knows of its own standing; `none` before the first result, `expired` after its end. */
export type Standing = AttestationStatus | 'none' | 'expired';

export interface AttestationState extends Appraised {
  readonly receivedAt: Date;
  /** the firmware digest the evidence carried */
  readonly firmwareSha256: string;
}

/** Never re-attest sooner than this after a result, whatever its lifetime. */
const MIN_REATTEST_MS = 5_000;

/** Re-attest at 2/3 of the result's remaining life. */
export function reattestDelay(now: Date, expiresAt: Date): number {
  return Math.max(MIN_REATTEST_MS, Math.floor(((expiresAt.getTime() - now.getTime()) * 2) / 3));
}

export interface AttesterDeps {
  readonly cp: Pick<ControlPlane, 'challenge' | 'evidence'>;
  /** SHA-256 (hex) of the firmware image as it is now */
  readonly measureFirmware: () => Promise<string>;
  readonly identity: CurrentIdentity;
  readonly wrapping: WrappingKey;
  readonly device: Pick<DeviceFile, 'ueid' | 'hardware_model'>;
  readonly agentSha256: string;
  readonly log: AgentLog;
  readonly now: () => Date;
  /** a new result, or the last one running out (state undefined: expired) */
  readonly onChange: (standing: Standing, state: AttestationState | undefined) => void;
}

export class Attester {
  private latest: AttestationState | undefined;
  private dueAt = 0;
  private forced = false;
  private expiry: NodeJS.Timeout | undefined;
  /** the firmware digest as last measured (at start and before every attestation) */
  firmwareSha256: string;

  constructor(
    private readonly d: AttesterDeps,
    firmwareSha256: string,
  ) {
    this.firmwareSha256 = firmwareSha256;
  }

  get state(): AttestationState | undefined {
    return this.latest;
  }

  standing(now = this.d.now()): Standing {
    if (!this.latest) return 'none';
    return now.getTime() >= this.latest.expiresAt.getTime() ? 'expired' : this.latest.status;
  }

  /** The next run attests even if the current result is still fresh. */
  force(): void {
    this.forced = true;
  }

  /** A Job run. */
  run = async (): Promise<RunResult> => {
    const now = this.d.now();
    if (!this.forced && now.getTime() < this.dueAt) return this.dueAt - now.getTime();
    this.forced = false;
    const challenge = await this.d.cp.challenge();
    this.firmwareSha256 = await this.d.measureFirmware();
    const evidence = await makeEvidence(
      {
        nonce: challenge.nonce,
        ueid: this.d.device.ueid,
        hardwareModel: this.d.device.hardware_model,
        firmwareSha256: this.firmwareSha256,
        agentSha256: this.d.agentSha256,
        wrappingPublicKey: this.d.wrapping.publicKey,
        now: this.d.now(),
      },
      this.d.identity.get(),
    );
    const appraised = await this.d.cp.evidence(evidence);
    const received = this.d.now();
    const previous = this.latest;
    this.latest = { ...appraised, receivedAt: received, firmwareSha256: this.firmwareSha256 };
    const delay = reattestDelay(received, appraised.expiresAt);
    this.dueAt = received.getTime() + delay;
    this.d.log.info('attested', {
      status: appraised.status,
      previous_status: previous?.status ?? 'none',
      expires_at: appraised.expiresAt.toISOString(),
      reasons: appraised.reasons.map((r) => r.code),
      firmware_sha256: this.firmwareSha256,
      wrapping_kid: this.d.wrapping.kid,
      reattest_in_ms: delay,
    });
    this.watchExpiry(appraised.expiresAt, received);
    this.d.onChange(appraised.status, this.latest);
    return delay;
  };

  private watchExpiry(expiresAt: Date, now: Date): void {
    clearTimeout(this.expiry);
    const ms = expiresAt.getTime() - now.getTime();
    if (ms > 2 ** 31 - 1) return; // results live minutes; a re-attestation comes long before
    this.expiry = setTimeout(() => {
      if (this.standing() !== 'expired') return;
      this.d.log.warn('attestation_expired', { expired_at: expiresAt.toISOString() });
      this.d.onChange('expired', undefined);
    }, ms + 1);
    this.expiry.unref();
  }

  stop(): void {
    clearTimeout(this.expiry);
  }
}
