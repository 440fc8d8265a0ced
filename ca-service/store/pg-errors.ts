// Recognizing Postgres errors through drizzle's wrapping, for both drivers.

interface PgErrorLike {
  code?: string;
  constraint?: string;
  constraint_name?: string;
  cause?: unknown;
}

export function pgError(e: unknown): { code: string; constraint: string | undefined } | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur && typeof cur === 'object'; i++) {
    const p = cur as PgErrorLike;
    if (typeof p.code === 'string' && /^[0-9A-Z]{5}$/.test(p.code)) {
      return { code: p.code, constraint: p.constraint ?? p.constraint_name };
    }
    cur = p.cause;
  }
  return undefined;
}

export const UNIQUE_VIOLATION = '23505';
