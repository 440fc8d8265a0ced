// What the device says on devices/{id}/status: on every connect, on every attestation
// change, and "offline" as its will. Read by the fleet's services; no secrets in it.
import type { Standing } from './attest/attester.ts';

export type DeviceState = 'online' | 'stopping' | 'offline';

export interface StatusFacts {
  readonly state: DeviceState;
  readonly attestationStatus?: Standing;
  readonly attestationExpiresAt?: Date;
  readonly certSerial?: string;
  readonly firmwareSha256?: string;
  readonly now: Date;
}

export function statusPayload(f: StatusFacts): string {
  return JSON.stringify({
    state: f.state,
    ...(f.attestationStatus ? { attestation_status: f.attestationStatus } : {}),
    ...(f.attestationExpiresAt ? { attestation_expires_at: f.attestationExpiresAt.toISOString() } : {}),
    ...(f.certSerial ? { cert_serial: f.certSerial } : {}),
    ...(f.firmwareSha256 ? { firmware_sha256: f.firmwareSha256 } : {}),
    time: f.now.toISOString(),
  });
}

export const deviceTopics = (deviceId: string) => ({
  status: `devices/${deviceId}/status`,
  telemetry: `devices/${deviceId}/telemetry`,
  ota: `devices/${deviceId}/ota`,
  cmd: `devices/${deviceId}/cmd`,
});
