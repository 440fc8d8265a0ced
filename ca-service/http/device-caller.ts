// The device on the other end of an mTLS request: its TLS client certificate verified by
// the TLS layer (chain, validity), known to the CA as a device certificate, and not revoked.
import type { Context } from 'hono';
import { EdgesealError } from '../../lib/errors.ts';
import type { DeviceCaller } from '../core/attestation-service.ts';
import type { CertificateRecord } from '../core/ports.ts';
import type { AppEnv } from './env.ts';
import { peerAddress, verifiedPeerSerial } from './tls-peer.ts';

const CACHE_MS = 30_000;

export function deviceCallers(
  lookup: (serial: string) => Promise<CertificateRecord | undefined>,
  isRevoked: (serial: string) => boolean,
): (c: Context<AppEnv>) => Promise<DeviceCaller> {
  // certificates do not change; revocation is checked on every call from the in-memory view
  const cache = new Map<string, { at: number; rec: CertificateRecord }>();
  return async (c) => {
    const serial = verifiedPeerSerial(c);
    if (!serial) {
      throw new EdgesealError(
        'ERR_UNAUTHENTICATED',
        'this needs the device certificate as TLS client certificate (mutual TLS)',
      );
    }
    const now = Date.now();
    let rec = cache.get(serial);
    if (!rec || now - rec.at > CACHE_MS) {
      const found = await lookup(serial);
      if (found?.kind !== 'device' || !found.deviceId) {
        throw new EdgesealError(
          'ERR_CERT_UNKNOWN',
          'the client certificate was not issued to a device by this CA',
        );
      }
      if (cache.size > 50_000) cache.clear();
      rec = { at: now, rec: found };
      cache.set(serial, rec);
    }
    if (rec.rec.revokedAt || isRevoked(serial)) {
      throw new EdgesealError('ERR_CERT_REVOKED', 'the client certificate is revoked');
    }
    const fields = c.get('logFields');
    if (fields) fields.actor = `device:${rec.rec.deviceId}`;
    return {
      deviceId: rec.rec.deviceId!,
      serial,
      hardwareModel: rec.rec.hardwareModel ?? '',
      source: peerAddress(c),
    };
  };
}
