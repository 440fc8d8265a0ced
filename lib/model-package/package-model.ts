// Making a package: encrypt the model chunk by chunk under the content key, sign the manifest
// with the release key, lay out the container. Randomness (package id, nonce base) and time
// may be passed in, so tests can fix them.
import { createCipheriv, createHash, type KeyObject, randomBytes } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import {
  chunkAad,
  chunkCountFor,
  chunkLength,
  chunkNonce,
  DEFAULT_CHUNK_SIZE,
  ENC,
  KEY_BYTES,
  NONCE_BYTES,
  PACKAGE_ID_BYTES,
  payloadSizeFor,
  TAG_BYTES,
} from './chunks.ts';
import { encodePackage } from './format.ts';
import { signManifest } from './manifest.ts';
import { type Manifest, type ManifestInput, parseClaims } from './manifest-claims.ts';

export interface PackageModelOptions {
  /** the model file's bytes (.onnx) */
  readonly plaintext: Uint8Array;
  readonly manifest: ManifestInput;
  /** 32 random bytes, used for this package only */
  readonly contentKey: Uint8Array;
  /** P-256 private key; the manifest's kid is its RFC 7638 thumbprint */
  readonly releaseKey: KeyObject;
  /** the content key wrapped to the key service (wrapContentKey with this packageId) */
  readonly keyEnvelope?: string;
  /** default 4 MiB */
  readonly chunkSize?: number;
  /** 16 bytes base64url (newPackageId()); default random. Needed first to bind a key envelope. */
  readonly packageId?: string;
  /** 12 bytes; default random. Fixed only for test vectors. */
  readonly nonceBase?: Uint8Array;
  readonly now?: Date;
}

export const newPackageId = (): string => randomBytes(PACKAGE_ID_BYTES).toString('base64url');

function envelopePackageId(envelope: string): unknown {
  try {
    return decodeProtectedHeader(envelope)['package_id'];
  } catch {
    return undefined; // opaque to the format: only an envelope that names a package is checked
  }
}

function encryptPayload(m: Manifest, plaintext: Uint8Array, key: Uint8Array): Buffer {
  const payload = Buffer.allocUnsafeSlow(payloadSizeFor(m.plaintext_size, m.chunk_count));
  const packageId = Buffer.from(m.package_id, 'base64url');
  const nonceBase = Buffer.from(m.nonce_base, 'base64url');
  let from = 0;
  let to = 0;
  for (let i = 0; i < m.chunk_count; i++) {
    const len = chunkLength(m.plaintext_size, m.chunk_size, i);
    const c = createCipheriv('aes-256-gcm', key, chunkNonce(nonceBase, i), { authTagLength: TAG_BYTES });
    c.setAAD(chunkAad(packageId, i, m.chunk_count));
    to += c.update(plaintext.subarray(from, from + len)).copy(payload, to);
    c.final();
    to += c.getAuthTag().copy(payload, to);
    from += len;
  }
  return payload;
}

/** Encrypts and signs a model into a package (the whole file, key envelope included if given). */
export async function packageModel(o: PackageModelOptions): Promise<Buffer> {
  if (!(o.plaintext instanceof Uint8Array)) throw new TypeError('plaintext must be a Uint8Array');
  if (!(o.contentKey instanceof Uint8Array) || o.contentKey.byteLength !== KEY_BYTES)
    throw new TypeError(`contentKey must be ${KEY_BYTES} bytes`);
  if (o.nonceBase !== undefined && o.nonceBase.byteLength !== NONCE_BYTES)
    throw new TypeError(`nonceBase must be ${NONCE_BYTES} bytes`);
  const packageId = o.packageId ?? newPackageId();
  if (o.keyEnvelope !== undefined) {
    const bound = envelopePackageId(o.keyEnvelope);
    if (bound !== undefined && bound !== packageId)
      throw new TypeError('keyEnvelope is bound to another package id: pass that packageId');
  }
  const chunkSize = o.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const size = o.plaintext.byteLength;
  const placeholder = '0'.repeat(64);
  // parsed before the work, so bad input (no hardware model, a bad chunk size) fails at once
  const draft = parseClaims({
    ...o.manifest, // first: the computed claims below always win
    package_id: packageId,
    enc: ENC,
    chunk_size: chunkSize,
    chunk_count: chunkCountFor(size, chunkSize),
    plaintext_size: size,
    plaintext_sha256: placeholder,
    payload_sha256: placeholder,
    nonce_base: Buffer.from(o.nonceBase ?? randomBytes(NONCE_BYTES)).toString('base64url'),
    iat: Math.floor((o.now ?? new Date()).getTime() / 1000),
  });
  const payload = encryptPayload(draft, o.plaintext, o.contentKey);
  const manifest: Manifest = {
    ...draft,
    plaintext_sha256: createHash('sha256').update(o.plaintext).digest('hex'),
    payload_sha256: createHash('sha256').update(payload).digest('hex'),
  };
  return encodePackage(await signManifest(manifest, o.releaseKey), o.keyEnvelope, payload);
}
