import type { HttpBindings } from '@hono/node-server';
import type { Logger } from 'pino';
import type { Principal } from '../core/tokens.ts';

/** Hono environment shared by every route file. */
export interface AppEnv {
  Bindings: HttpBindings;
  Variables: {
    requestId: string;
    log: Logger;
    principal: Principal;
    /** set by handlers for the request log line: ids and hashes only */
    logFields: Record<string, unknown>;
  };
}
