// The manifest's claims: their types and the one parser that decides whether a set of claims
// is acceptable. The writer runs it before signing (we never sign what we would refuse to
// read) and the reader after the signature verified. Unknown claims are refused, not ignored:
// a reader that skipped a claim it does not know might skip a restriction.
import { fail } from './errors.ts';
import {
  chunkCountFor,
  ENC,
  MAX_CHUNK_COUNT,
  MAX_CHUNK_SIZE,
  MIN_CHUNK_SIZE,
  NONCE_BYTES,
  PACKAGE_ID_BYTES,
} from './chunks.ts';
import { fromBase64url, isRecord } from './encoding.ts';

/** One input or output of the model, as onnxruntime reports it (symbolic dimensions as names). */
export interface TensorSpec {
  readonly name: string;
  /** element type, e.g. "float32" */
  readonly type: string;
  readonly shape: readonly (number | string)[];
}

export interface ModelIo {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
}

export interface Manifest {
  /** 16 random bytes, base64url: bound into every chunk's AAD and into the key envelope */
  readonly package_id: string;
  readonly model_id: string;
  readonly version: string;
  /** monotonic per model_id; a device refuses a lower one than it runs (ModelDowngrade) */
  readonly release_counter: number;
  readonly hardware_models: readonly string[];
  readonly min_firmware_svn?: number;
  /** the key service's id for the content key: what the device asks key release for */
  readonly content_key_id: string;
  readonly enc: typeof ENC;
  readonly chunk_size: number;
  readonly chunk_count: number;
  readonly plaintext_size: number;
  /** lowercase hex, comparable with sha256sum of the .onnx */
  readonly plaintext_sha256: string;
  /** lowercase hex, over the payload section (chunks with their tags) */
  readonly payload_sha256: string;
  /** 12 random bytes, base64url */
  readonly nonce_base: string;
  readonly io: ModelIo;
  /** opaque to this library: statistic, threshold, training distribution */
  readonly drift: Readonly<Record<string, unknown>>;
  /** NumericDate (seconds) the package was made */
  readonly iat: number;
}

/** The claims the caller of packageModel supplies; the rest are computed. */
export type ManifestInput = Pick<
  Manifest,
  'model_id' | 'version' | 'release_counter' | 'hardware_models' | 'content_key_id' | 'io' | 'drift'
> & { readonly min_firmware_svn?: number | undefined };

const REQUIRED = [
  'package_id',
  'model_id',
  'version',
  'release_counter',
  'hardware_models',
  'content_key_id',
  'enc',
  'chunk_size',
  'chunk_count',
  'plaintext_size',
  'plaintext_sha256',
  'payload_sha256',
  'nonce_base',
  'io',
  'drift',
  'iat',
] as const;
const KNOWN = new Set<string>([...REQUIRED, 'min_firmware_svn']);

// C0, DEL and C1 controls: nothing a name needs, and what a log or terminal would misread
const CONTROL = /\p{Cc}/u;
const HEX_SHA256 = /^[0-9a-f]{64}$/;
const MAX_TENSORS = 1024;
const MAX_RANK = 64;

const bad = (claim: string, why: string): never => fail('ManifestMalformed', `claim ${claim} ${why}`);

function text(v: unknown, claim: string, max: number): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max || CONTROL.test(v))
    bad(claim, `must be a non-empty string of at most ${max} characters without control characters`);
  return v as string;
}

function int(v: unknown, claim: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max)
    bad(claim, `must be an integer in [${min}, ${max}]`);
  return v as number;
}

function randomId(v: unknown, claim: string, bytes: number): string {
  const decoded = typeof v === 'string' ? fromBase64url(v) : undefined;
  if (decoded?.length !== bytes) bad(claim, `must be ${bytes} bytes in canonical base64url`);
  return v as string;
}

function digest(v: unknown, claim: string): string {
  if (typeof v !== 'string' || !HEX_SHA256.test(v)) bad(claim, 'must be a SHA-256 in lowercase hex');
  return v as string;
}

function exactKeys(o: Record<string, unknown>, keys: readonly string[], claim: string): void {
  for (const k of Object.keys(o))
    if (!keys.includes(k)) bad(claim, `has an unknown member "${k.slice(0, 32)}"`);
  for (const k of keys) if (!(k in o)) bad(claim, `lacks "${k}"`);
}

function tensors(v: unknown, claim: string): TensorSpec[] {
  if (!Array.isArray(v) || v.length > MAX_TENSORS) bad(claim, `must be a list of at most ${MAX_TENSORS}`);
  return (v as unknown[]).map((t, i) => {
    const at = `${claim}[${i}]`;
    if (!isRecord(t)) return bad(at, 'must be an object');
    exactKeys(t, ['name', 'type', 'shape'], at);
    const shape = t['shape'];
    if (!Array.isArray(shape) || shape.length > MAX_RANK)
      bad(`${at}.shape`, `must be a list of at most ${MAX_RANK}`);
    return {
      name: text(t['name'], `${at}.name`, 256),
      type: text(t['type'], `${at}.type`, 64),
      shape: (shape as unknown[]).map((d, j) =>
        typeof d === 'string' ? text(d, `${at}.shape[${j}]`, 128) : int(d, `${at}.shape[${j}]`, 0),
      ),
    };
  });
}

function io(v: unknown): ModelIo {
  if (!isRecord(v)) return bad('io', 'must be an object');
  exactKeys(v, ['inputs', 'outputs'], 'io');
  return { inputs: tensors(v['inputs'], 'io.inputs'), outputs: tensors(v['outputs'], 'io.outputs') };
}

function hardwareModels(v: unknown): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > 256)
    bad('hardware_models', 'must be a list of 1 to 256 names');
  const names = (v as unknown[]).map((m, i) => text(m, `hardware_models[${i}]`, 128));
  if (new Set(names).size !== names.length) bad('hardware_models', 'has duplicates');
  return names;
}

/** Parses claims into a Manifest, or throws ManifestMalformed naming the claim. */
export function parseClaims(c: Record<string, unknown>): Manifest {
  for (const k of Object.keys(c)) if (!KNOWN.has(k)) bad(k.slice(0, 32), 'is not a manifest claim');
  for (const k of REQUIRED) if (c[k] === undefined) bad(k, 'is missing');
  if (c['enc'] !== ENC) bad('enc', `must be ${ENC}`);
  const chunkSize = int(c['chunk_size'], 'chunk_size', MIN_CHUNK_SIZE, MAX_CHUNK_SIZE);
  // 2^48 (256 TiB) keeps every size and offset derived from it a safe integer
  const plaintextSize = int(c['plaintext_size'], 'plaintext_size', 0, 2 ** 48);
  const chunkCount = int(c['chunk_count'], 'chunk_count', 1, MAX_CHUNK_COUNT);
  if (chunkCount !== chunkCountFor(plaintextSize, chunkSize))
    bad('chunk_count', `is not the number of ${chunkSize}-byte chunks in ${plaintextSize} bytes`);
  if (!isRecord(c['drift'])) bad('drift', 'must be an object');
  const m: Manifest = {
    package_id: randomId(c['package_id'], 'package_id', PACKAGE_ID_BYTES),
    model_id: text(c['model_id'], 'model_id', 128),
    version: text(c['version'], 'version', 64),
    release_counter: int(c['release_counter'], 'release_counter', 0),
    hardware_models: hardwareModels(c['hardware_models']),
    ...(c['min_firmware_svn'] === undefined
      ? {}
      : { min_firmware_svn: int(c['min_firmware_svn'], 'min_firmware_svn', 0) }),
    content_key_id: text(c['content_key_id'], 'content_key_id', 256),
    enc: ENC,
    chunk_size: chunkSize,
    chunk_count: chunkCount,
    plaintext_size: plaintextSize,
    plaintext_sha256: digest(c['plaintext_sha256'], 'plaintext_sha256'),
    payload_sha256: digest(c['payload_sha256'], 'payload_sha256'),
    nonce_base: randomId(c['nonce_base'], 'nonce_base', NONCE_BYTES),
    io: io(c['io']),
    drift: c['drift'] as Record<string, unknown>,
    iat: int(c['iat'], 'iat', 0),
  };
  return Object.freeze(m);
}
