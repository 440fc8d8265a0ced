// Model releases and the keys that sign them. Release managers upload packages (checked at
// upload); devices (mTLS) find their latest release, download its package with byte ranges
// (RFC 9110 §14, so an interrupted download resumes), and fetch the release keys to verify
// manifests themselves.
import { createPublicKey } from 'node:crypto';
import type { Context } from 'hono';
import { Hono } from 'hono';
import { stream } from 'hono/streaming';
import type { JWK } from 'jose';
import { EdgesealError } from '../../../lib/errors.ts';
import type { DeviceCaller } from '../../core/attestation-service.ts';
import type { ReleaseKey, ReleaseKeys } from '../../core/release-keys.ts';
import type { ReleaseRecord, ReleaseService } from '../../core/releases.ts';
import type { TokenService } from '../../core/tokens.ts';
import { requirePermission } from '../auth.ts';
import type { AppEnv } from '../env.ts';
import { peerAddress, verifiedPeerSerial } from '../tls-peer.ts';

export const releaseView = (r: ReleaseRecord) => ({
  id: r.id,
  model_id: r.modelId,
  version: r.version,
  release_counter: r.releaseCounter,
  hardware_models: r.hardwareModels,
  min_firmware_svn: r.minFirmwareSvn,
  content_key_id: r.contentKeyId,
  release_kid: r.releaseKid,
  plaintext_sha256: r.plaintextSha256,
  plaintext_size: r.plaintextSize,
  package_sha256: r.packageSha256,
  package_size: r.packageSize,
  created_at: r.createdAt.toISOString(),
  created_by: r.createdBy,
});

const keyView = (k: ReleaseKey) => ({
  kid: k.kid,
  label: k.label,
  status: k.revokedAt ? 'revoked' : 'active',
  jwk: createPublicKey({ key: k.publicKeyDer, format: 'der', type: 'spki' }).export({ format: 'jwk' }) as JWK,
  created_at: k.createdAt.toISOString(),
  revoked_at: k.revokedAt?.toISOString() ?? null,
});

/** A device (its mTLS certificate) or a token allowed `release.read`. */
function readerOf(tokens: TokenService, device: (c: Context<AppEnv>) => Promise<DeviceCaller>) {
  return async (c: Context<AppEnv>): Promise<DeviceCaller | undefined> => {
    if (verifiedPeerSerial(c)) return device(c);
    const m = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '');
    await tokens.authorize(m?.[1], 'release.read', peerAddress(c));
    return undefined;
  };
}

export function releaseRoutes(d: {
  releases: ReleaseService;
  tokens: TokenService;
  device: (c: Context<AppEnv>) => Promise<DeviceCaller>;
  maxPackageBytes: number;
}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const reader = readerOf(d.tokens, d.device);
  app.post('/', requirePermission(d.tokens, 'release.publish'), async (c) => {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim();
    if (type !== 'application/octet-stream' && type !== 'application/vnd.edgeseal.model-package') {
      throw new EdgesealError(
        'ERR_UNSUPPORTED_MEDIA_TYPE',
        `a model package is sent as application/octet-stream, got "${type || 'none'}"`,
      );
    }
    const body = Buffer.from(await c.req.arrayBuffer());
    const r = await d.releases.publish(body, c.get('principal').actor, peerAddress(c));
    return c.json(releaseView(r), 201);
  });
  app.get('/', requirePermission(d.tokens, 'release.read'), async (c) =>
    c.json({ items: (await d.releases.list(c.req.query('model_id') || undefined)).map(releaseView) }),
  );
  // a device's newest release for its hardware model (Part 6 replaces this with rollouts)
  app.get('/latest', async (c) => {
    const dev = await d.device(c);
    const r = await d.releases.latestFor(dev.hardwareModel);
    if (!r) throw new EdgesealError('ERR_NOT_FOUND', `no release for hardware model ${dev.hardwareModel}`);
    return c.json({ ...releaseView(r), manifest: r.manifest, package_url: `/v1/releases/${r.id}/package` });
  });
  app.get('/:id', async (c) => {
    const dev = await reader(c);
    const r = await d.releases.get(c.req.param('id'));
    if (dev && !r.hardwareModels.includes(dev.hardwareModel)) {
      throw new EdgesealError('ERR_NOT_FOUND', `no release ${r.id} for this device`);
    }
    return c.json({ ...releaseView(r), manifest: r.manifest });
  });
  app.get('/:id/package', async (c) => {
    const dev = await reader(c);
    const r = await d.releases.get(c.req.param('id'));
    if (dev && !r.hardwareModels.includes(dev.hardwareModel)) {
      throw new EdgesealError('ERR_NOT_FOUND', `no release ${r.id} for this device`);
    }
    const size = r.packageSize;
    let start = 0;
    let end = size;
    const range = c.req.header('range');
    let partial = false;
    if (range) {
      // one range only (RFC 9110 §14.1.1 bytes=first-[last]); anything else is 416
      const m = /^bytes=(\d+)-(\d*)$/.exec(range.trim());
      if (!m || Number(m[1]) >= size || (m[2] && Number(m[2]) < Number(m[1]))) {
        c.header('Content-Range', `bytes */${size}`);
        return c.body(null, 416);
      }
      start = Number(m[1]);
      end = m[2] ? Math.min(size, Number(m[2]) + 1) : size;
      partial = true;
    }
    c.status(partial ? 206 : 200);
    c.header('Content-Type', 'application/vnd.edgeseal.model-package');
    c.header('Content-Length', String(end - start));
    c.header('Accept-Ranges', 'bytes');
    c.header('ETag', `"${r.packageSha256}"`);
    if (partial) c.header('Content-Range', `bytes ${start}-${end - 1}/${size}`);
    return stream(c, async (s) => {
      for await (const piece of d.releases.range(r, start, end)) {
        if (s.aborted) return;
        await s.write(piece);
      }
    });
  });
  return app;
}

export function releaseKeyRoutes(d: {
  keys: ReleaseKeys;
  tokens: TokenService;
  device: (c: Context<AppEnv>) => Promise<DeviceCaller>;
}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const reader = readerOf(d.tokens, d.device);
  app.get('/', async (c) => {
    await reader(c);
    return c.json({ items: (await d.keys.list()).map(keyView) });
  });
  app.post('/', requirePermission(d.tokens, 'release-key.manage'), async (c) => {
    let body: { public_key?: unknown; label?: unknown };
    try {
      body = (await c.req.json()) as typeof body;
    } catch {
      throw new EdgesealError('ERR_INVALID_REQUEST', 'send JSON {"public_key": PEM | JWK, "label"?}');
    }
    if (
      typeof body.public_key !== 'string' &&
      (typeof body.public_key !== 'object' || body.public_key === null)
    ) {
      throw new EdgesealError('ERR_INVALID_REQUEST', 'public_key is required (PEM, base64 SPKI or a JWK)');
    }
    if (body.label !== undefined && typeof body.label !== 'string') {
      throw new EdgesealError('ERR_INVALID_REQUEST', 'label must be a string');
    }
    const k = await d.keys.register(
      body.public_key as string | JWK,
      (body.label as string) ?? null,
      c.get('principal').actor,
    );
    return c.json(keyView(k), 201);
  });
  app.post('/:kid/revoke', requirePermission(d.tokens, 'release-key.revoke'), async (c) =>
    c.json(keyView(await d.keys.revoke(c.req.param('kid'), c.get('principal').actor))),
  );
  return app;
}
