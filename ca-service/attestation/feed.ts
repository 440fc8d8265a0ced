// Attestation state for gateways, live: which devices are affirming until when, and which
// hardware models require it. In this process: AttestationService / FirmwareService
// listeners. Across instances: NOTIFY on `edgeseal_attestation` (sent after commit by the
// instance that decided). For lone gateways: GET /v1/attestation/events (server-sent events).
import type { DeviceAttestationState, ModelRequirement } from '../core/firmware.ts';

export const ATTESTATION_CHANNEL = 'edgeseal_attestation';
const MAX_PAYLOAD = 7000;

export interface AttestationChange {
  readonly states: readonly DeviceAttestationState[];
  readonly models: readonly ModelRequirement[];
  /** reference values or policy changed: appraisals must read them again */
  readonly references?: boolean;
}

export type AttestationFeedListener = (change: AttestationChange | 'reload') => void;

/** One place every attestation change passes through, for this process's subscribers. */
export class AttestationFeed {
  private readonly listeners = new Set<AttestationFeedListener>();

  constructor(
    /** the current picture, for a subscriber that starts now */
    readonly snapshot: () => Promise<AttestationChange>,
  ) {}

  subscribe(l: AttestationFeedListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  publish(change: AttestationChange | 'reload'): void {
    if (change !== 'reload' && !change.states.length && !change.models.length) return;
    for (const l of this.listeners) l(change);
  }
}

export function encodeAttestation(origin: string, c: AttestationChange): string {
  const full = JSON.stringify({
    origin,
    states: c.states.map((s) => [s.deviceId, s.hardwareModel, s.status, s.expiresAt.getTime()]),
    models: c.models.map((m) => [m.hardwareModel, m.required]),
    ...(c.references ? { references: true } : {}),
  });
  return full.length <= MAX_PAYLOAD ? full : JSON.stringify({ origin, reload: true });
}

export function decodeAttestation(
  payload: string,
): { origin: string; change: AttestationChange | 'reload' } | undefined {
  try {
    const m = JSON.parse(payload) as {
      origin?: unknown;
      reload?: unknown;
      states?: unknown;
      models?: unknown;
      references?: unknown;
    };
    if (typeof m.origin !== 'string') return undefined;
    if (m.reload === true) return { origin: m.origin, change: 'reload' };
    if (!Array.isArray(m.states) || !Array.isArray(m.models)) return undefined;
    return {
      origin: m.origin,
      change: {
        states: (m.states as [string, string, DeviceAttestationState['status'], number][]).map(
          ([deviceId, hardwareModel, status, at]) => ({
            deviceId,
            hardwareModel,
            status,
            expiresAt: new Date(at),
          }),
        ),
        models: (m.models as [string, boolean][]).map(([hardwareModel, required]) => ({
          hardwareModel,
          required,
        })),
        references: m.references === true,
      },
    };
  } catch {
    return undefined;
  }
}

/** The SSE `data` of one state or requirement event. */
export const stateEvent = (s: DeviceAttestationState) => ({
  device_id: s.deviceId,
  hardware_model: s.hardwareModel,
  status: s.status,
  expires_at: s.expiresAt.toISOString(),
});
export const requirementEvent = (m: ModelRequirement) => ({
  hardware_model: m.hardwareModel,
  required: m.required,
});
