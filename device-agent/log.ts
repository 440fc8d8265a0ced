// The agent's log: one JSON line per event on stdout, pino underneath, fixed keys —
// {"level":"info","time":ISO,"device_id":…,"event":…, …fields}. Fields are ids, serials,
// digests, statuses and codes. Never a key, token, nonce, result or plaintext: the names that
// would carry one are redacted by pino even if a caller slips.
import pino, { type DestinationStream, type Logger } from 'pino';

export type Fields = Readonly<Record<string, unknown>>;

export interface AgentLog {
  info(event: string, fields?: Fields): void;
  warn(event: string, fields?: Fields): void;
  error(event: string, fields?: Fields): void;
  /** a logger whose lines carry these fields too */
  child(fields: Fields): AgentLog;
}

/** Field names that could hold a secret; pino replaces their value wherever they appear. */
const REDACT = [
  'key',
  'private_key',
  'secret',
  'token',
  'nonce',
  'eat_nonce',
  'result',
  'jwe',
  'jwt',
  'evidence',
  'content_key',
  'plaintext',
  'd',
  '*.d',
  '*.key',
  '*.secret',
  '*.nonce',
];

function wrap(p: Logger): AgentLog {
  return {
    info: (event, fields) => p.info({ event, ...fields }),
    warn: (event, fields) => p.warn({ event, ...fields }),
    error: (event, fields) => p.error({ event, ...fields }),
    child: (fields) => wrap(p.child(fields)),
  };
}

/** Writes to `dest` (default: stdout, synchronously, so the last line before exit is never lost). */
export function agentLog(base: Fields, dest?: DestinationStream): AgentLog {
  const p = pino(
    {
      base: { ...base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT, censor: '[redacted]' },
    },
    dest ?? pino.destination({ dest: 1, sync: true }),
  );
  return wrap(p);
}

/** An error as a log field: its message (and code), never its stack's locals. */
export function errorField(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return typeof code === 'string' && !e.message.includes(code) ? `${e.message} (${code})` : e.message;
  }
  return String(e);
}
