// The model side of the agent against a fake control plane serving real packages (made and
// signed with lib/model-package as `edgeseal model package` does): every refusal has its
// code, comes before any plaintext is used, and leaves the running model running.
import { createPublicKey, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { newPackageId, packageModel, releaseKeyId } from '../../lib/model-package/index.ts';
import type { Standing } from '../attest/attester.ts';
import type { InferenceSink } from '../inference/inference-loop.ts';
import { GeneratorSensor } from '../inference/sensor.ts';
import { ContentKeyStore } from '../keys/content-keys.ts';
import type { AgentLog } from '../log.ts';
import type { LatestRelease, ReleaseKeyEntry } from '../net/control-plane.ts';
import { readInstalled } from './installed.ts';
import { ModelRuntime } from './model-runtime.ts';

const MODEL = readFileSync(join(import.meta.dirname, '..', '..', 'ml', 'models', 'vibration.onnx'));
const signer = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

interface Served {
  latest: LatestRelease;
  bytes: Buffer;
  contentKey: Buffer;
}

async function release(o: {
  counter: number;
  hw?: string[];
  key?: KeyObject;
  model?: string;
}): Promise<Served> {
  const id = newPackageId();
  const contentKey = randomBytes(32);
  const bytes = await packageModel({
    plaintext: MODEL,
    contentKey,
    releaseKey: o.key ?? signer,
    packageId: id,
    chunkSize: 2048,
    manifest: {
      model_id: o.model ?? 'vibration',
      version: `1.0.${o.counter}`,
      release_counter: o.counter,
      hardware_models: o.hw ?? ['cam-v2'],
      content_key_id: `ck_${id}`,
      io: { inputs: [], outputs: [] },
      drift: {},
    },
  });
  const manifest = bytes.toString('latin1', 12, 12 + bytes.readUInt32BE(8));
  return {
    bytes,
    contentKey,
    latest: {
      id,
      modelId: o.model ?? 'vibration',
      version: `1.0.${o.counter}`,
      releaseCounter: o.counter,
      contentKeyId: `ck_${id}`,
      manifest,
      packageUrl: `https://cp.test/v1/releases/${id}/package`,
      packageSize: bytes.length,
    },
  };
}

const keyEntry = (k: KeyObject, status: 'active' | 'revoked' = 'active'): ReleaseKeyEntry => ({
  kid: releaseKeyId(k),
  jwk: createPublicKey(k).export({ format: 'jwk' }) as JWK,
  status,
});

function harness(o: { keys?: ReleaseKeyEntry[]; dir?: string; contentKeys?: Map<string, Buffer> } = {}) {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'model-rt-'));
  const lines: Record<string, unknown>[] = [];
  const log: AgentLog = {
    info: (event, f) => lines.push({ level: 'info', event, ...f }),
    warn: (event, f) => lines.push({ level: 'warn', event, ...f }),
    error: (event, f) => lines.push({ level: 'error', event, ...f }),
    child: () => log,
  };
  let served: Served | undefined;
  let standing: Standing = 'affirming';
  let rt: ModelRuntime | undefined;
  const contentKeys = new Map<string, Buffer>(o.contentKeys ?? []);
  const keys = new ContentKeyStore();
  const recorded: string[] = [];
  const sink: InferenceSink & { closePeriod(): Promise<void> } = {
    record: (l, label) => recorded.push(`${l.release.id}:${label}`),
    skipped: () => {},
    closePeriod: async () => {},
  };
  const cp = {
    latestRelease: async () => served?.latest,
    releaseKeys: async () => o.keys ?? [keyEntry(signer)],
    packageFrom: async (_url: string, from: number) => {
      const body = served!.bytes.subarray(from);
      return {
        status: from ? 206 : 200,
        headers: from
          ? { 'content-range': `bytes ${from}-${served!.bytes.length - 1}/${served!.bytes.length}` }
          : {},
        body: Readable.from([body]),
      } as never;
    },
  };
  const make = async () => {
    rt = new ModelRuntime({
      cp,
      keys,
      installed: await readInstalled(join(dir, 'model.json')),
      paths: { packages: join(dir, 'packages'), model: join(dir, 'model.json') },
      hardwareModel: 'cam-v2',
      sensor: new GeneratorSensor({ kind: 'generator', state: 'imbalance', drift: false, seed: 3 }),
      windowIntervalMs: 20,
      sink,
      standing: () => standing,
      // key release as the control plane does it: the wanted keys, only when affirming
      wantKey: () =>
        queueMicrotask(() => {
          if (standing !== 'affirming') return;
          for (const id of rt?.wantedKeys() ?? []) {
            const k = contentKeys.get(id);
            if (k) keys.set(id, Buffer.from(k));
          }
        }),
      log,
      now: () => new Date(),
    });
    return rt;
  };
  return {
    contentKeys,
    dir,
    lines,
    keys,
    recorded,
    make,
    serve: (s: Served) => {
      served = s;
      contentKeys.set(s.latest.contentKeyId, s.contentKey);
    },
    setStanding: (s: Standing) => {
      standing = s;
    },
    events: (e: string) => lines.filter((l) => l.event === e),
    async until(pred: () => boolean, ms = 5000) {
      const end = Date.now() + ms;
      while (!pred()) {
        if (Date.now() > end)
          throw new Error(`timed out; log:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

async function running(h: ReturnType<typeof harness>) {
  const rt = await h.make();
  h.keys.onReleased(() => rt.keyReleased());
  rt.start();
  return rt;
}

describe('model runtime', () => {
  it('verifies, downloads, decrypts in memory, loads, infers; installs it and wipes the key', async () => {
    const h = harness();
    const r = await release({ counter: 3 });
    h.serve(r);
    let handed: Uint8Array | undefined;
    const orig = h.keys.set.bind(h.keys);
    h.keys.set = (id, k) => {
      handed = k;
      orig(id, k);
    };
    const rt = await running(h);
    await h.until(() => h.events('model_loaded').length === 1);
    expect(h.events('model_loaded')[0]).toMatchObject({ release_id: r.latest.id, version: '1.0.3' });
    await h.until(() => h.recorded.length >= 3);
    // the sensor says imbalance; the model agrees on most windows
    expect(h.recorded.filter((x) => x.endsWith(':2')).length).toBeGreaterThan(h.recorded.length / 2);
    expect((await readInstalled(join(h.dir, 'model.json')))?.release_counter).toBe(3);
    expect(readdirSync(join(h.dir, 'packages'))).toEqual([`${r.latest.id}.pkg`]);
    expect(handed?.length).toBe(32);
    expect(handed!.every((b) => b === 0)).toBe(true); // the content key, overwritten once the session existed
    expect(h.keys.ids()).toEqual([]);
    await rt.stop();
  });

  it.each([
    ['a manifest signed by a revoked release key', 'ReleaseKeyRevoked', { revoked: true }],
    ['a manifest signed by an unknown key', 'ReleaseKeyUnknown', { unknown: true }],
    ['another hardware model', 'HardwareModelNotAllowed', { hw: ['cam-v9'] }],
    ['a payload with one flipped byte', 'PayloadDigestMismatch', { flip: true }],
  ])('refuses %s (%s): nothing downloaded or loaded', async (_n, code, o: Record<string, unknown>) => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const h = harness({
      keys: o.revoked ? [keyEntry(signer), keyEntry(other, 'revoked')] : [keyEntry(signer)],
    });
    const r = await release({
      counter: 1,
      ...(o.revoked || o.unknown ? { key: other } : {}),
      ...(o.hw ? { hw: o.hw as string[] } : {}),
    });
    if (o.flip) r.bytes[r.bytes.length - 100]! ^= 1;
    h.serve(r);
    const rt = await running(h);
    await h.until(() => h.events('model_refused').length === 1);
    expect(h.events('model_refused')[0]).toMatchObject({ level: 'warn', release_id: r.latest.id, code });
    expect(h.events('model_loaded')).toEqual([]);
    const kept = existsSync(join(h.dir, 'packages')) ? readdirSync(join(h.dir, 'packages')) : [];
    expect(kept).toEqual([]); // a package that failed is not kept
    await rt.stop();
  });

  it('a package changed on disk after its check fails its chunk tag at decryption: refused, never loaded', async () => {
    const h = harness();
    h.setStanding('warning'); // no key yet: the package waits on disk
    const r = await release({ counter: 1 });
    h.serve(r);
    const rt = await running(h);
    await h.until(() => h.events('model_verified').length === 1);
    const pkg = join(h.dir, 'packages', `${r.latest.id}.pkg`);
    const bytes = readFileSync(pkg);
    bytes[bytes.length - 5000]! ^= 1;
    writeFileSync(pkg, bytes);
    h.setStanding('affirming');
    await rt.standingChanged('affirming');
    await h.until(() => h.events('model_refused').length === 1);
    expect(h.events('model_refused')[0]).toMatchObject({ code: 'ChunkAuthFailed', stage: 'decrypt' });
    expect(h.events('model_loaded')).toEqual([]);
    await rt.stop();
  });

  it('the version floor: a release at or below the installed counter is ModelDowngrade, and the running model stays', async () => {
    const h = harness();
    const r5 = await release({ counter: 5 });
    h.serve(r5);
    const rt = await running(h);
    await h.until(() => h.events('model_loaded').length === 1);
    for (const counter of [5, 4]) {
      const older = await release({ counter, model: 'vibration-b' });
      h.serve(older);
      rt.check('update');
      await h.until(() => h.events('model_refused').some((l) => l.release_id === older.latest.id));
      expect(h.events('model_refused').at(-1)).toMatchObject({
        code: 'ModelDowngrade',
        release_counter: counter,
        installed_counter: 5,
      });
    }
    expect(rt.state.loaded?.release.id).toBe(r5.latest.id);
    const seen = h.recorded.length;
    await h.until(() => h.recorded.length > seen + 2); // still inferring on release 5
    await rt.stop();
    // after a restart the floor holds (model.json), and the installed package loads again
    const h2 = harness({ dir: h.dir, contentKeys: h.contentKeys });
    h2.serve(await release({ counter: 2 }));
    const rt2 = await running(h2);
    await h2.until(() => h2.events('model_loaded').length === 1);
    expect(h2.events('model_refused')[0]).toMatchObject({ code: 'ModelDowngrade' });
    expect(h2.events('model_loaded')[0]).toMatchObject({ release_id: r5.latest.id });
    await rt2.stop();
  });

  it('a contraindicated result releases the session and stops inference; affirming again loads it again', async () => {
    const h = harness();
    h.serve(await release({ counter: 1 }));
    const rt = await running(h);
    await h.until(() => h.events('model_loaded').length === 1);
    h.setStanding('contraindicated');
    await rt.standingChanged('contraindicated');
    expect(h.events('model_unloaded')[0]).toMatchObject({ reason: 'attestation_contraindicated' });
    expect(rt.state.loaded).toBeUndefined();
    const n = h.recorded.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(h.recorded.length).toBe(n);
    h.setStanding('affirming');
    await rt.standingChanged('affirming');
    await h.until(() => h.events('model_loaded').length === 2);
    await rt.stop();
  });
});
