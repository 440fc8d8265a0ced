// edgeseal release publish FILE | list [--model-id ID] | key create|list|revoke
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { CaConfig } from '../ca-service/config.ts';
import type { ApiClient } from './client.ts';
import { print, table, UsageError } from './output.ts';
import { createReleaseKey } from './release-key-file.ts';

interface Release {
  id: string;
  model_id: string;
  version: string;
  release_counter: number;
  hardware_models: string[];
  package_size: number;
  release_kid: string;
  created_at: string;
}

export async function releaseCommand(
  argv: string[],
  client: () => ApiClient,
  json: boolean,
  config: CaConfig,
): Promise<void> {
  const [verb, ...rest] = argv;
  switch (verb) {
    case 'publish': {
      const file = rest[0];
      if (!file || file.startsWith('--')) throw new UsageError('release publish needs the package FILE');
      let bytes: Buffer;
      try {
        bytes = readFileSync(file);
      } catch (e) {
        throw new UsageError(`${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      const r = await client().upload<Release>('/v1/releases', bytes, 'application/octet-stream');
      print(
        json,
        r,
        () =>
          `published ${r.model_id} ${r.version} (release counter ${r.release_counter}) for ${r.hardware_models.join(', ')}: release ${r.id}, ${r.package_size} bytes; signature checked`,
      );
      return;
    }
    case 'list': {
      const { values } = parseArgs({ args: rest, options: { 'model-id': { type: 'string' } }, strict: true });
      const q = values['model-id'] ? `?model_id=${encodeURIComponent(values['model-id'])}` : '';
      const r = await client().call<{ items: Release[] }>('GET', `/v1/releases${q}`);
      print(json, r.items, () =>
        table(
          r.items.map((x) => ({ ...x, hardware_models: x.hardware_models.join(',') })),
          ['id', 'model_id', 'version', 'release_counter', 'hardware_models', 'package_size', 'created_at'],
        ),
      );
      return;
    }
    case 'key': {
      const [sub, ...args] = rest;
      if (sub === 'create') {
        const { values } = parseArgs({
          args,
          options: { label: { type: 'string' }, out: { type: 'string' } },
          strict: true,
        });
        const k = createReleaseKey(config, values.out);
        const r = await client().call<{ kid: string; status: string }>('POST', '/v1/release-keys', {
          public_key: createPublicKey(k.key).export({ format: 'pem', type: 'spki' }).toString(),
          ...(values.label ? { label: values.label } : {}),
        });
        print(
          json,
          { ...r, path: k.path },
          () => `release key ${r.kid} made (stored wrapped under the KEK in ${k.path}) and registered`,
        );
        return;
      }
      if (sub === 'list') {
        const r = await client().call<{
          items: { kid: string; label: string | null; status: string; created_at: string }[];
        }>('GET', '/v1/release-keys');
        print(json, r.items, () => table(r.items, ['kid', 'label', 'status', 'created_at']));
        return;
      }
      if (sub === 'revoke') {
        const kid = args[0];
        if (!kid || kid.startsWith('--')) throw new UsageError('release key revoke needs the key id (kid)');
        const r = await client().call<{ kid: string; status: string }>(
          'POST',
          `/v1/release-keys/${encodeURIComponent(kid)}/revoke`,
        );
        print(json, r, () => `release key ${r.kid} ${r.status}: manifests it signed no longer verify`);
        return;
      }
      throw new UsageError('release key: use create [--label L], list or revoke KID');
    }
    default:
      throw new UsageError(`release ${verb ?? ''}: use publish FILE, list or key (see edgeseal --help)`);
  }
}
