// Strict decoders: Node's Buffer.from skips bad characters and ignores non-zero trailing bits
// in base64url; these refuse anything but the one canonical encoding, so a signed value has
// exactly one spelling (the same rule as attestation/encoding.ts, kept local so lib/ does not
// depend on attestation/).

const B64URL = /^[A-Za-z0-9_-]*$/;

/** base64url without padding (RFC 7515 §2, RFC 4648 §5); undefined when not canonical. */
export function fromBase64url(text: string): Buffer | undefined {
  if (!B64URL.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** A JSON object from UTF-8 bytes; undefined when not valid UTF-8, not JSON or not an object. */
export function jsonObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(utf8Strict.decode(bytes));
    return isRecord(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
