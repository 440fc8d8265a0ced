// The `measurements` claim (RFC 9711 §4.2.16) as the edgeseal EAT profile fixes it.
//
// RFC 9711 §4.2.16: an array of [content-type, content-format] pairs, the content type a CoAP
// Content-Format number, the body a text string in a JSON token. Each body here is one
// measured component (draft-ietf-rats-eat-measured-component: {"id": [name, [version]],
// "digested-measurement": [alg, base64url digest]}) serialized as JSON text. The draft's own
// Content-Format for measured-component+json is still TBD at IANA, so the profile uses the
// registered 50 (application/json, RFC 7252 §12.3) and pins the body's schema itself.
//
// Exactly two components: "firmware" (the image the agent was provisioned with) and "agent"
// (the running agent's own code). No `authorities`, `flags` or raw measurements: the draft
// says a consumer MUST reject those unless its profile defines them, and ours does not.
import { fromBase64url, isRecord } from './encoding.ts';
import { fail } from './errors.ts';

export const MEASUREMENT_CONTENT_FORMAT = 50;
export const COMPONENTS = ['firmware', 'agent'] as const;
export type ComponentName = (typeof COMPONENTS)[number];

export interface MeasuredComponent {
  readonly name: ComponentName;
  readonly version?: string;
  /** SHA-256 of the component, lowercase hex (the form reference values are registered in) */
  readonly sha256: string;
}

export type Measurements = Readonly<Record<ComponentName, MeasuredComponent>>;

/** named-information hash algorithm: text name or its IANA integer ID (RFC 6920 §9.4) */
const SHA256_ALG = new Set<unknown>(['sha-256', 1]);
const HEX64 = /^[0-9a-f]{64}$/;
const MAX_ENTRIES = 8;
const MAX_BODY = 1024;

/** Builds the claim value (agent side). */
export function measurementsClaim(
  c: Readonly<Record<ComponentName, { sha256: string; version?: string }>>,
): [number, string][] {
  return COMPONENTS.map((name) => {
    const { sha256, version } = c[name];
    if (!HEX64.test(sha256)) throw new TypeError(`${name} sha256 must be 64 lowercase hex digits`);
    const body = {
      id: version === undefined ? [name] : [name, [version]],
      'digested-measurement': ['sha-256', Buffer.from(sha256, 'hex').toString('base64url')],
    };
    return [MEASUREMENT_CONTENT_FORMAT, JSON.stringify(body)];
  });
}

const bad = (detail: string): never => fail('ClaimInvalid', `measurements: ${detail}`);

function parseComponent(body: unknown, i: number): MeasuredComponent {
  if (typeof body !== 'string' || body.length > MAX_BODY)
    return bad(`entry ${i} body must be short JSON text`);
  let mc: unknown;
  try {
    mc = JSON.parse(body);
  } catch {
    return bad(`entry ${i} body is not JSON`);
  }
  if (!isRecord(mc)) return bad(`entry ${i} is not a measured component`);
  const keys = Object.keys(mc);
  if (keys.some((k) => k !== 'id' && k !== 'digested-measurement')) {
    return bad(`entry ${i} has members this profile does not define (${keys.join(', ')})`);
  }
  const id = mc['id'];
  if (!Array.isArray(id) || id.length < 1 || id.length > 2)
    return bad(`entry ${i} id must be [name, version?]`);
  const name = id[0];
  if (!COMPONENTS.includes(name)) return bad(`entry ${i} names an unknown component`);
  let version: string | undefined;
  if (id.length === 2) {
    const v = id[1];
    // RFC 9711 §4.2.7 sw-version-type: [version, ?scheme]
    if (!Array.isArray(v) || v.length < 1 || v.length > 2 || typeof v[0] !== 'string' || v[0].length > 64) {
      return bad(`${name} version must be [text, scheme?]`);
    }
    version = v[0];
  }
  const dm = mc['digested-measurement'];
  if (!Array.isArray(dm) || dm.length !== 2 || !SHA256_ALG.has(dm[0]) || typeof dm[1] !== 'string') {
    return bad(`${name} digested-measurement must be ["sha-256", base64url]`);
  }
  const digest = fromBase64url(dm[1]);
  if (digest === undefined || digest.length !== 32) return bad(`${name} digest is not 32 base64url bytes`);
  return {
    name: name as ComponentName,
    sha256: digest.toString('hex'),
    ...(version === undefined ? {} : { version }),
  };
}

/** Reads and checks the claim value (verifier side). */
export function parseMeasurements(value: unknown): Measurements {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_ENTRIES) {
    return bad(`must be an array of 1–${MAX_ENTRIES} [content-format, body] pairs`);
  }
  const found: Partial<Record<ComponentName, MeasuredComponent>> = {};
  for (const [i, entry] of (value as unknown[]).entries()) {
    if (!Array.isArray(entry) || entry.length !== 2) bad(`entry ${i} must be [content-format, body]`);
    const pair = entry as unknown[];
    if (pair[0] !== MEASUREMENT_CONTENT_FORMAT)
      bad(`entry ${i} content-format must be ${MEASUREMENT_CONTENT_FORMAT}`);
    const mc = parseComponent(pair[1], i);
    if (found[mc.name]) bad(`${mc.name} is measured twice`);
    found[mc.name] = mc;
  }
  for (const name of COMPONENTS) {
    if (!found[name]) fail('ClaimMissing', `measurements: no ${name} measurement`);
  }
  return found as Measurements;
}
