import { Writable } from 'node:stream';
import { DrizzleQueryError } from 'drizzle-orm/errors';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { safeLogger } from './safe-log.ts';

const SECRET = 'c9caa5de4b307ca38c8e26b29f29d612cfadebe552c5730fd91e505eeae7dc21';

/** A database error as drizzle wraps it: the driver's error (with its own copy of the values) as cause. */
function dbError(): Error {
  const cause = Object.assign(new Error('new row for relation "api_tokens" violates check constraint "c1"'), {
    code: '23514',
    constraint: 'c1',
    detail: `Failing row contains (tok_abc, auditor, ${SECRET}).`,
    params: ['tok_abc', 'auditor', SECRET],
  });
  return new DrizzleQueryError(
    'insert into "api_tokens" values ($1, $2, $3)',
    ['tok_abc', 'auditor', SECRET],
    cause,
  );
}

function capture(wrap: boolean) {
  const lines: string[] = [];
  const stream = new Writable({
    write(c, _e, cb) {
      lines.push(c.toString());
      cb();
    },
  });
  const base = pino({ level: 'info' }, stream);
  return { log: wrap ? safeLogger(base) : base, lines };
}

describe('safeLogger: database errors lose their parameters', () => {
  it('plain pino writes them (the leak this guards against)', () => {
    const { log, lines } = capture(false);
    log.error({ err: dbError() }, 'request failed');
    expect(lines.join('')).toContain(SECRET);
  });

  it.each([
    ['under err, with a message', (l: pino.Logger) => l.error({ err: dbError() }, 'request failed')],
    ['as the only argument (pino takes the message from it)', (l: pino.Logger) => l.error(dbError())],
    ['under another key', (l: pino.Logger) => l.warn({ failure: dbError() }, 'x')],
  ])('%s: no value, but the SQL, SQLSTATE and constraint', (_n, write) => {
    const { log, lines } = capture(true);
    write(log);
    const line = lines.join('');
    expect(line).not.toContain(SECRET);
    expect(line).not.toMatch(/tok_abc|params|Failing row/);
    expect(line).toContain('insert into \\"api_tokens\\" values ($1, $2, $3)');
    expect(line).toContain('23514');
    expect(line).toContain('"constraint":"c1"');
  });

  it('a quoted input value in a database message is dropped', () => {
    const { log, lines } = capture(true);
    const e = Object.assign(new Error('invalid input syntax for type uuid: "my-secret-value"'), {
      code: '22P02',
    });
    log.error({ err: e }, 'x');
    expect(lines.join('')).not.toContain('my-secret-value');
    expect(lines.join('')).toContain('invalid input syntax for type uuid');
  });
});
