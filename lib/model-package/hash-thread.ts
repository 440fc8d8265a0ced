// The plaintext SHA-256 on a second thread. SHA-256 of the plaintext is the longest single
// part of a decryption (~1.8 GB/s on one core against ~3 GB/s for chunked AES-GCM), and it
// cannot be split: so it runs on a worker thread while this thread decrypts the next chunk.
//
// The worker sees only bytes this thread hands it: a chunk's plaintext is copied into a small
// ring of shared memory (32 slots of 256 KiB: cache-sized, the size ChunkOpener decrypts in)
// after its tag verified, in order, and the worker hashes the slots as they fill. Nothing else
// is shared: the output buffer stays an ordinary ArrayBuffer (onnxruntime refuses a
// SharedArrayBuffer), and no plaintext is posted as a message. The digest comes back through
// the same shared memory, and the caller compares it with the manifest before returning: it
// still gates the result. The ring is zeroed at the end of every decryption, passed or failed.
//
// Synchronous on purpose: handing over and collecting use Atomics.wait (allowed on Node's main
// thread), so ChunkOpener and decryptPackage stay synchronous. This thread blocks only while
// the ring is full, i.e. while hashing is the slower part, which is when the inline hash would
// have kept it busy anyway. A worker costs ~25 ms to start: start one per process, ahead of
// time (at agent start, or while waiting for key release), not per decryption.
import { Worker } from 'node:worker_threads';

/** Bytes per ring slot: ChunkOpener's decryption slice, so one update() output fills one slot. */
export const HASH_SLOT_BYTES = 256 * 1024;
const SLOTS = 32;
const REFILL = SLOTS / 4;

// control words (Int32Array over shared memory)
const BELL = 0; // bumped by this thread on every change the worker must see
const PRODUCED = 1; // slots handed over in this session
const CONSUMED = 2; // slots hashed in this session
const STATE = 3;
const WANT = 4; // CONSUMED count this thread waits for (NOBODY when not waiting): the worker wakes it only then
const LEN = 5; // LEN + slot: bytes in that slot
const NOBODY = 0x7fffffff;
const IDLE = 0;
const RUNNING = 1;
const FINISH = 2; // all handed over: digest what is left, then DONE
const DONE = 3; // digest written
const ABORT = 4; // drop the hash, then IDLE
const FAILED = 5; // the worker threw

const WORKER_SOURCE = `'use strict';
const { workerData, parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const ctrl = new Int32Array(workerData.ctrl);
const ring = Buffer.from(workerData.ring);
const digest = Buffer.from(workerData.digest);
const SLOT = ${HASH_SLOT_BYTES}, SLOTS = ${SLOTS};
let hash, consumed = 0;
parentPort.postMessage('ready');
try {
  for (;;) {
    const bell = Atomics.load(ctrl, ${BELL});
    const state = Atomics.load(ctrl, ${STATE});
    if (state === ${RUNNING} || state === ${FINISH}) {
      if (hash === undefined) { hash = createHash('sha256'); consumed = 0; }
      if (consumed < Atomics.load(ctrl, ${PRODUCED})) {
        const s = consumed % SLOTS;
        hash.update(ring.subarray(s * SLOT, s * SLOT + ctrl[${LEN} + s]));
        Atomics.store(ctrl, ${CONSUMED}, ++consumed);
        if (consumed >= Atomics.load(ctrl, ${WANT})) Atomics.notify(ctrl, ${CONSUMED});
        continue;
      }
      if (state === ${FINISH}) {
        hash.digest().copy(digest);
        hash = undefined;
        Atomics.store(ctrl, ${STATE}, ${DONE});
        Atomics.notify(ctrl, ${STATE});
        continue;
      }
    } else if (state === ${ABORT}) {
      hash = undefined;
      Atomics.store(ctrl, ${STATE}, ${IDLE});
      Atomics.notify(ctrl, ${STATE});
      continue;
    }
    Atomics.wait(ctrl, ${BELL}, bell);
  }
} catch {
  Atomics.store(ctrl, ${STATE}, ${FAILED});
  Atomics.notify(ctrl, ${STATE});
  Atomics.notify(ctrl, ${CONSUMED});
}
`;

/** Progress the worker must make within this time, or the decryption fails (a stuck worker). */
const STALL_MS = 30_000;

/**
 * One worker thread that hashes plaintext for one decryption at a time (pass it as the
 * `hashThread` option of decryptReader, decryptStream or decryptPackage). Unref'd: it does not
 * keep the process alive. close() ends it.
 */
export class HashThread {
  private readonly ctrl: Int32Array;
  private readonly ring: Buffer;
  private readonly digestBytes: Buffer;
  private busy = false;
  private closed = false;

  private constructor(
    private readonly worker: Worker,
    ctrl: SharedArrayBuffer,
    ring: SharedArrayBuffer,
    digest: SharedArrayBuffer,
  ) {
    this.ctrl = new Int32Array(ctrl);
    this.ring = Buffer.from(ring);
    this.digestBytes = Buffer.from(digest);
  }

  /** Starts the worker; resolves once it is ready to hash. */
  static async start(): Promise<HashThread> {
    const ctrl = new SharedArrayBuffer(4 * (LEN + SLOTS));
    const ring = new SharedArrayBuffer(SLOTS * HASH_SLOT_BYTES);
    const digest = new SharedArrayBuffer(32);
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { ctrl, ring, digest },
      execArgv: [], // plain CommonJS: none of the parent's loaders (tsx…) needed
    });
    const t = new HashThread(worker, ctrl, ring, digest);
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the hash thread exited (${code}) before it started`)));
    });
    worker.removeAllListeners();
    worker.on('error', () => {}); // its own failures surface as FAILED in the next wait
    worker.on('exit', () => {
      t.closed = true;
    });
    worker.unref();
    return t;
  }

  /** Ends the worker (after the decryption using it, if any, is over). */
  async close(): Promise<void> {
    this.closed = true;
    await this.worker.terminate();
  }

  /** For one decryption: hand plaintext over in order, then take the digest (or discard). */
  begin(): PlaintextHash {
    if (this.closed) throw new TypeError('the hash thread is closed');
    if (this.busy) throw new TypeError('the hash thread is hashing another decryption');
    if (Atomics.load(this.ctrl, STATE) !== IDLE) throw new Error('the hash thread failed');
    this.busy = true;
    Atomics.store(this.ctrl, PRODUCED, 0);
    Atomics.store(this.ctrl, CONSUMED, 0);
    Atomics.store(this.ctrl, WANT, NOBODY);
    Atomics.store(this.ctrl, STATE, RUNNING);
    this.ringBell();
    let produced = 0;
    let open = true;
    const end = (): void => {
      this.ring.fill(0);
      open = false;
      this.busy = false;
    };
    return {
      update: (pt) => {
        if (!open) throw new TypeError('this hash is finished');
        for (let at = 0; at < pt.length; at += HASH_SLOT_BYTES) {
          const piece = pt.subarray(at, at + HASH_SLOT_BYTES);
          // a full ring: wait until a quarter of it is free, not for each slot (every wake-up
          // is a futex round trip between the cores; slot by slot, they cost more than the copy)
          if (produced - Atomics.load(this.ctrl, CONSUMED) >= SLOTS) {
            const want = produced - (SLOTS - REFILL);
            Atomics.store(this.ctrl, WANT, want); // before reading CONSUMED again in the wait
            try {
              this.waitWhile(() => Atomics.load(this.ctrl, CONSUMED) < want, CONSUMED);
            } finally {
              Atomics.store(this.ctrl, WANT, NOBODY);
            }
          }
          const s = produced % SLOTS;
          piece.copy(this.ring, s * HASH_SLOT_BYTES);
          Atomics.store(this.ctrl, LEN + s, piece.length);
          Atomics.store(this.ctrl, PRODUCED, ++produced);
          this.ringBell();
        }
      },
      hex: () => {
        if (!open) throw new TypeError('this hash is finished');
        try {
          Atomics.store(this.ctrl, STATE, FINISH);
          this.ringBell();
          this.waitWhile(() => Atomics.load(this.ctrl, STATE) === FINISH, STATE);
          const hex = this.digestBytes.toString('hex');
          this.digestBytes.fill(0);
          Atomics.store(this.ctrl, STATE, IDLE);
          return hex;
        } finally {
          end();
        }
      },
      discard: () => {
        if (!open) return;
        try {
          if (Atomics.load(this.ctrl, STATE) === RUNNING) {
            Atomics.store(this.ctrl, STATE, ABORT);
            this.ringBell();
            this.waitWhile(() => Atomics.load(this.ctrl, STATE) === ABORT, STATE);
          }
        } finally {
          end();
        }
      },
    };
  }

  private ringBell(): void {
    Atomics.add(this.ctrl, BELL, 1);
    Atomics.notify(this.ctrl, BELL);
  }

  /** Blocks while `cond` holds, waking on changes to ctrl[index]; throws if the worker failed or stalled. */
  private waitWhile(cond: () => boolean, index: number): void {
    let last = Atomics.load(this.ctrl, CONSUMED);
    let since = Date.now();
    for (;;) {
      if (Atomics.load(this.ctrl, STATE) === FAILED) throw new Error('the hash thread failed');
      if (this.closed) throw new Error('the hash thread was closed during a decryption');
      const v = Atomics.load(this.ctrl, index);
      if (!cond()) return;
      Atomics.wait(this.ctrl, index, v, 1000);
      const c = Atomics.load(this.ctrl, CONSUMED);
      if (c !== last) {
        last = c;
        since = Date.now();
      } else if (Date.now() - since > STALL_MS) {
        throw new Error('the hash thread stopped making progress');
      }
    }
  }
}

/** A running SHA-256 of the plaintext, inline or on a HashThread. */
export interface PlaintextHash {
  /** hashes these bytes after all before them (the caller may reuse or wipe them on return) */
  update(pt: Buffer): void;
  /** the digest, lowercase hex; ends the hash */
  hex(): string;
  /** ends the hash without a digest (on failure); idempotent */
  discard(): void;
}
