// What the agent knows of its model at any moment, shared by the acquirer (finds, verifies
// and downloads a release), the loader (decrypts and loads it) and inference (runs it):
//
//   installed  model.json: the last release that loaded here; its counter is the version floor
//   target     a verified release whose package is on disk, waiting for its key to load
//   loaded     the onnxruntime session inference runs on (the plaintext is long wiped)
//   refused    releases refused since the last update check, not tried again until then
import { join } from 'node:path';
import type { Manifest } from '../../lib/model-package/index.ts';
import type { VibrationModel } from '../../ml/infer.ts';
import type { Installed } from './installed.ts';

export interface Release {
  readonly id: string;
  readonly manifestJws: string;
  /** verified: signature, hardware model, version floor */
  readonly manifest: Manifest;
  /** DIR/packages/<id>.pkg */
  readonly path: string;
}

export interface LoadedModel {
  readonly release: Release;
  readonly model: VibrationModel;
  readonly loadedAt: Date;
}

export const packagePath = (packagesDir: string, releaseId: string): string =>
  join(packagesDir, `${releaseId}.pkg`);

export class ModelState {
  installed: Installed | undefined;
  target: Release | undefined;
  loaded: LoadedModel | undefined;
  readonly refused = new Map<string, string>();

  constructor(installed: Installed | undefined) {
    this.installed = installed;
  }

  /** The content key wanted now: the one of a release waiting to load. */
  wantedKeys(): string[] {
    return this.target ? [this.target.manifest.content_key_id] : [];
  }
}
