// Strict decoders for the text encodings the evidence uses. Node's Buffer.from is lenient (it
// skips bad characters and accepts padding in base64url); these refuse anything but the one
// canonical encoding, so a value has exactly one spelling.

const B64URL = /^[A-Za-z0-9_-]*$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** base64url without padding (RFC 7515 §2, RFC 4648 §5); undefined when not canonical. */
export function fromBase64url(text: string): Buffer | undefined {
  if (!B64URL.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

/** base64 with padding (RFC 4648 §4), as x5c uses (RFC 7515 §4.1.6); undefined when not canonical. */
export function fromBase64(text: string): Buffer | undefined {
  if (text.length === 0 || text.length % 4 !== 0 || !B64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** JSON object from UTF-8 bytes; undefined when not valid UTF-8, not JSON or not an object. */
export function jsonObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(utf8Strict.decode(bytes));
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
