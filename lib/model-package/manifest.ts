// The manifest as a compact JWS (RFC 7515), ES256 (RFC 7518 §3.4) by a release key whose
// RFC 7638 thumbprint is the kid. Order of the checks, cheapest and least trusting first:
// size, shape, header, key, signature, claims, then what the caller asked about (hardware
// model, firmware, model id, downgrade). Claims are only read after the signature verified.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { CompactSign, compactVerify, errors as joseErrors } from 'jose';
import { fromBase64url, jsonObject } from './encoding.ts';
import { fail } from './errors.ts';
import { type Manifest, parseClaims } from './manifest-claims.ts';
import { isP256, p256Thumbprint } from './thumbprint.ts';

export const MANIFEST_ALG = 'ES256';
// RFC 7515 §4.1.9: typ omits "application/"; compared case-insensitively as a MIME type
export const MANIFEST_TYP = 'edgeseal-manifest+jwt';
const TYPES = new Set([MANIFEST_TYP, `application/${MANIFEST_TYP}`]);
/** io and drift (a training distribution) fit in a few KiB; anything near this is not ours */
export const MAX_MANIFEST_BYTES = 256 * 1024;

/**
 * The only protected header parameters accepted. The key is found by kid in the caller's
 * release keys and nowhere else: jwk, jku, x5u, x5c would bring their own key; crit
 * (RFC 7515 §4.1.11) and b64 (RFC 7797) would change what is signed. All are refused.
 */
const HEADER_ALLOWED = new Set(['alg', 'kid', 'typ']);
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const ES256_SIGNATURE_BYTES = 64;

export type ReleaseKeys = ReadonlyMap<string, KeyObject> | ((kid: string) => KeyObject | undefined);

export interface VerifyManifestOptions {
  /** release keys by kid (RFC 7638 thumbprint), e.g. from the TUF-style release key chain */
  readonly releaseKeys: ReleaseKeys;
  readonly now: Date;
  /** the device's hardware model: must be in hardware_models */
  readonly hardwareModel?: string;
  /** the device's firmware SVN: must be ≥ min_firmware_svn when the manifest sets one */
  readonly firmwareSvn?: number;
  /** the model the caller expects (an agent provisioned for one model) */
  readonly modelId?: string;
  /** the release_counter of the release the device runs: a lower one is a downgrade */
  readonly minReleaseCounter?: number;
  /** allowed clock difference for iat, seconds (default 300) */
  readonly clockSkewSeconds?: number;
}

/** The kid of a release key's manifests: its RFC 7638 thumbprint. */
export const releaseKeyId = (key: KeyObject): string => p256Thumbprint(key);

/** Signs claims as a manifest. Claims we would refuse to read are refused here (ManifestMalformed). */
export async function signManifest(manifest: Manifest, releaseKey: KeyObject): Promise<string> {
  if (releaseKey?.type !== 'private' || !isP256(releaseKey))
    throw new TypeError('releaseKey must be a P-256 private KeyObject');
  const claims = parseClaims({ ...manifest });
  const jws = await new CompactSign(Buffer.from(JSON.stringify(claims)))
    .setProtectedHeader({ alg: MANIFEST_ALG, kid: releaseKeyId(releaseKey), typ: MANIFEST_TYP })
    .sign(releaseKey);
  if (jws.length > MAX_MANIFEST_BYTES)
    fail('ManifestMalformed', `manifest is ${jws.length} bytes; at most ${MAX_MANIFEST_BYTES}`);
  return jws;
}

function header(segment: string): { kid: string } {
  const h = jsonObject(fromBase64url(segment) ?? Buffer.alloc(0));
  if (!h) return fail('ManifestMalformed', 'protected header is not a JSON object');
  if (h['alg'] !== MANIFEST_ALG)
    fail('AlgorithmNotAllowed', `alg ${JSON.stringify(h['alg'])?.slice(0, 16)} is not allowed; ES256 only`);
  for (const name of Object.keys(h)) {
    if (!HEADER_ALLOWED.has(name))
      fail('ManifestHeaderNotAllowed', `header parameter "${name.slice(0, 16)}" is not allowed`);
  }
  const typ = h['typ'];
  if (typeof typ !== 'string' || !TYPES.has(typ.toLowerCase()))
    fail('ManifestHeaderNotAllowed', `typ must be ${MANIFEST_TYP}`);
  const kid = h['kid'];
  if (typeof kid !== 'string' || kid.length === 0 || kid.length > 128)
    fail('ManifestMalformed', 'kid must be a release key thumbprint');
  return { kid: kid as string };
}

function releaseKey(keys: ReleaseKeys, kid: string): KeyObject {
  const key = typeof keys === 'function' ? keys(kid) : keys.get(kid);
  if (key == null) return fail('ReleaseKeyUnknown', `no release key ${kid.slice(0, 64)}`);
  // a key set built from outside data (a key chain) could register a key under another's kid
  if (!isP256(key) || releaseKeyId(key) !== kid)
    fail(
      'ReleaseKeyUnknown',
      `the key registered as ${kid.slice(0, 64)} is not the P-256 key of that thumbprint`,
    );
  return key.type === 'private' ? createPublicKey(key) : key;
}

async function verifySignature(jws: string, key: KeyObject): Promise<Uint8Array> {
  try {
    return (await compactVerify(jws, key, { algorithms: [MANIFEST_ALG] })).payload;
  } catch (e) {
    if (e instanceof joseErrors.JWSSignatureVerificationFailed || e instanceof joseErrors.JWSInvalid)
      return fail('ManifestSignatureInvalid', 'signature does not verify under the release key', e);
    return fail('ManifestMalformed', 'manifest could not be verified', e);
  }
}

/** Verifies a manifest JWS and what the caller asked of it. Throws PackageError with the reason. */
export async function verifyManifest(jws: string, opts: VerifyManifestOptions): Promise<Manifest> {
  if (!(opts?.now instanceof Date) || Number.isNaN(opts.now.getTime()))
    throw new TypeError('opts.now must be a valid Date');
  if (typeof opts.releaseKeys !== 'function' && !(opts.releaseKeys instanceof Map))
    throw new TypeError('opts.releaseKeys must be a Map or a function of kid');
  if (typeof jws !== 'string' || jws.length > MAX_MANIFEST_BYTES || !COMPACT_JWS.test(jws))
    fail('ManifestMalformed', 'manifest is not a compact JWS (base64url header.payload.signature)');
  const [h, p, s] = jws.split('.') as [string, string, string];
  const { kid } = header(h);
  const key = releaseKey(opts.releaseKeys, kid);
  // one spelling per manifest: jose would accept non-canonical trailing bits in any segment
  if (fromBase64url(p) === undefined) fail('ManifestMalformed', 'payload is not canonical base64url');
  if (fromBase64url(s)?.length !== ES256_SIGNATURE_BYTES)
    fail('ManifestSignatureInvalid', 'signature is not 64 bytes of canonical base64url');
  const payload = await verifySignature(jws, key);
  const claims = jsonObject(payload) ?? fail('ManifestMalformed', 'payload is not a JSON object');
  const m = parseClaims(claims);
  const skew = opts.clockSkewSeconds ?? 300;
  if (m.iat > Math.floor(opts.now.getTime() / 1000) + skew)
    fail('ManifestIssuedInFuture', `manifest was issued at ${m.iat}, later than now`);
  if (opts.hardwareModel !== undefined && !m.hardware_models.includes(opts.hardwareModel))
    fail('HardwareModelNotAllowed', `package is not for hardware model ${opts.hardwareModel.slice(0, 128)}`);
  if (
    opts.firmwareSvn !== undefined &&
    m.min_firmware_svn !== undefined &&
    !(opts.firmwareSvn >= m.min_firmware_svn)
  )
    fail('BelowMinimumFirmwareSvn', `package needs firmware SVN ≥ ${m.min_firmware_svn}`);
  if (opts.modelId !== undefined && m.model_id !== opts.modelId)
    fail('ModelMismatch', `package is model ${m.model_id}, not ${opts.modelId.slice(0, 128)}`);
  if (opts.minReleaseCounter !== undefined && m.release_counter < opts.minReleaseCounter)
    fail('ModelDowngrade', `release counter ${m.release_counter} is below ${opts.minReleaseCounter}`);
  return m;
}
