// Finding and fetching the model: at start and whenever told (an `update` command, an OTA
// notice), ask the control plane for the latest release of this hardware model, verify its
// manifest (release key active and its signature, this hardware model, a release counter
// above the installed one), download its package with resume, check the package against the
// manifest (size, payload SHA-256) and only then give it its final name. The release becomes
// the target the loader decrypts once attestation releases its key. Every refusal is logged
// as `model_refused` with its code; the model that runs (if any) keeps running.
import { rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type Manifest, verifyManifest } from '../../lib/model-package/index.ts';
import type { AgentLog } from '../log.ts';
import type { ControlPlane, LatestRelease } from '../net/control-plane.ts';
import type { RunResult } from '../schedule.ts';
import { ensureDir, exists, syncDir } from '../state.ts';
import { contentRangeStart, downloadPart, type PackageSource } from './download.ts';
import { type ModelState, packagePath, type Release } from './model-state.ts';
import { checkPayloadFile, readHead, readLayout } from './package-file.ts';
import { refusalFields, refusalOf, refuse } from './refusal.ts';
import type { ReleaseKeyCache } from './release-keys.ts';

export type CheckReason = 'start' | 'update' | 'ota';

export interface AcquirerDeps {
  readonly cp: Pick<ControlPlane, 'latestRelease' | 'packageFrom'>;
  readonly state: ModelState;
  readonly releaseKeys: ReleaseKeyCache;
  readonly packagesDir: string;
  readonly hardwareModel: string;
  readonly log: AgentLog;
  readonly now: () => Date;
  /** a release is verified and on disk: time to ask for its key and load it */
  readonly onTarget: () => void;
}

export class Acquirer {
  private reason: CheckReason = 'start';

  constructor(private readonly d: AcquirerDeps) {}

  /** The next run checks again, and tries releases refused before (an operator asked). */
  request(reason: CheckReason): void {
    this.reason = reason;
    this.d.state.refused.clear();
  }

  /** A Job run: one check of the latest release. Network failures throw (retried with backoff). */
  run = async (): Promise<RunResult> => {
    const reason = this.reason;
    const { state, log } = this.d;
    const latest = await this.d.cp.latestRelease();
    if (!latest) {
      log.info('model_none', { reason, hardware_model: this.d.hardwareModel });
      await this.fallBack();
      return 'idle';
    }
    const id = latest.id;
    if (state.loaded?.release.id === id || state.target?.id === id) {
      if (reason !== 'start') log.info('model_current', { reason, release_id: id });
      return 'idle';
    }
    if (state.refused.has(id)) {
      await this.fallBack();
      return 'idle';
    }
    const installed = state.installed;
    const same = installed?.release_id === id;
    // the version floor: a release must be above the installed one; the installed one itself
    // may be loaded again (after a restart, or a contraindicated result)
    const floor = installed ? installed.release_counter + (same ? 0 : 1) : undefined;
    const base = {
      release_id: id,
      model_id: latest.modelId,
      version: latest.version,
      release_counter: latest.releaseCounter,
      ...(installed
        ? { installed_release_id: installed.release_id, installed_counter: installed.release_counter }
        : {}),
    };
    let stage = 'manifest';
    try {
      const manifest = await this.verify(latest, floor);
      stage = 'download';
      const path = packagePath(this.d.packagesDir, id);
      // a package already here (a restart, the installed release) is checked again like a new one
      const file = (await exists(path)) ? path : await this.download(latest, path, base);
      stage = 'package';
      const layout = await checkPackage(file, latest.manifest, manifest);
      if (file !== path) {
        await rename(file, path);
        await syncDir(dirname(path));
      }
      const release: Release = { id, manifestJws: latest.manifest, manifest, path };
      state.target = release;
      log.info('model_verified', { ...base, reason, package_bytes: layout.size });
      this.d.onTarget();
    } catch (e) {
      const r = refusalOf(e);
      if (!r) throw e;
      state.refused.set(id, r.code);
      log.warn('model_refused', { ...base, stage, ...refusalFields(r) });
      await this.fallBack();
    }
    return 'idle';
  };

  /**
   * Nothing newer to load and nothing running (a restart): the installed release, from its
   * package on disk, verified again as if new (its counter is the floor itself).
   */
  private async fallBack(): Promise<void> {
    const { state, log } = this.d;
    const installed = state.installed;
    if (!installed || state.loaded || state.target || state.refused.has(installed.release_id)) return;
    const path = packagePath(this.d.packagesDir, installed.release_id);
    if (!(await exists(path))) {
      log.warn('model_missing', { release_id: installed.release_id, path });
      return;
    }
    const base = { release_id: installed.release_id, source: 'installed' };
    try {
      const { head } = await readHead(path);
      const manifest = await this.verify(
        { id: installed.release_id, contentKeyId: installed.content_key_id, manifest: head.manifestJws },
        installed.release_counter,
      );
      const layout = await checkPackage(path, head.manifestJws, manifest);
      state.target = { id: installed.release_id, manifestJws: head.manifestJws, manifest, path };
      log.info('model_verified', { ...base, version: manifest.version, package_bytes: layout.size });
      this.d.onTarget();
    } catch (e) {
      const r = refusalOf(e);
      if (!r) throw e;
      state.refused.set(installed.release_id, r.code);
      log.warn('model_refused', { ...base, stage: 'package', ...refusalFields(r) });
    }
  }

  private async verify(
    latest: Pick<LatestRelease, 'id' | 'contentKeyId' | 'manifest'>,
    floor: number | undefined,
  ): Promise<Manifest> {
    const m = await verifyManifest(latest.manifest, {
      releaseKeys: await this.d.releaseKeys.keysFor(latest.manifest),
      now: this.d.now(),
      hardwareModel: this.d.hardwareModel,
      ...(floor !== undefined ? { minReleaseCounter: floor } : {}),
    });
    // the API's own fields are not signed: they must say what the manifest says
    if (m.package_id !== latest.id) refuse('ReleaseMismatch', 'the manifest is for another package');
    if (m.content_key_id !== latest.contentKeyId)
      refuse('ReleaseMismatch', 'the release names another content key than its manifest');
    return m;
  }

  /** Downloads to <path>.part (resuming what is there) and returns that name. */
  private async download(
    latest: LatestRelease,
    path: string,
    base: Record<string, unknown>,
  ): Promise<string> {
    const part = `${path}.part`;
    await ensureDir(dirname(path));
    const source: PackageSource = {
      from: async (offset) => {
        const res = await this.d.cp.packageFrom(latest.packageUrl, offset);
        return {
          status: res.status,
          rangeStart: contentRangeStart(res.headers['content-range'] as string | undefined),
          body: res.body,
        };
      },
    };
    const started = performance.now();
    this.d.log.info('model_download_started', { ...base, package_bytes: latest.packageSize });
    const got = await downloadPart(part, latest.packageSize, source);
    this.d.log.info('model_downloaded', {
      release_id: latest.id,
      package_bytes: latest.packageSize,
      resumed_from: got.resumedFrom,
      received_bytes: got.received,
      duration_ms: Math.round(performance.now() - started),
    });
    return part;
  }
}

/** The package against its manifest, without a key (size, then payload SHA-256); a file that fails is deleted. */
async function checkPackage(file: string, manifestJws: string, m: Manifest) {
  try {
    const layout = await readLayout(file, manifestJws, m);
    await checkPayloadFile(file, layout, m);
    return layout;
  } catch (e) {
    if (refusalOf(e)) await rm(file, { force: true }); // of no use: the next try starts afresh
    throw e;
  }
}
