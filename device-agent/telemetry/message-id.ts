// Telemetry message ids: `<boot ULID>-<seq>`. The ULID (48-bit milliseconds, 80 random bits,
// Crockford base32) is made once per run of the agent, the sequence counts from 1 within it,
// so an id is never used twice by a device, across restarts too, without any state on disk.
// The consumer de-duplicates by (device, message_id).
import { randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID (https://github.com/ulid/spec): 10 characters of time, 16 of randomness. */
export function ulid(nowMs: number = Date.now(), random: (n: number) => Buffer = randomBytes): string {
  let time = '';
  let t = nowMs;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const r = random(10);
  let bits = 0;
  let value = 0;
  let rand = '';
  for (const byte of r) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      rand += CROCKFORD[(value >> bits) & 31];
    }
    value &= (1 << bits) - 1;
  }
  return time + rand;
}

export class MessageIds {
  readonly boot: string;
  private seq = 0;

  constructor(boot: string = ulid()) {
    this.boot = boot;
  }

  next(): { id: string; seq: number } {
    const seq = ++this.seq;
    return { id: `${this.boot}-${seq}`, seq };
  }
}
