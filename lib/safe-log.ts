// Errors as a log line may show them. A database error carries the statement's parameters
// (drizzle's DrizzleQueryError: `query`, `params`, and both in its message and stack; PGlite
// adds `params`; Postgres adds a `detail` such as "Failing row contains (…)"), and those are
// secret hashes, tokens' ids and whatever a client sent. Logged errors keep an allowlist of
// fields, and their messages and stacks lose the parameter part, at every level of `cause`.
import type { Logger } from 'pino';

/** Fields worth keeping from an error or a database error; nothing here holds a value. */
const KEEP = [
  'code',
  'severity',
  'constraint',
  'constraint_name',
  'table',
  'table_name',
  'column',
  'column_name',
  'routine',
] as const;

const SQLSTATE = /^[0-9A-Z]{5}$/;

const isErrorLike = (v: unknown): v is Error =>
  v instanceof Error ||
  (typeof v === 'object' &&
    v !== null &&
    typeof (v as { message?: unknown }).message === 'string' &&
    typeof (v as { stack?: unknown }).stack === 'string');

/**
 * drizzle: "Failed query: <sql>\nparams: <values>" keeps the SQL (placeholders only).
 * Postgres puts an offending value after a colon, in quotes (`invalid input syntax for type
 * uuid: "…"`); for errors with a SQLSTATE that value goes too.
 */
export function scrubMessage(message: string, sqlState = false): string {
  const cut = message.replace(/\nparams: [\s\S]*$/, '');
  return sqlState ? cut.replace(/: "[\s\S]*"/, ': "…"') : cut;
}

/** What a log line shows of an error: type, scrubbed message and stack, allowlisted fields, cause. */
export function serializeError(err: unknown, depth = 0): unknown {
  if (!isErrorLike(err)) return err;
  const e = err as Error & Record<string, unknown>;
  const sqlState = typeof e.code === 'string' && SQLSTATE.test(e.code);
  const message = scrubMessage(e.message, sqlState);
  // drivers' error classes have minified names (PGlite's is "O"): name database errors plainly
  const type = sqlState
    ? 'DatabaseError'
    : e.constructor?.name && e.constructor.name !== 'Object'
      ? e.constructor.name
      : e.name;
  const out: Record<string, unknown> = { type, message };
  for (const k of KEEP) {
    const v = e[k];
    if (typeof v === 'string' || typeof v === 'number') out[k] = v;
  }
  if (typeof e.stack === 'string') {
    // the stack starts with "<name>: <message>", parameters included: keep only the frames
    const frames = e.stack.split('\n').filter((l) => /^\s+at /.test(l));
    out.stack = [`${type}: ${message}`, ...frames].join('\n');
  }
  if (e.cause !== undefined && depth < 5) out.cause = serializeError(e.cause, depth + 1);
  return out;
}

/**
 * A child of `log` that logs errors through serializeError: under `err` and under any other
 * top-level key, and in the message pino takes from an error when none is given.
 */
export function safeLogger(log: Logger): Logger {
  return log.child(
    {},
    {
      serializers: {
        err: (e: unknown) => serializeError(e),
        msg: (m: unknown) => (typeof m === 'string' ? scrubMessage(m) : m),
      },
      formatters: {
        log: (obj: object) => {
          let copy: Record<string, unknown> | undefined;
          for (const [k, v] of Object.entries(obj)) {
            if (k !== 'err' && isErrorLike(v)) {
              copy ??= { ...obj };
              copy[k] = serializeError(v);
            }
          }
          return copy ?? obj;
        },
      },
    },
  );
}
