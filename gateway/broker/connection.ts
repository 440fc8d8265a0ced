// One client's TLS connection: framing (the codec's streaming parser), batched writes, and
// the facts the broker keeps about it. Protocol decisions live in admission.ts (CONNECT) and
// broker.ts (everything after).
import type { TLSSocket } from 'node:tls';
import { encodePublish, MqttProtocolError } from '../../lib/mqtt/codec.ts';
import type { Packet, ProtocolVersion, QoS, Will } from '../../lib/mqtt/packets.ts';
import { MqttParser, type ParserLimits } from '../../lib/mqtt/parser.ts';
import type { PeerFacts, Principal } from '../core/identity.ts';

// Writes are gathered per event-loop turn and flushed together, so many small MQTT packets
// to one client become one TLS record instead of one each.
const dirty: Connection[] = [];
let scheduled = false;
function flushAll(): void {
  scheduled = false;
  const list = dirty.splice(0);
  for (const c of list) c.flush();
}

export type ConnectionState = 'connecting' | 'open' | 'closed';

export class Connection {
  state: ConnectionState = 'connecting';
  /** 4 = MQTT 3.1.1, 5 = MQTT 5, from CONNECT */
  version: ProtocolVersion = 4;
  /** keep the session after the connection ends (3.1.1: clean session 0; 5: session expiry > 0) */
  persistent = false;
  /** MQTT 5: QoS 1 messages the client accepts in flight, and the largest packet it takes */
  receiveMaximum = 65_535;
  maxPacketSize = Number.POSITIVE_INFINITY;
  /** the client certificate's facts, read once at the handshake */
  peer: PeerFacts | undefined;
  principal: Principal | undefined;
  clientId = '';
  will: Will | undefined;
  keepAliveMs = 0;
  /** the session ends when its certificate does */
  certNotAfter = Number.POSITIVE_INFINITY;
  lastIn: number;
  readonly openedAt: number;
  /** QoS 2 packet ids received and not yet released (PUBREL) */
  qos2: Set<number> | undefined; // allocated on the first QoS 2 message: most clients never send one
  /** CONNACK sent: packets may be routed (before that they wait in `early`) */
  ready = false;
  early: Packet[] | undefined;
  /** the last acknowledgement still to be sent, when some wait (in order) */
  ackChain: Promise<void> | undefined;
  /** sessions whose full queues keep this publisher paused (local router flow control) */
  blockedBy: Set<unknown> | undefined;
  /** state the router keeps for this connection */
  routerState: unknown;
  /** last known attestation standing, to log when it changes (quarantine.ts) */
  quarantined?: boolean;
  closeReason: string | undefined;
  messagesIn = 0;
  messagesOut = 0;
  private out: Buffer[] = [];
  private outBytes = 0;
  private queued = false;
  private firstChunk = true;
  private readonly parser: MqttParser;

  constructor(
    readonly socket: TLSSocket,
    readonly id: number,
    /** the largest packet, and the largest CONNECT (read before anything is known of the client) */
    limits: ParserLimits,
    now: number,
    onPacket: (c: Connection, p: Packet) => void,
    onError: (c: Connection, e: Error) => void,
  ) {
    this.lastIn = now;
    this.openedAt = now;
    this.parser = new MqttParser(limits);
    const handle = (p: Packet) => onPacket(this, p);
    socket.on('data', (chunk: Buffer) => {
      if (this.state === 'closed') return;
      if (this.firstChunk && chunk.length) {
        this.firstChunk = false;
        // The first packet must be CONNECT [MQTT-3.1.0-1]: say so now, not after a timeout.
        if (chunk[0]! >> 4 !== 1) {
          onError(this, new MqttProtocolError(`first packet is type ${chunk[0]! >> 4}, not CONNECT`));
          return;
        }
      }
      try {
        this.parser.feed(chunk, handle);
      } catch (e) {
        onError(this, e instanceof MqttProtocolError ? e : (e as Error));
      }
    });
  }

  write(buf: Buffer): void {
    if (this.state === 'closed') return;
    this.out.push(buf);
    this.outBytes += buf.length;
    if (!this.queued) {
      this.queued = true;
      dirty.push(this);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flushAll);
      }
    }
  }

  sendPublish(
    topic: string,
    payload: Buffer,
    qos: QoS,
    retain: boolean,
    id: number | undefined,
    dup = false,
  ): boolean {
    // false when the packet exceeds the client's Maximum Packet Size (MQTT 5 §3.1.2.11.4)
    const packet = encodePublish(topic, payload, qos, retain, id, dup, this.version);
    if (packet.length > this.maxPacketSize) return false;
    this.messagesOut++;
    this.write(packet);
    return true;
  }

  flush(): void {
    this.queued = false;
    if (!this.out.length || this.socket.destroyed) return;
    const data = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out, this.outBytes);
    this.out = [];
    this.outBytes = 0;
    this.socket.write(data);
  }

  /** bytes written but not yet on the wire */
  backlog(): number {
    return this.outBytes + this.socket.writableLength;
  }

  /** Send what is pending (a CONNACK or DISCONNECT, say), then close. */
  end(reason: string): void {
    if (this.state === 'closed') return;
    this.closeReason ??= reason;
    this.flush();
    this.state = 'closed';
    this.socket.destroySoon(); // closes once the pending bytes are written
    // a peer that never reads must not keep the socket
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  /** Close at once. */
  destroy(reason: string): void {
    this.closeReason ??= reason;
    this.state = 'closed';
    this.socket.destroy();
  }
}
