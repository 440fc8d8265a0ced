// One shared way to read and validate a JSON body: a failure names the field.
import type { Context } from 'hono';
import type { z } from 'zod';
import { EdgesealError } from '../../lib/errors.ts';

export async function jsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new EdgesealError(
      'ERR_UNSUPPORTED_MEDIA_TYPE',
      `Content-Type must be application/json, got "${type || 'none'}"`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(await c.req.text());
  } catch {
    throw new EdgesealError('ERR_INVALID_REQUEST', 'request body is not valid JSON');
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const msg = r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    throw new EdgesealError('ERR_INVALID_REQUEST', msg);
  }
  return r.data;
}
