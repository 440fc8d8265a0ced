// Secrets for batches and API tokens. They are 256-bit random values, so a single SHA-256
// is the right storage hash (no password stretching needed); comparison is constant-time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * 256 random bits, base64url; never starting with `-`, which command lines would take for an
 * option (`--secret -x…` is ambiguous to every getopt): such a draw is simply drawn again.
 */
export function newSecret(random: (n: number) => Buffer = randomBytes): string {
  for (;;) {
    const s = random(32).toString('base64url');
    if (!s.startsWith('-')) return s;
  }
}

/** Short unguessable id, lowercase base32-ish, safe in URLs, CNs and HTTP Basic user names. */
export function newId(prefix: string, random: (n: number) => Buffer = randomBytes): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyz23456789';
  const bytes = random(12);
  let out = '';
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return `${prefix}_${out}`;
}

export const hashSecret = (secret: string): string =>
  createHash('sha256').update(secret, 'utf8').digest('hex');

export function secretMatches(storedHash: string, presented: string): boolean {
  const a = Buffer.from(storedHash, 'hex');
  const b = createHash('sha256').update(presented, 'utf8').digest();
  return a.length === b.length && timingSafeEqual(a, b);
}
