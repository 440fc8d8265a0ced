// Appraisal: verified evidence + a snapshot of reference values → an EAR-shaped outcome. Pure
// and synchronous: the caller loads the snapshot for the device's hardware model (from the
// certificate, not from the device's own claim) and passes it in.
import type { Measurements } from './measurements.ts';
import {
  APPRAISAL_POLICY_ID,
  AR4SI,
  emptyVector,
  POLICY,
  type Reason,
  type ReasonCode,
  type Status,
  type TrustClaimName,
  type TrustVector,
  worse,
  worstTier,
} from './policy.ts';

export interface FirmwareReference {
  /** SHA-256 of the image, hex */
  readonly sha256: string;
  readonly version: string;
  /** security version number; the one judged is this, never a number the device claims */
  readonly svn: number;
  readonly retired?: boolean;
}

export interface ReferenceValues {
  /** firmware releases registered for the device's hardware model */
  readonly firmware: readonly FirmwareReference[];
  /** deny-listed firmware digests (hex), whatever their model */
  readonly deniedDigests: ReadonlySet<string>;
  /** the model's minimum SVN, if one is set */
  readonly minimumSvn?: number;
  /** known agent digests (hex); empty: the agent digest is recorded, not judged */
  readonly agentDigests: ReadonlySet<string>;
  /** whether the model has reference values at all (default: firmware is non-empty) */
  readonly hasReferenceValues?: boolean;
}

/** The part of verified evidence appraisal reads: any evidence format provides it. */
export interface AppraisalInput {
  readonly hardwareModelFromCert: string;
  readonly measurements: Measurements;
}

export interface Appraisal {
  readonly status: Status;
  readonly trustVector: TrustVector;
  /** why the status is not affirming (empty when it is) */
  readonly reasons: readonly Reason[];
  readonly policyId: string;
  readonly hardwareModel: string;
  /** the firmware as measured, with the reference it matched if any */
  readonly firmware: { readonly sha256: string; readonly version?: string; readonly svn?: number };
  /** the agent as measured; judged: false when the model has no agent references */
  readonly agent: { readonly sha256: string; readonly judged: boolean };
}

export interface AppraiseOptions {
  readonly policyId?: string;
}

const lower = (s: ReadonlySet<string>) => new Set([...s].map((d) => d.toLowerCase()));

function judgeFirmware(
  sha256: string,
  refs: ReferenceValues,
  reasons: Reason[],
): FirmwareReference | undefined {
  const add = (code: ReasonCode, detail: string) => reasons.push({ code, detail });
  if (lower(refs.deniedDigests).has(sha256)) {
    add('FirmwareDenied', `firmware ${sha256.slice(0, 16)}… is deny-listed`);
    return undefined;
  }
  const has = refs.hasReferenceValues ?? refs.firmware.length > 0;
  if (!has) {
    add('NoReferenceValues', 'no firmware reference values for this hardware model');
    return undefined;
  }
  const ref = refs.firmware.find((f) => f.sha256.toLowerCase() === sha256);
  if (!ref) {
    add('FirmwareUnknown', `firmware ${sha256.slice(0, 16)}… matches no reference value`);
    return undefined;
  }
  if (refs.minimumSvn !== undefined && ref.svn < refs.minimumSvn) {
    add('BelowMinimumSvn', `firmware ${ref.version} has SVN ${ref.svn}; the minimum is ${refs.minimumSvn}`);
  }
  if (ref.retired) add('FirmwareRetired', `firmware ${ref.version} is retired`);
  return ref;
}

export function appraise(
  evidence: AppraisalInput,
  refs: ReferenceValues,
  opts: AppraiseOptions = {},
): Appraisal {
  const reasons: Reason[] = [];
  const fw = evidence.measurements.firmware.sha256;
  const agent = evidence.measurements.agent.sha256;
  const ref = judgeFirmware(fw, refs, reasons);
  const judged = refs.agentDigests.size > 0;
  if (judged && !lower(refs.agentDigests).has(agent)) {
    reasons.push({ code: 'AgentUnknown', detail: `agent ${agent.slice(0, 16)}… matches no known agent` });
  }

  // The evidence verified: its signing key chains to our CA and is not revoked.
  const v = emptyVector();
  v['instance-identity'] = AR4SI.trustworthyInstance;
  if (ref) {
    v.hardware = AR4SI.genuineHardware;
    v.executables = judged ? AR4SI.approvedRuntime : AR4SI.approvedBoot;
  }
  for (const r of reasons) {
    for (const [name, value] of Object.entries(POLICY[r.code]) as [TrustClaimName, number][]) {
      v[name] = worse(v[name], value);
    }
  }
  const tier = worstTier(v);
  return {
    // never "none": instance-identity is always affirmed by the time we get here
    status: tier === 'none' ? 'warning' : tier,
    trustVector: Object.freeze(v),
    reasons,
    policyId: opts.policyId ?? APPRAISAL_POLICY_ID,
    hardwareModel: evidence.hardwareModelFromCert,
    firmware: ref ? { sha256: fw, version: ref.version, svn: ref.svn } : { sha256: fw },
    agent: { sha256: agent, judged },
  };
}
