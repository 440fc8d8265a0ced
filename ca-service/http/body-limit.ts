// Request bodies larger than the configured limit are refused before any handler runs, and
// audited like every other refusal. Nothing was verified yet, so the caller is named only as
// far as it claimed to be, and the refusal goes through the bounded path for unverified callers.
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { EdgesealError } from '../../lib/errors.ts';
import type { Clock } from '../core/ports.ts';
import type { RefusalSink } from '../core/refusals.ts';
import { basicCredential } from './auth.ts';
import type { AppEnv } from './env.ts';
import { peerAddress } from './tls-peer.ts';

/** `unverified:<token id>` or `unverified:batch:<id>` from an Authorization header, else anonymous */
export function claimedActor(header: string | undefined): string {
  const bearer = /^Bearer\s+(tok_[a-z0-9]{1,32})\./i.exec(header ?? '');
  if (bearer) return `unverified:${bearer[1]}`;
  const basic = basicCredential(header);
  return basic && /^[A-Za-z0-9_-]{1,64}$/.test(basic.batchId)
    ? `unverified:batch:${basic.batchId}`
    : 'anonymous';
}

export function auditedBodyLimit(
  maxBytes: number,
  refusals: RefusalSink,
  clock: Clock,
): MiddlewareHandler<AppEnv> {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1)
    throw new TypeError('maxBytes must be a positive integer');
  return bodyLimit({
    maxSize: maxBytes,
    onError: async (c) => {
      await refusals
        .refused({
          event: {
            at: clock.now(),
            actor: claimedActor(c.req.header('authorization')),
            action: 'http.request',
            outcome: 'refused',
            // the path is the caller's to choose: the refusal sink cuts it short
            subject: `${c.req.method} ${c.req.path}`,
            reason: 'ERR_BODY_TOO_LARGE',
            details: { limit_bytes: maxBytes },
          },
          source: peerAddress(c),
          verified: false,
        })
        .catch((err) => c.get('log')?.error({ err }, 'could not audit a 413 refusal'));
      throw new EdgesealError('ERR_BODY_TOO_LARGE', `request body is larger than ${maxBytes} bytes`);
    },
  });
}
