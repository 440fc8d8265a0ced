// Following a server-sent event stream of the control plane (text/event-stream over HTTPS
// with the gateway's token): reconnects with backoff, counts silence as loss, and hands
// each event to the caller, who says when the stream is `ready` or must be `reconnect`ed.
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import type { RemoteOptions } from './remote-link.ts';

export interface SseEvent {
  readonly event: string;
  readonly data: string;
  readonly id: string | undefined;
}

export interface SseFollow {
  /** the feed's name in log lines */
  readonly name: string;
  /** asked on every (re)connect */
  path(): string;
  headers(): Record<string, string>;
  /** `ready`: the picture is complete (first time: start-up may go on); `reconnect`: drop and reconnect */
  onEvent(e: SseEvent): 'ready' | 'reconnect' | undefined;
  onDown(why: string): void;
}

/** Parses a text/event-stream body (HTML Living Standard §9.2.6) into events. */
export class SseParser {
  private buf = '';
  private event = 'message';
  private data: string[] = [];
  private id: string | undefined;
  constructor(
    private readonly onEvent: (e: { event: string; data: string; id: string | undefined }) => void,
  ) {}
  feed(text: string): void {
    this.buf += text;
    let nl = this.buf.indexOf('\n');
    while (nl >= 0) {
      const line = this.buf.slice(0, nl).replace(/\r$/, '');
      this.buf = this.buf.slice(nl + 1);
      if (line === '') {
        if (this.data.length) this.onEvent({ event: this.event, data: this.data.join('\n'), id: this.id });
        this.event = 'message';
        this.data = [];
      } else if (!line.startsWith(':')) {
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (field === 'event') this.event = value;
        else if (field === 'data') this.data.push(value);
        else if (field === 'id') this.id = value;
      }
      nl = this.buf.indexOf('\n');
    }
  }
}

/**
 * Follows a stream until `stop`. `firstReady` resolves at the first `ready`, or after 10 s:
 * start-up goes on with what it has (fail-closed policies keep devices out meanwhile).
 */
export function followSse(o: RemoteOptions, f: SseFollow): { firstReady: Promise<void>; stop: () => void } {
  let stopped = false;
  let current: ReturnType<typeof request> | undefined;
  let backoff = 250;
  let firstReady: (() => void) | undefined;
  const ready = new Promise<void>((r) => {
    firstReady = r;
  });
  const connect = () => {
    if (stopped) return;
    let idle: NodeJS.Timeout | undefined;
    const resetIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => req.destroy(new Error('feed silent')), o.idleTimeoutMs ?? 40_000);
      idle.unref();
    };
    let over = false;
    const again = (why: string) => {
      if (over) return;
      over = true;
      clearTimeout(idle);
      f.onDown(why);
      if (stopped) return;
      const t = setTimeout(connect, backoff);
      t.unref();
      backoff = Math.min(backoff * 2, 5000);
    };
    const req = request(`${o.caUrl}${f.path()}`, {
      ca: o.rootPem,
      headers: { authorization: `Bearer ${o.token}`, accept: 'text/event-stream', ...f.headers() },
    });
    current = req;
    req.on('response', (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        o.log.error(
          { status: res.statusCode, feed: f.name },
          `the control plane refused the ${f.name} (is the token a gateway token?)`,
        );
        res.resume();
        backoff = 5000;
        again(`HTTP ${res.statusCode}`);
        return;
      }
      resetIdle();
      res.setEncoding('utf8');
      const parser = new SseParser((e) => {
        let verdict: ReturnType<SseFollow['onEvent']>;
        try {
          verdict = f.onEvent(e);
        } catch (err) {
          o.log.warn(
            { err, feed: f.name, event: e.event },
            `unreadable event on the ${f.name}; reconnecting`,
          );
          verdict = 'reconnect';
        }
        if (verdict === 'ready') {
          backoff = 250;
          firstReady?.();
          firstReady = undefined;
        } else if (verdict === 'reconnect') {
          req.destroy(new Error('reload'));
        }
      });
      res.on('data', (t: string) => {
        resetIdle();
        parser.feed(t);
      });
      res.on('close', () => again('feed closed'));
    });
    req.on('error', (e) => {
      o.log.debug({ err: e.message, feed: f.name }, `${f.name} connection ended`);
      again(e.message);
    });
    req.end();
  };
  connect();
  return {
    firstReady: Promise.race([ready, new Promise<void>((r) => setTimeout(r, 10_000).unref())]),
    stop: () => {
      stopped = true;
      current?.destroy();
    },
  };
}
