// PGlite's data directory, owner-only (issue 7 item 13): the files are the CA's records.
// PGlite's Emscripten NODEFS creates files 0666 whatever the process umask, so new files and
// directories are chmod-ed as they are made, and what initdb (a separate module) wrote is
// fixed once the database is open.
import { chmodSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { NodeFS } from '@electric-sql/pglite/nodefs';

type InitArgs = Parameters<NodeFS['init']>;

interface EmscriptenModule {
  NODEFS: {
    node_ops: { mknod: (...a: unknown[]) => { mode: number } };
    realPath(node: unknown): string;
  };
  FS: { isDir(mode: number): boolean };
}

export class OwnerOnlyNodeFS extends NodeFS {
  override async init(...args: InitArgs): ReturnType<NodeFS['init']> {
    const r = await super.init(...args);
    const preRun = (r.emscriptenOpts as { preRun: ((m: EmscriptenModule) => void)[] }).preRun;
    preRun.unshift((m) => {
      const ops = m.NODEFS.node_ops;
      const mknod = ops.mknod;
      ops.mknod = function (this: unknown, ...a: unknown[]) {
        const node = mknod.apply(this, a);
        chmodSync(m.NODEFS.realPath(node), m.FS.isDir(node.mode) ? 0o700 : 0o600);
        return node;
      };
    });
    return r;
  }
}

/** chmod a tree to owner-only: directories 0700, files 0600. */
export function ownerOnly(dir: string): void {
  chmodSync(dir, 0o700);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) ownerOnly(p);
    else if (e.isFile()) chmodSync(p, 0o600);
  }
}
