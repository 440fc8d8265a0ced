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

// base64url alphabet as a byte table: the compact form is checked without making strings
const B64URL_BYTE = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_')
  B64URL_BYTE[c.charCodeAt(0)] = 1;
const DOT = 0x2e;

// A device sends the same protected header with every message: remember the verdicts.
const headerVerdicts = new Map<string, boolean>();

/** RFC 7516 §7.1: BASE64URL(header).key.iv.ciphertext.tag — key is empty for "dir". */
function isCompactJwe(b: Buffer): boolean {
  let end = b.length;
  while (end > 0 && (b[end - 1] === 0x0a || b[end - 1] === 0x0d)) end--; // a trailing newline (mosquitto_pub -f)
  const dots: number[] = [];
  for (let i = 0; i < end; i++) {
    const c = b[i]!;
    if (c === DOT) {
      if (dots.push(i) > 4) return false;
    } else if (!B64URL_BYTE[c]) return false;
  }
  if (dots.length !== 4) return false;
  const [d1, d2, d3, d4] = dots as [number, number, number, number];
  // header, iv and tag are not empty; the encrypted key (dir) and ciphertext may be
  if (d1 === 0 || d3 === d2 + 1 || d4 === end - 1) return false;
  const h = b.toString('latin1', 0, d1);
  let ok = headerVerdicts.get(h);
  if (ok === undefined) {
    ok = headerOk(jsonObject(Buffer.from(h, 'base64url').toString('utf8')));
    if (headerVerdicts.size >= 1024) headerVerdicts.clear();
    headerVerdicts.set(h, ok);
  }
  return ok;
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
  if (payload[0] === 0x7b) {
    const o = jsonObject(payload.toString('utf8'));
    return !!o && isJsonJwe(o);
  }
  return isCompactJwe(payload);
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
