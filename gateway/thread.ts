// The gateway of `edgeseal up` on a thread of its own: a gateway that follows the control
// plane over HTTPS exactly as a lone one does (remote-link.ts), so that no client of one can
// starve the other's event loop (issue 7, item 6). This file runs on both sides: the main
// thread calls `startGatewayThread`; the worker runs `runInWorker` (gateway/thread-entry.mjs).
import { parentPort, Worker, workerData } from 'node:worker_threads';
import pino from 'pino';
import { EdgesealError } from '../lib/errors.ts';
import { parseGatewayConfig } from './config.ts';
import { startGateway } from './main.ts';
import { remoteControlLink } from './revocation/remote-link.ts';

export interface GatewayThreadOptions {
  /** the environment the gateway's settings are read from (parsed once more in the thread) */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly caUrl: string;
  /** a `gateway`-role token */
  readonly token: string;
  readonly rootPem: string;
}

export interface GatewayThread {
  readonly mqttsUrl: string;
  readonly metricsUrl: string;
  close(): Promise<void>;
}

type FromWorker =
  | { type: 'ready'; mqttsUrl: string; metricsUrl: string }
  | { type: 'error'; message: string; code?: string }
  | { type: 'closed' };

/** Starts the gateway thread; resolves once it listens, rejects with its start-up error. */
export function startGatewayThread(o: GatewayThreadOptions): Promise<GatewayThread> {
  const worker = new Worker(new URL('./thread-entry.mjs', import.meta.url), {
    workerData: o,
    env: { ...o.env },
  });
  return new Promise((resolve, reject) => {
    let started = false;
    worker.on('error', (err) => {
      if (!started) reject(err);
    });
    worker.on('exit', (code) => {
      if (!started) reject(new Error(`the gateway thread exited (${code}) before it listened`));
    });
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'error' && !started) {
        reject(new EdgesealError((m.code as 'ERR_CONFIG') ?? 'ERR_CONFIG', m.message));
      } else if (m.type === 'ready') {
        started = true;
        resolve({
          mqttsUrl: m.mqttsUrl,
          metricsUrl: m.metricsUrl,
          close: () =>
            new Promise<void>((done) => {
              const t = setTimeout(() => void worker.terminate().then(() => done()), 10_000);
              worker.once('exit', () => {
                clearTimeout(t);
                done();
              });
              worker.postMessage('close');
            }),
        });
      }
    });
  });
}

/** The worker side: one gateway, closed when the main thread says so. */
export async function runInWorker(): Promise<void> {
  const port = parentPort!;
  const o = workerData as GatewayThreadOptions;
  try {
    const config = parseGatewayConfig(o.env);
    const log = pino({ level: config.logLevel, base: { service: 'gateway' } });
    const g = await startGateway(
      config,
      remoteControlLink({ caUrl: o.caUrl, token: o.token, rootPem: o.rootPem, log }),
      { log },
    );
    port.on('message', (m) => {
      if (m !== 'close') return;
      g.close().finally(() => {
        port.postMessage({ type: 'closed' } satisfies FromWorker);
        port.close();
      });
    });
    port.postMessage({ type: 'ready', mqttsUrl: g.mqttsUrl, metricsUrl: g.metricsUrl } satisfies FromWorker);
  } catch (e) {
    port.postMessage({
      type: 'error',
      message: e instanceof EdgesealError ? e.detail : e instanceof Error ? e.message : String(e),
      ...(e instanceof EdgesealError ? { code: e.code } : {}),
    } satisfies FromWorker);
    port.close();
  }
}
