// Parsing the environment once, for every service's config.ts: an empty variable counts as
// unset (`DATABASE_URL= edgeseal up` means PGlite), and a bad value stops start-up with a
// message naming the variable and the value.
import type { z } from 'zod';
import { EdgesealError } from './errors.ts';

export function parseEnv<T extends z.ZodType>(
  schema: T,
  env: Readonly<Record<string, string | undefined>>,
): z.infer<T> {
  const set = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const r = schema.safeParse(set);
  if (!r.success) {
    const msg = r.error.issues
      .map((i) => `${String(i.path[0])}=${JSON.stringify(env[String(i.path[0])] ?? '')}: ${i.message}`)
      .join('; ');
    throw new EdgesealError('ERR_CONFIG', `invalid configuration: ${msg}`);
  }
  return r.data;
}
