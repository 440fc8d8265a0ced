// The plaintext buffer. A fresh 100 MiB buffer costs ~50–60 ms of first-touch page faults on
// this kind of machine, paid wherever its pages are first written; allocateOutput pays them
// ahead of time (while the agent waits for the content key), so decryption writes to mapped
// pages. Either way the buffer is its own ArrayBuffer (never the shared pool): wiping it
// wipes nothing else, and the model loader can take it whole.
import { constants } from 'node:buffer';
import { fail } from './errors.ts';
import { type Manifest, parseClaims } from './manifest-claims.ts';

/** Bytes touched between two turns of the event loop in allocateOutput. */
const TOUCH_STEP = 8 * 1024 * 1024;

export function allocate(size: number): Buffer {
  if (size > constants.MAX_LENGTH)
    fail('PlaintextTooLarge', `${size} bytes is more than a buffer holds here`);
  try {
    // uninitialised is fine: every byte is written or zeroed
    return Buffer.allocUnsafeSlow(size);
  } catch (e) {
    return fail('PlaintextTooLarge', `${size} bytes could not be allocated`, e);
  }
}

export function outputView(output: Uint8Array, size: number): Buffer {
  if (!(output instanceof Uint8Array) || output.byteLength !== size)
    throw new TypeError(`output must be a Uint8Array of exactly plaintext_size (${size}) bytes`);
  return Buffer.from(output.buffer, output.byteOffset, output.byteLength);
}

/**
 * A zeroed buffer of the manifest's plaintext_size with every page already mapped, to pass as
 * the `output` of a decryption (which then skips the first-touch page faults). Touches 8 MiB
 * a turn of the event loop, so the agent keeps running meanwhile. Make it before the content
 * key arrives; it holds no secret until decryption writes to it, and decryption zeroes it on
 * failure as always.
 */
export async function allocateOutput(manifest: Manifest): Promise<Buffer> {
  const m = parseClaims(typeof manifest === 'object' && manifest !== null ? { ...manifest } : {});
  const out = allocate(m.plaintext_size);
  for (let at = 0; at < out.length; at += TOUCH_STEP) {
    out.fill(0, at, Math.min(out.length, at + TOUCH_STEP));
    if (at + TOUCH_STEP < out.length) await new Promise<void>((r) => setImmediate(r));
  }
  return out;
}
