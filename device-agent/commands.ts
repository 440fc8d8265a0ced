// Messages the device receives: commands on devices/{id}/cmd and OTA notices on
// devices/{id}/ota. Parsing only; main.ts decides what each one sets in motion.
import { createHash } from 'node:crypto';

export type Command =
  | { readonly type: 'attest' }
  | { readonly type: 'update' }
  | { readonly type: 'unknown'; readonly name: string };

/** A command is a JSON object with a `type`; anything else is an unknown command, not an error. */
export function parseCommand(payload: Buffer): Command {
  let v: unknown;
  try {
    v = JSON.parse(payload.toString('utf8'));
  } catch {
    return { type: 'unknown', name: '(not JSON)' };
  }
  const t = typeof v === 'object' && v !== null ? (v as { type?: unknown }).type : undefined;
  if (t === 'attest') return { type: 'attest' };
  if (t === 'update') return { type: 'update' };
  return { type: 'unknown', name: typeof t === 'string' ? t.slice(0, 64) : '(no type)' };
}

/** What the log says of an OTA notice (until Part 6 signs them, a notice only makes the agent check): its size and digest. */
export function otaNoticeFields(payload: Buffer): Record<string, unknown> {
  return { bytes: payload.length, sha256: createHash('sha256').update(payload).digest('hex') };
}
