// What the gateway demands of a message body before routing it. Telemetry must be a
// well-formed JWE (RFC 7516), compact or JSON serialization: the gateway checks the shape
// and never tries to decrypt. Every payload has a size limit.
import type { Principal } from './identity.ts';

export type PayloadVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'payload_too_large' | 'payload_not_jwe'; readonly detail: string };

const B64URL = /^[A-Za-z0-9_-]*$/;

function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const headerOk = (h: Record<string, unknown> | undefined) =>
  !!h && typeof h.alg === 'string' && typeof h.enc === 'string';

/** RFC 7516 §7.1: BASE64URL(header).key.iv.ciphertext.tag — key is empty for "dir". */
function isCompactJwe(s: string): boolean {
  const parts = s.split('.');
  if (parts.length !== 5 || !parts.every((p) => B64URL.test(p))) return false;
  const [h, , iv, ct, tag] = parts as [string, string, string, string, string];
  if (!h || !iv || !tag || ct === undefined) return false;
  return headerOk(jsonObject(Buffer.from(h, 'base64url').toString('utf8')));
}

/** RFC 7516 §7.2: general or flattened JSON serialization. */
function isJsonJwe(o: Record<string, unknown>): boolean {
  const b64 = (v: unknown) => typeof v === 'string' && B64URL.test(v);
  if (!b64(o.ciphertext) || !b64(o.iv) || !b64(o.tag)) return false;
  const prot =
    typeof o.protected === 'string' && B64URL.test(o.protected)
      ? jsonObject(Buffer.from(o.protected, 'base64url').toString('utf8'))
      : undefined;
  const shared = { ...(o.unprotected as object), ...prot };
  if (Array.isArray(o.recipients)) {
    return (
      o.recipients.length > 0 &&
      o.recipients.every((r) => {
        const per = r && typeof r === 'object' ? (r as Record<string, unknown>).header : undefined;
        return headerOk({ ...shared, ...(per as object) });
      })
    );
  }
  return headerOk({ ...shared, ...(o.header as object) });
}

export function isJwe(payload: Buffer): boolean {
  if (payload.length === 0) return false;
  const text = payload.toString('utf8');
  if (text[0] === '{') {
    const o = jsonObject(text);
    return !!o && isJsonJwe(o);
  }
  return isCompactJwe(text.trim());
}

export function checkPayload(p: Principal, topic: string, payload: Buffer, maxBytes: number): PayloadVerdict {
  if (payload.length > maxBytes) {
    return {
      ok: false,
      reason: 'payload_too_large',
      detail: `payload of ${payload.length} bytes exceeds ${maxBytes}`,
    };
  }
  if (p.kind === 'device' && topic.endsWith('/telemetry') && !isJwe(payload)) {
    return { ok: false, reason: 'payload_not_jwe', detail: 'telemetry must be a JWE (RFC 7516)' };
  }
  return { ok: true };
}
