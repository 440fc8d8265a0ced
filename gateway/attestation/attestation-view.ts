// What the gateway knows of attestation (issue 8): which hardware models require a fresh
// affirming result, and each device's latest result and when it expires. A device of such
// a model without one is quarantined: status out and ota in, nothing else (core/acl.ts).
// Fed by the control plane's attestation feed (in-process, or SSE when alone).
import type { Logger } from 'pino';
import type { Principal } from '../core/identity.ts';

export type AttestationStatus = 'affirming' | 'warning' | 'contraindicated';

export interface DeviceState {
  readonly deviceId: string;
  readonly hardwareModel: string;
  readonly status: AttestationStatus;
  /** ms since the epoch */
  readonly expiresAt: number;
}

export interface Requirement {
  readonly hardwareModel: string;
  readonly required: boolean;
}

export class AttestationView {
  private readonly states = new Map<string, DeviceState>();
  private readonly required = new Set<string>();
  private readonly listeners: ((deviceIds: readonly string[] | 'all') => void)[] = [];
  private up = false;

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  get connected(): boolean {
    return this.up;
  }

  get size(): number {
    return this.states.size;
  }

  /** Told which devices' standing may have changed (`all` after a reset). */
  onChange(l: (deviceIds: readonly string[] | 'all') => void): void {
    this.listeners.push(l);
  }

  /** A full picture: everything before is forgotten. */
  reset(states: readonly DeviceState[], requirements: readonly Requirement[]): void {
    this.states.clear();
    this.required.clear();
    this.apply(states, requirements, false);
    for (const l of this.listeners) l('all');
  }

  apply(states: readonly DeviceState[], requirements: readonly Requirement[], tell = true): void {
    for (const r of requirements) {
      if (r.required) this.required.add(r.hardwareModel);
      else this.required.delete(r.hardwareModel);
    }
    for (const st of states) this.states.set(st.deviceId, st);
    if (!tell) return;
    if (requirements.length) {
      for (const l of this.listeners) l('all');
    } else if (states.length) {
      const ids = states.map((x) => x.deviceId);
      for (const l of this.listeners) l(ids);
    }
  }

  sourceUp(): void {
    if (!this.up) this.log.info({ devices: this.states.size }, 'attestation feed connected');
    this.up = true;
  }

  sourceDown(why: string): void {
    if (this.up) this.log.warn({ why }, 'attestation feed lost; keeping the last known state');
    this.up = false;
  }

  /** Must this principal stay in quarantine now? Services never; devices as their model says. */
  quarantined(p: Principal): boolean {
    if (p.kind !== 'device') return false;
    const st = this.states.get(p.id);
    const model = p.hardwareModel ?? st?.hardwareModel;
    if (model === undefined || !this.required.has(model)) return false;
    return st?.status !== 'affirming' || st.expiresAt <= this.now();
  }

  /** The device's latest known state, for logs and health. */
  stateOf(deviceId: string): DeviceState | undefined {
    return this.states.get(deviceId);
  }
}
