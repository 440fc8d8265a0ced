import { describe, expect, it } from 'vitest';
import { type AppraisalInput, appraise, type ReferenceValues } from './appraise.ts';
import {
  APPRAISAL_POLICY_ID,
  POLICY,
  type ReasonCode,
  type Status,
  TRUST_CLAIMS,
  tierOf,
  worstTier,
} from './policy.ts';

const FW_GOOD = '11'.repeat(32);
const FW_OLD = '22'.repeat(32);
const FW_RETIRED = '33'.repeat(32);
const FW_EVIL = '44'.repeat(32);
const FW_OTHER = '55'.repeat(32);
const AGENT = 'aa'.repeat(32);
const AGENT_OTHER = 'bb'.repeat(32);

const evidence = (firmware: string, agent = AGENT): AppraisalInput => ({
  hardwareModelFromCert: 'cam-v2',
  measurements: { firmware: { name: 'firmware', sha256: firmware }, agent: { name: 'agent', sha256: agent } },
});

const REFS: ReferenceValues = {
  firmware: [
    { sha256: FW_GOOD.toUpperCase(), version: '1.4.2', svn: 5 },
    { sha256: FW_OLD, version: '1.2.0', svn: 3 },
    { sha256: FW_RETIRED, version: '1.3.0', svn: 4, retired: true },
    { sha256: FW_EVIL, version: '1.3.1', svn: 4 },
  ],
  deniedDigests: new Set([FW_EVIL]),
  minimumSvn: 4,
  agentDigests: new Set(),
};

const CASES: {
  name: string;
  firmware: string;
  agent?: string;
  refs?: Partial<ReferenceValues>;
  status: Status;
  reasons: ReasonCode[];
  executables: number;
  hardware: number;
}[] = [
  {
    name: 'known firmware, agent not judged',
    firmware: FW_GOOD,
    status: 'affirming',
    reasons: [],
    executables: 3,
    hardware: 2,
  },
  {
    name: 'known firmware and known agent',
    firmware: FW_GOOD,
    refs: { agentDigests: new Set([AGENT]) },
    status: 'affirming',
    reasons: [],
    executables: 2,
    hardware: 2,
  },
  {
    name: 'known firmware, unknown agent',
    firmware: FW_GOOD,
    agent: AGENT_OTHER,
    refs: { agentDigests: new Set([AGENT]) },
    status: 'warning',
    reasons: ['AgentUnknown'],
    executables: 33,
    hardware: 2,
  },
  {
    name: 'unknown firmware',
    firmware: FW_OTHER,
    status: 'contraindicated',
    reasons: ['FirmwareUnknown'],
    executables: 33,
    hardware: 97,
  },
  {
    name: 'deny-listed firmware, though registered',
    firmware: FW_EVIL,
    status: 'contraindicated',
    reasons: ['FirmwareDenied'],
    executables: 96,
    hardware: 96,
  },
  {
    name: 'deny-listed firmware of a model without references',
    firmware: FW_EVIL,
    refs: { firmware: [], minimumSvn: undefined },
    status: 'contraindicated',
    reasons: ['FirmwareDenied'],
    executables: 96,
    hardware: 96,
  },
  {
    name: 'below the minimum SVN',
    firmware: FW_OLD,
    status: 'contraindicated',
    reasons: ['BelowMinimumSvn'],
    executables: 32,
    hardware: 96,
  },
  {
    name: 'retired, not denied',
    firmware: FW_RETIRED,
    status: 'warning',
    reasons: ['FirmwareRetired'],
    executables: 32,
    hardware: 32,
  },
  {
    name: 'retired and below the minimum SVN',
    firmware: FW_RETIRED,
    refs: { minimumSvn: 5 },
    status: 'contraindicated',
    reasons: ['BelowMinimumSvn', 'FirmwareRetired'],
    executables: 32,
    hardware: 96,
  },
  {
    name: 'a model without reference values',
    firmware: FW_OTHER,
    refs: { firmware: [], minimumSvn: undefined },
    status: 'warning',
    reasons: ['NoReferenceValues'],
    executables: 33,
    hardware: 0,
  },
  {
    name: 'a model marked as having no references wins over a stale list',
    firmware: FW_GOOD,
    refs: { hasReferenceValues: false },
    status: 'warning',
    reasons: ['NoReferenceValues'],
    executables: 33,
    hardware: 0,
  },
  {
    name: 'unknown firmware and unknown agent',
    firmware: FW_OTHER,
    agent: AGENT_OTHER,
    refs: { agentDigests: new Set([AGENT]) },
    status: 'contraindicated',
    reasons: ['FirmwareUnknown', 'AgentUnknown'],
    executables: 33,
    hardware: 97,
  },
];

describe('appraise', () => {
  it.each(CASES)('$name → $status', (c) => {
    const a = appraise(evidence(c.firmware, c.agent), { ...REFS, ...c.refs });
    expect(a.status).toBe(c.status);
    expect(a.reasons.map((r) => r.code)).toEqual(c.reasons);
    expect(a.trustVector.executables).toBe(c.executables);
    expect(a.trustVector.hardware).toBe(c.hardware);
    expect(a.trustVector['instance-identity']).toBe(2);
    // EAR: the status is the worst tier in the vector
    expect(worstTier(a.trustVector)).toBe(c.status);
    expect(Object.keys(a.trustVector)).toEqual([...TRUST_CLAIMS]);
    expect(a.policyId).toBe(APPRAISAL_POLICY_ID);
    for (const r of a.reasons) expect(r.detail.length).toBeGreaterThan(0);
  });

  it('records the matched reference (SVN from the reference value) and whether the agent was judged', () => {
    const a = appraise(evidence(FW_GOOD), REFS);
    expect(a.firmware).toEqual({ sha256: FW_GOOD, version: '1.4.2', svn: 5 });
    expect(a.agent).toEqual({ sha256: AGENT, judged: false });
    expect(appraise(evidence(FW_OTHER), REFS).firmware).toEqual({ sha256: FW_OTHER });
  });

  it('takes a policy id and is pure: the same input gives the same output', () => {
    const refs = { ...REFS, agentDigests: new Set([AGENT]) };
    const a = appraise(evidence(FW_GOOD), refs, { policyId: 'p-2' });
    expect(a).toEqual(appraise(evidence(FW_GOOD), refs, { policyId: 'p-2' }));
    expect(a.policyId).toBe('p-2');
  });
});

describe('policy table', () => {
  it('puts each reason in the tier the issue names', () => {
    const tierOfReason = (code: ReasonCode) =>
      Object.values(POLICY[code]).reduce<string>((w, v) => {
        const order = ['none', 'affirming', 'warning', 'contraindicated'];
        const t = tierOf(v);
        return order.indexOf(t) > order.indexOf(w) ? t : w;
      }, 'none');
    expect(tierOfReason('FirmwareUnknown')).toBe('contraindicated');
    expect(tierOfReason('FirmwareDenied')).toBe('contraindicated');
    expect(tierOfReason('BelowMinimumSvn')).toBe('contraindicated');
    expect(tierOfReason('FirmwareRetired')).toBe('warning');
    expect(tierOfReason('AgentUnknown')).toBe('warning');
    expect(tierOfReason('NoReferenceValues')).toBe('warning');
  });

  it.each([
    [0, 'none'],
    [1, 'none'],
    [-1, 'none'],
    [2, 'affirming'],
    [31, 'affirming'],
    [-32, 'affirming'],
    [32, 'warning'],
    [95, 'warning'],
    [-33, 'warning'],
    [96, 'contraindicated'],
    [127, 'contraindicated'],
    [-97, 'contraindicated'],
  ])('AR4SI claim %i is %s', (v, tier) => {
    expect(tierOf(v)).toBe(tier);
  });
});
