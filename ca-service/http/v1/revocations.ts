import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { z } from 'zod';
import { EdgesealError } from '../../../lib/errors.ts';
import {
  parseReason,
  reasonName,
  type RevocationService,
  type RevokedPage,
  revokedPages,
  type RevocationTarget,
  type RevokedEntry,
} from '../../core/revocation.ts';
import type { TokenService } from '../../core/tokens.ts';
import { requirePermission } from '../auth.ts';
import { TokenWatcher } from '../token-watch.ts';
import type { AppEnv } from '../env.ts';
import { jsonBody } from '../validate.ts';
import { RevokeBody } from './schemas.ts';

const MAX_LISTED = 1000;

export function revocationRoutes(
  revocations: RevocationService,
  replay: RevokedPage,
  tokens: TokenService,
): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const watcher = new TokenWatcher(tokens);
  app.post('/', requirePermission(tokens, 'certificate.revoke'), async (c) => {
    const body: z.infer<typeof RevokeBody> = await jsonBody(c, RevokeBody);
    const given = (['serial', 'device_id', 'batch_id'] as const).filter((k) => body[k] !== undefined);
    if (given.length !== 1) {
      throw new EdgesealError('ERR_INVALID_REQUEST', 'give exactly one of serial, device_id, batch_id');
    }
    const target: RevocationTarget = body.serial
      ? { serial: body.serial.toLowerCase().replace(/:/g, '') }
      : body.device_id
        ? { deviceId: body.device_id }
        : { batchId: body.batch_id! };
    const reason = parseReason(body.reason);
    const r = await revocations.revoke(target, reason, c.get('principal').actor);
    c.get('logFields').revoked = r.revoked.length;
    return c.json({
      revoked: r.revoked.length,
      already_revoked: r.alreadyRevoked,
      reason: reasonName(reason),
      serials: r.revoked.slice(0, MAX_LISTED).map((e) => e.serial),
    });
  });
  // Server-sent events: each revocation as it happens, for gateways and monitors. The event
  // id is the revocation time (ms); reconnecting with Last-Event-ID replays from there
  // (entries at the same millisecond may repeat: subscribers de-duplicate by serial).
  // `since=0` replays every revocation: a gateway's initial state. A `reload` event means
  // another instance revoked too many to list: reconnect with Last-Event-ID to catch up.
  // The stream lives only as long as its token counts: revoked, expired or no longer allowed,
  // it gets an `end` event saying why and is closed (token-watch.ts: within a second).
  app.get('/events', requirePermission(tokens, 'revocation.feed'), (c) => {
    const lastId = c.req.header('last-event-id') ?? c.req.query('since');
    const since = lastId !== undefined && /^\d{1,15}$/.test(lastId) ? new Date(Number(lastId)) : undefined;
    const { tokenId } = c.get('principal');
    return streamSSE(c, async (stream) => {
      const queue: RevokedEntry[][] = [];
      let wake: (() => void) | undefined;
      let ended: string | undefined;
      const over = () => stream.aborted || ended !== undefined;
      const off = revocations.onRevoked((entries) => {
        queue.push([...entries]);
        wake?.();
      });
      const unwatch = watcher.watch(tokenId, 'revocation.feed', (why) => {
        ended = why;
        wake?.();
      });
      stream.onAbort(() => {
        off();
        unwatch();
        wake?.();
      });
      const send = (e: RevokedEntry) =>
        stream.writeSSE({
          event: 'revocation',
          id: String(e.revokedAt.getTime()),
          data: JSON.stringify({
            serial: e.serial,
            device_id: e.deviceId,
            issuer_id: e.issuerId,
            revoked_at: e.revokedAt.toISOString(),
            reason: reasonName(e.reason),
          }),
        });
      if (since) {
        for await (const page of revokedPages(replay, since)) {
          if (over()) break;
          for (const e of page) await send(e);
        }
      }
      if (!over()) await stream.writeSSE({ event: 'ready', data: '{}' });
      while (!over()) {
        const batch = queue.shift();
        if (batch) {
          if (!batch.length) await stream.writeSSE({ event: 'reload', data: '{}' });
          for (const e of batch) await send(e);
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
  return app;
}
