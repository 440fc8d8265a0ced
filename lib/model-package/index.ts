// Encrypted model packages (issue 9 item 3): a pure library, bytes in, a typed result or a
// coded PackageError out; no files, no network, no environment. See README.md.
export {
  chunkAad,
  chunkCountFor,
  chunkNonce,
  DEFAULT_CHUNK_SIZE,
  ENC,
  MAX_CHUNK_SIZE,
  MIN_CHUNK_SIZE,
  payloadSizeFor,
  TAG_BYTES,
} from './chunks.ts';
export { checkPayload, type DecryptOptions, decryptPackage } from './decrypt.ts';
export { type DecryptReaderOptions, decryptReader, type PayloadReader } from './decrypt-reader.ts';
export { type DecryptStreamOptions, decryptStream } from './decrypt-stream.ts';
export { isPackageError, PACKAGE_ERROR_CODES, PackageError, type PackageErrorCode } from './errors.ts';
export {
  encodePackage,
  FORMAT_VERSION,
  MAGIC,
  MAX_ENVELOPE_BYTES,
  MAX_HEAD_BYTES,
  type PackageHead,
  type PackageHeader,
  type PackageParts,
  readPackage,
  readPackageHead,
  stripKeyEnvelope,
} from './format.ts';
export { HashThread } from './hash-thread.ts';
export { ENVELOPE_ALG, ENVELOPE_ENC, unwrapContentKey, wrapContentKey } from './key-envelope.ts';
export {
  MANIFEST_ALG,
  MANIFEST_TYP,
  MAX_MANIFEST_BYTES,
  type ReleaseKeys,
  releaseKeyId,
  signManifest,
  type VerifyManifestOptions,
  verifyManifest,
} from './manifest.ts';
export type { Manifest, ManifestInput, ModelIo, TensorSpec } from './manifest-claims.ts';
export { allocateOutput } from './output.ts';
export { newPackageId, type PackageModelOptions, packageModel } from './package-model.ts';
