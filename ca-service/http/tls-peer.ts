// The TLS client certificate of the request, as the TLS layer verified it.
import type { TLSSocket } from 'node:tls';
import type { Context } from 'hono';
import { EdgesealError } from '../../lib/errors.ts';
import { parseCertificate } from '../../lib/x509/parse-certificate.ts';
import type { AppEnv } from './env.ts';

/**
 * Serial of a client certificate that chains to our CA and is within validity, or
 * undefined when none was presented. A presented but invalid one is an error that says why.
 */
export function verifiedPeerSerial(c: Context<AppEnv>): string | undefined {
  const socket = c.env?.incoming?.socket as TLSSocket | undefined;
  const peer = socket?.getPeerX509Certificate?.();
  if (!socket || !peer) return undefined;
  if (!socket.authorized) {
    throw new EdgesealError(
      'ERR_UNAUTHENTICATED',
      `client certificate rejected: ${String(socket.authorizationError)}`,
    );
  }
  return parseCertificate(peer.raw).serialHex;
}

/** The peer's IP address (audit of refusals); undefined without a socket (app.request in tests). */
export const peerAddress = (c: Context<AppEnv>): string | undefined => c.env?.incoming?.socket?.remoteAddress;
