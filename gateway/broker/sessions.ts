// The open sessions, indexed twice: by client id, the session's name (one connection per id:
// a second one takes it over, [MQTT-3.1.4-2]), and by certificate serial, so that revoking a
// certificate closes every connection it opened. The one owner of both indexes: admission.ts
// adds a connection once its CONNECT is decided, broker.ts forgets it when it closes, and
// revocation (broker.ts) and quarantine.ts read them.
import type { Connection } from './connection.ts';

export class Sessions {
  private readonly byClientId = new Map<string, Connection>();
  private readonly bySerial = new Map<string, Set<Connection>>();

  /** open sessions (one per client id) */
  get size(): number {
    return this.byClientId.size;
  }

  /** the connection holding this client id's session */
  get(clientId: string): Connection | undefined {
    return this.byClientId.get(clientId);
  }

  values(): IterableIterator<Connection> {
    return this.byClientId.values();
  }

  /** every open connection made with this certificate */
  withSerial(serial: string): ReadonlySet<Connection> | undefined {
    return this.bySerial.get(serial);
  }

  /** Index an admitted connection under its client id and its principal's serial. */
  add(c: Connection): void {
    this.byClientId.set(c.clientId, c);
    const serial = c.principal!.serial;
    let serials = this.bySerial.get(serial);
    if (!serials) {
      serials = new Set();
      this.bySerial.set(serial, serials);
    }
    serials.add(c);
  }

  /** Drop a connection; a client id taken over since then stays with its new connection. */
  forget(c: Connection): void {
    if (this.byClientId.get(c.clientId) === c) this.byClientId.delete(c.clientId);
    const serial = c.principal?.serial;
    if (serial) {
      const s = this.bySerial.get(serial);
      s?.delete(c);
      if (s && !s.size) this.bySerial.delete(serial);
    }
  }
}
