// model.json: the release this device runs, written (atomically) only once its model has
// loaded. Its release counter is the version floor: a release at or below it is refused
// (ModelDowngrade), so a device never goes back to an older model, across restarts too.
import { z } from 'zod';
import { fail } from '../errors.ts';
import { RELEASE_ID_RE } from '../net/control-plane.ts';
import { exists, FILE_MODE, readStateFile, writeAtomic } from '../state.ts';

const Installed = z.object({
  version: z.literal(1),
  release_id: z.string().regex(RELEASE_ID_RE),
  model_id: z.string().min(1).max(128),
  model_version: z.string().min(1).max(64),
  release_counter: z.number().int().min(0),
  content_key_id: z.string().min(1).max(256),
  plaintext_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  installed_at: z.string(),
});

export type Installed = z.infer<typeof Installed>;

export async function readInstalled(path: string): Promise<Installed | undefined> {
  if (!(await exists(path))) return undefined;
  const text = await readStateFile(path, 'installed model file');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return fail('ERR_STATE', `${path} is not JSON`);
  }
  const r = Installed.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0]!;
    return fail('ERR_STATE', `${path}: ${i.path.join('.') || '(root)'} ${i.message}`);
  }
  return r.data;
}

export async function writeInstalled(path: string, m: Installed): Promise<void> {
  await writeAtomic(path, `${JSON.stringify(m, null, 2)}\n`, FILE_MODE);
}
