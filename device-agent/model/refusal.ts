// Why a release is not used: a coded refusal, logged as `model_refused` with its code. The
// package library's codes (lib/model-package PackageError: ManifestSignatureInvalid,
// ReleaseKeyUnknown, HardwareModelNotAllowed, ModelDowngrade, PayloadDigestMismatch,
// ChunkAuthFailed, PlaintextDigestMismatch, …) pass through as they are; the agent adds the
// few it decides itself.
import { isPackageError, type PackageErrorCode } from '../../lib/model-package/index.ts';

export const AGENT_REFUSAL_CODES = [
  'ReleaseKeyRevoked', // the manifest's kid is a release key the control plane lists as revoked
  'ReleaseMismatch', // what the API said of the release (id, key id, manifest) is not what was signed
  'ModelIncompatible', // the model's metadata does not fit this agent (features, window, classes)
] as const;

export type RefusalCode = PackageErrorCode | (typeof AGENT_REFUSAL_CODES)[number];

export class ModelRefused extends Error {
  readonly code: RefusalCode;
  readonly detail: string;
  readonly chunkIndex: number | undefined;
  constructor(code: RefusalCode, detail: string, chunkIndex?: number) {
    super(`${code}: ${detail}`);
    this.name = 'ModelRefused';
    this.code = code;
    this.detail = detail;
    this.chunkIndex = chunkIndex;
  }
}

export const refuse = (code: RefusalCode, detail: string): never => {
  throw new ModelRefused(code, detail);
};

/** A PackageError or a ModelRefused as one refusal; undefined for anything else (an I/O failure, a network error). */
export function refusalOf(e: unknown): ModelRefused | undefined {
  if (e instanceof ModelRefused) return e;
  if (isPackageError(e)) return new ModelRefused(e.code, e.detail, e.chunkIndex);
  return undefined;
}

/** A refusal as log fields: its code, its (safe) detail, the failing chunk if any. */
export const refusalFields = (r: ModelRefused): Record<string, unknown> => ({
  code: r.code,
  detail: r.detail,
  ...(r.chunkIndex !== undefined ? { chunk_index: r.chunkIndex } : {}),
});
