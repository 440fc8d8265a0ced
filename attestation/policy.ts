// The appraisal policy as data: which reason moves which AR4SI trustworthiness claim to which
// value. Values are draft-ietf-rats-ar4si §2.3.4's (the same constants veraison/ear uses);
// tiers by §2.3.2: 0 no claim, 2–31 affirming, 32–95 warning, 96–127 contraindicated
// (negatives: the same tiers for non-standard reasons; -1 and 1 are "none").

/** ear.appraisal-policy-id of results appraised by this table; bump it when the table changes */
export const APPRAISAL_POLICY_ID = 'tag:edgeseal.dev,2026:appraisal-policy/firmware-v1';

export const TRUST_CLAIMS = [
  'instance-identity',
  'configuration',
  'executables',
  'file-system',
  'hardware',
  'runtime-opaque',
  'storage-opaque',
  'sourced-data',
] as const;
export type TrustClaimName = (typeof TRUST_CLAIMS)[number];
export type TrustVector = Readonly<Record<TrustClaimName, number>>;

export type Tier = 'none' | 'affirming' | 'warning' | 'contraindicated';
/** EAR ear.status: a tier, and never "none" for a result we sign */
export type Status = Exclude<Tier, 'none'>;

/** AR4SI values used here, named as in the draft */
export const AR4SI = {
  noClaim: 0,
  // instance-identity
  trustworthyInstance: 2,
  // executables
  approvedRuntime: 2, // boot and run time: firmware and agent both recognized
  approvedBoot: 3, // boot time only: firmware recognized, agent not judged
  unsafeRuntime: 32, // recognized, but known vulnerabilities
  unrecognizedRuntime: 33,
  contraindicatedRuntime: 96,
  // hardware (hardware and firmware)
  genuineHardware: 2,
  unsafeHardware: 32,
  contraindicatedHardware: 96,
  unrecognizedHardware: 97, // "does not recognize … but it should be recognized"
} as const;

export type ReasonCode =
  | 'FirmwareDenied'
  | 'FirmwareUnknown'
  | 'BelowMinimumSvn'
  | 'FirmwareRetired'
  | 'AgentUnknown'
  | 'NoReferenceValues';

export interface Reason {
  readonly code: ReasonCode;
  readonly detail: string;
}

/** Each reason's mark on the vector. Status is then the worst tier in the vector. */
export const POLICY: Readonly<Record<ReasonCode, Partial<TrustVector>>> = {
  // a digest a security-admin deny-listed: contraindicated whatever else is known about it
  FirmwareDenied: { hardware: AR4SI.contraindicatedHardware, executables: AR4SI.contraindicatedRuntime },
  // the model has reference values and this digest is none of them
  FirmwareUnknown: { hardware: AR4SI.unrecognizedHardware, executables: AR4SI.unrecognizedRuntime },
  // a registered firmware whose SVN (from the reference value, never from the device) is
  // below the model's minimum: known vulnerable, refused
  BelowMinimumSvn: { hardware: AR4SI.contraindicatedHardware, executables: AR4SI.unsafeRuntime },
  // retired but not denied: still genuine, no longer current
  FirmwareRetired: { hardware: AR4SI.unsafeHardware, executables: AR4SI.unsafeRuntime },
  // agent references exist for the model and the running agent is none of them
  AgentUnknown: { executables: AR4SI.unrecognizedRuntime },
  // nothing to compare the firmware with: it cannot be affirmed, but nothing says it is bad
  NoReferenceValues: { executables: AR4SI.unrecognizedRuntime },
};

const TIER_RANK: Readonly<Record<Tier, number>> = { none: 0, affirming: 1, warning: 2, contraindicated: 3 };

/** AR4SI §2.3.2 enumeration ranges → tier */
export function tierOf(v: number): Tier {
  if (v >= -1 && v <= 1) return 'none';
  if ((v >= 2 && v <= 31) || (v >= -32 && v <= -2)) return 'affirming';
  if ((v >= 32 && v <= 95) || (v >= -96 && v <= -33)) return 'warning';
  return 'contraindicated';
}

/** the worse of two claims (AR4SI §2.3.3: contraindicated before warning before affirming) */
export function worse(a: number, b: number): number {
  const ra = TIER_RANK[tierOf(a)];
  const rb = TIER_RANK[tierOf(b)];
  return ra !== rb ? (ra > rb ? a : b) : Math.max(a, b);
}

export function worstTier(vector: TrustVector): Tier {
  let worst: Tier = 'none';
  for (const name of TRUST_CLAIMS) {
    const t = tierOf(vector[name]);
    if (TIER_RANK[t] > TIER_RANK[worst]) worst = t;
  }
  return worst;
}

export const emptyVector = (): Record<TrustClaimName, number> =>
  Object.fromEntries(TRUST_CLAIMS.map((n) => [n, AR4SI.noClaim])) as Record<TrustClaimName, number>;
