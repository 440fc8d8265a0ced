// Binding a server, with a message that names the setting to change when the port is taken.
import type { AddressInfo } from 'node:net';
import { EdgesealError } from './errors.ts';

interface Listenable {
  once(event: 'error', l: (e: NodeJS.ErrnoException) => void): unknown;
  off(event: 'error', l: (e: NodeJS.ErrnoException) => void): unknown;
  listen(port: number, host: string, cb: () => void): unknown;
  address(): AddressInfo | string | null;
}

export const listen = (server: Listenable, port: number, host: string, setting: string): Promise<number> =>
  new Promise<number>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) =>
      reject(
        new EdgesealError(
          'ERR_CONFIG',
          e.code === 'EADDRINUSE'
            ? `cannot listen on ${host}:${port}: the port is in use (another edgeseal?); set ${setting}`
            : `cannot listen on ${host}:${port}: ${e.code ?? e.message}; check ${setting} and EDGESEAL_LISTEN_HOST`,
        ),
      );
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
