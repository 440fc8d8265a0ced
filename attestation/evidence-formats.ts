// Evidence formats as a table (the jose way): one entry per format, each a verifier from raw
// bytes or text to the same VerifiedEvidence. Nothing in an entry's shape assumes a JWT, so a
// TPM 2.0 quote (TPMS_ATTEST + signature + AK certificate) slots in as another row.
import { type EvidenceContext, EAT_JWT_MEDIA_TYPE, type VerifiedEvidence, verifyEatJwt } from './eat-jwt.ts';
import { fail } from './errors.ts';

export interface EvidenceFormat {
  /** the media type a device sends this format as (Content-Type of the evidence request) */
  readonly mediaType: string;
  readonly verify: (raw: Uint8Array | string, ctx: EvidenceContext) => Promise<VerifiedEvidence>;
}

export const FORMATS = {
  'eat-jwt': { mediaType: EAT_JWT_MEDIA_TYPE, verify: verifyEatJwt },
} as const satisfies Readonly<Record<string, EvidenceFormat>>;

export type EvidenceFormatName = keyof typeof FORMATS;

/** The format for a media type (parameters such as `; eat_profile="…"` are ignored). */
export function formatForMediaType(contentType: string): EvidenceFormatName | undefined {
  const base = contentType.split(';')[0]!.trim().toLowerCase();
  return (Object.keys(FORMATS) as EvidenceFormatName[]).find((f) => FORMATS[f].mediaType === base);
}

/** Verifies evidence of a named format. An unknown format is malformed evidence. */
export async function verifyEvidence(
  format: string,
  raw: Uint8Array | string,
  ctx: EvidenceContext,
): Promise<VerifiedEvidence> {
  const entry: EvidenceFormat | undefined = Object.hasOwn(FORMATS, format)
    ? FORMATS[format as EvidenceFormatName]
    : undefined;
  if (!entry)
    return fail('EvidenceMalformed', `unknown evidence format ${JSON.stringify(format.slice(0, 32))}`);
  return entry.verify(raw, ctx);
}
