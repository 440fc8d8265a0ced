// Attestation over mutual TLS (RFC 9334 challenge–response): a device asks for a nonce,
// sends its evidence (an EAT JWT, application/eat+jwt) and gets a signed EAR result; it
// exchanges an affirming result for a content key. People read the results.
import { Hono } from 'hono';
import { EdgesealError } from '../../../lib/errors.ts';
import type { AttestationService, DeviceCaller } from '../../core/attestation-service.ts';
import type { TokenService } from '../../core/tokens.ts';
import type { AttestationStore, StoredResult } from '../../store/attestation-store.ts';
import { requirePermission } from '../auth.ts';
import type { AppEnv } from '../env.ts';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import {
  type AttestationChange,
  type AttestationFeed,
  requirementEvent,
  stateEvent,
} from '../../attestation/feed.ts';
import type { TokenWatcher } from '../token-watch.ts';

const MAX_EVIDENCE = 16 * 1024;

export const resultView = (r: StoredResult, now: Date) => ({
  result_id: r.id,
  device_id: r.deviceId,
  hardware_model: r.hardwareModel,
  status: r.status,
  fresh: r.expiresAt > now,
  reasons: JSON.parse(r.reasons) as { code: string; detail: string }[],
  trust_vector: JSON.parse(r.trustVector) as Record<string, number>,
  firmware: { sha256: r.firmwareSha256, version: r.firmwareVersion, svn: r.firmwareSvn },
  agent_sha256: r.agentSha256,
  cert_serial: r.certSerial,
  issued_at: r.issuedAt.toISOString(),
  expires_at: r.expiresAt.toISOString(),
  reappraisal: r.reappraisal,
});

export function attestationRoutes(d: {
  service: AttestationService;
  store: AttestationStore;
  tokens: TokenService;
  device: (c: Context<AppEnv>) => Promise<DeviceCaller>;
  feed: AttestationFeed;
  watcher: TokenWatcher;
  now: () => Date;
}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post('/challenge', async (c) => {
    const r = await d.service.challenge(await d.device(c));
    return c.json({ nonce: r.nonce, expires_at: r.expiresAt.toISOString() }, 201);
  });
  app.post('/evidence', async (c) => {
    const dev = await d.device(c);
    const body = await c.req.arrayBuffer();
    if (body.byteLength > MAX_EVIDENCE) {
      throw new EdgesealError('ERR_BODY_TOO_LARGE', `evidence is limited to ${MAX_EVIDENCE} bytes`);
    }
    const r = await d.service.submitEvidence(dev, c.req.header('content-type') ?? '', new Uint8Array(body));
    return c.json({
      result_id: r.resultId,
      status: r.status,
      result: r.result,
      expires_at: r.expiresAt.toISOString(),
      reasons: r.reasons,
      trust_vector: r.trustVector,
    });
  });
  // Server-sent events for gateways: every model's requirement and every device's live state
  // first (`requirement`, `state`), then `ready`, then changes as they happen; `reload` means
  // reconnect for a fresh picture. Ends like the revocation feed when its token stops counting.
  app.get('/events', requirePermission(d.tokens, 'attestation.feed'), (c) => {
    const { tokenId } = c.get('principal');
    return streamSSE(c, async (stream) => {
      const queue: (AttestationChange | 'reload')[] = [];
      let wake: (() => void) | undefined;
      let ended: string | undefined;
      const over = () => stream.aborted || ended !== undefined;
      const off = d.feed.subscribe((change) => {
        queue.push(change);
        wake?.();
      });
      const unwatch = d.watcher.watch(tokenId, 'attestation.feed', (why) => {
        ended = why;
        wake?.();
      });
      stream.onAbort(() => {
        off();
        unwatch();
        wake?.();
      });
      const send = async (ch: AttestationChange) => {
        for (const m of ch.models)
          await stream.writeSSE({ event: 'requirement', data: JSON.stringify(requirementEvent(m)) });
        for (const st of ch.states)
          await stream.writeSSE({ event: 'state', data: JSON.stringify(stateEvent(st)) });
      };
      await send(await d.feed.snapshot());
      if (!over()) await stream.writeSSE({ event: 'ready', data: '{}' });
      while (!over()) {
        const next = queue.shift();
        if (next === 'reload') {
          await stream.writeSSE({ event: 'reload', data: '{}' });
          continue;
        }
        if (next) {
          await send(next);
          continue;
        }
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 15_000).unref();
        });
        wake = undefined;
        if (!queue.length && !over()) await stream.write(': keep-alive\n\n');
      }
      off();
      unwatch();
      if (ended !== undefined && !stream.aborted) {
        await stream.writeSSE({ event: 'end', data: JSON.stringify({ reason: ended }) });
      }
    });
  });
  app.get('/results', requirePermission(d.tokens, 'attestation.read'), async (c) => {
    const device = c.req.query('device_id');
    const limit = Number(c.req.query('limit') ?? '1000');
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
      throw new EdgesealError('ERR_INVALID_REQUEST', 'limit must be 1–10000');
    }
    const rows = await d.store.statuses(device || undefined, limit);
    const now = d.now();
    return c.json({ items: rows.map((r) => resultView(r, now)) });
  });
  return app;
}

export function keyRoutes(d: {
  service: AttestationService;
  tokens: TokenService;
  device: (c: Context<AppEnv>) => Promise<DeviceCaller>;
}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post('/', requirePermission(d.tokens, 'key.create'), async (c) => {
    let body: { label?: unknown; hardware_models?: unknown } = {};
    try {
      const text = await c.req.text();
      body = text ? (JSON.parse(text) as typeof body) : {};
    } catch {
      throw new EdgesealError('ERR_INVALID_REQUEST', 'request body is not valid JSON');
    }
    const label = body.label === undefined ? null : body.label;
    if (label !== null && (typeof label !== 'string' || label.length > 128)) {
      throw new EdgesealError('ERR_INVALID_REQUEST', 'label must be a string of at most 128 characters');
    }
    const models = body.hardware_models ?? [];
    if (
      !Array.isArray(models) ||
      models.some((m) => typeof m !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(m))
    ) {
      throw new EdgesealError(
        'ERR_INVALID_REQUEST',
        'hardware_models must be a list of hardware model names',
      );
    }
    const k = await d.service.createContentKey(label, models as string[], c.get('principal').actor);
    return c.json(
      { id: k.id, label: k.label, hardware_models: k.hardwareModels, created_at: k.createdAt.toISOString() },
      201,
    );
  });
  app.post('/:id/release', async (c) => {
    const dev = await d.device(c);
    let body: { result?: unknown };
    try {
      body = (await c.req.json()) as { result?: unknown };
    } catch {
      throw new EdgesealError('ERR_INVALID_REQUEST', 'send JSON {"result": "<attestation result>"}');
    }
    const r = await d.service.releaseKey(dev, c.req.param('id'), body?.result);
    return c.json({ key_id: r.keyId, kid: r.kid, jwe: r.jwe });
  });
  return app;
}
