// edgeseal model package — encrypts and signs a model into a package (release-manager):
// AES-256-GCM in authenticated chunks under a fresh content key, the manifest signed by a
// release key, the content key wrapped to the control plane's key service (only it can open
// it, at `release publish`). Nothing secret is written: the content key exists in memory only.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { JWK } from 'jose';
import type { CaConfig } from '../ca-service/config.ts';
import { newPackageId, packageModel, wrapContentKey } from '../lib/model-package/index.ts';
import type { ApiClient } from './client.ts';
import { onnxFacts } from './onnx-interface.ts';
import { print, UsageError } from './output.ts';
import { loadReleaseKey } from './release-key-file.ts';

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** population stability index above this: the inputs no longer look like the training data */
const DEFAULT_DRIFT_THRESHOLD = 0.25;

export async function modelCommand(
  argv: string[],
  client: () => ApiClient,
  json: boolean,
  config: CaConfig,
): Promise<void> {
  const [verb, ...rest] = argv;
  if (verb !== 'package')
    throw new UsageError(`model ${verb ?? ''}: use model package (see edgeseal --help)`);
  const { values } = parseArgs({
    args: rest,
    options: {
      in: { type: 'string' },
      'model-id': { type: 'string' },
      version: { type: 'string' },
      'hardware-model': { type: 'string', multiple: true },
      'min-firmware-svn': { type: 'string' },
      'release-counter': { type: 'string' },
      'release-key': { type: 'string' },
      'drift-threshold': { type: 'string' },
      'chunk-size': { type: 'string' },
      out: { type: 'string' },
    },
    strict: true,
  });
  const need = (v: string | undefined, flag: string) => {
    if (!v) throw new UsageError(`model package needs ${flag}`);
    return v;
  };
  const input = need(values.in, '--in model.onnx');
  const out = need(values.out, '--out FILE');
  const modelId = need(values['model-id'], '--model-id ID');
  const version = need(values.version, '--version V');
  const models = values['hardware-model'] ?? [];
  if (!models.length) throw new UsageError('model package needs --hardware-model M (one or more)');
  for (const [flag, v] of [
    ['--model-id', modelId],
    ['--version', version],
    ...models.map((m) => ['--hardware-model', m]),
  ]) {
    if (!ID_RE.test(v!))
      throw new UsageError(`${flag} must be 1–64 of A–Z a–z 0–9 . _ -, got "${v!.slice(0, 80)}"`);
  }
  const int = (flag: string, v: string | undefined, min: number, max: number): number | undefined => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got "${v}"`);
    }
    return Number(v);
  };
  const minSvn = int('--min-firmware-svn', values['min-firmware-svn'], 0, 2_147_483_647);
  const chunkSize = int('--chunk-size', values['chunk-size'], 1024, 64 * 1024 * 1024);
  const threshold =
    values['drift-threshold'] === undefined ? DEFAULT_DRIFT_THRESHOLD : Number(values['drift-threshold']);
  if (!Number.isFinite(threshold) || threshold <= 0) {
    throw new UsageError(`--drift-threshold must be a positive number, got "${values['drift-threshold']}"`);
  }
  let plaintext: Buffer;
  try {
    plaintext = readFileSync(input);
  } catch (e) {
    throw new UsageError(`--in ${input}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let facts: ReturnType<typeof onnxFacts>;
  try {
    facts = onnxFacts(plaintext);
  } catch (e) {
    throw new UsageError(`--in ${input}: ${(e as Error).message}`);
  }
  const releaseKey = loadReleaseKey(config, values['release-key']);
  const api = client();
  const counter =
    int('--release-counter', values['release-counter'], 1, Number.MAX_SAFE_INTEGER) ??
    (await nextCounter(api, modelId));
  const serviceKey = await api.call<{ kid: string; jwk: JWK }>('GET', '/v1/key-service-key');
  const packageId = newPackageId();
  const contentKey = randomBytes(32);
  try {
    const distribution = facts.metadata['edgeseal.training_distribution'];
    const bytes = await packageModel({
      plaintext,
      contentKey,
      releaseKey: releaseKey.key,
      packageId,
      keyEnvelope: await wrapContentKey(contentKey, serviceKey.jwk, packageId),
      ...(chunkSize ? { chunkSize } : {}),
      manifest: {
        model_id: modelId,
        version,
        release_counter: counter,
        hardware_models: models,
        ...(minSvn !== undefined ? { min_firmware_svn: minSvn } : {}),
        content_key_id: `ck_${packageId}`,
        io: facts.io,
        drift: {
          statistic: 'psi',
          threshold,
          ...(distribution ? { training_distribution: JSON.parse(distribution) as unknown } : {}),
          ...(facts.metadata['edgeseal.features']
            ? { features: JSON.parse(facts.metadata['edgeseal.features']) as unknown }
            : {}),
        },
      },
    });
    writeFileSync(out, bytes, { mode: 0o644 });
    const summary = {
      package_id: packageId,
      model_id: modelId,
      version,
      release_counter: counter,
      hardware_models: models,
      release_kid: releaseKey.kid,
      plaintext_bytes: plaintext.length,
      package_bytes: bytes.length,
      out,
    };
    print(json, summary, () =>
      [
        `packaged ${modelId} ${version} (release counter ${counter}) for ${models.join(', ')} → ${out}`,
        `  ${bytes.length} bytes, AES-256-GCM in authenticated chunks, manifest signed by release key ${releaseKey.kid}`,
        `  next: edgeseal release publish ${out}`,
      ].join('\n'),
    );
  } finally {
    contentKey.fill(0);
    plaintext.fill(0);
  }
}

/** One above the model's highest published release counter (1 for a new model). */
async function nextCounter(api: ApiClient, modelId: string): Promise<number> {
  const r = await api.call<{ items: { release_counter: number }[] }>(
    'GET',
    `/v1/releases?model_id=${encodeURIComponent(modelId)}`,
  );
  return Math.max(0, ...r.items.map((x) => x.release_counter)) + 1;
}
