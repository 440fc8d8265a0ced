// The streaming MQTT parser: TCP/TLS chunks in, whole packets out, in time and memory linear
// in the bytes received. A packet split over many chunks (say a CONNECT dribbled one byte per
// TLS record) is held piece by piece and assembled once, when the bytes its fixed header
// announced have all arrived; the pending bytes are never re-concatenated per chunk. A packet
// over its limit is refused as soon as its fixed header is read, before its body is held.
import { decodePacket } from './codec.ts';
import { type Packet, type ProtocolVersion, TYPE_CODE } from './packets.ts';
import { MqttProtocolError } from './reader.ts';

export interface ParserLimits {
  /** the largest packet accepted (fixed header included) */
  readonly maxPacketBytes: number;
  /** the largest CONNECT accepted: it arrives before anything is known of the client */
  readonly maxConnectBytes?: number;
}

/** A packet whose fixed header announces more than its limit. */
export class MqttPacketTooLarge extends MqttProtocolError {
  constructor(
    readonly packetType: number,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      `${packetType === TYPE_CODE.connect ? 'CONNECT' : 'packet'} of ${bytes} bytes exceeds the limit of ${limit}`,
    );
  }
}

/** Pieces smaller than this (or small views of a larger buffer) are copied into a block. */
const SMALL = 1024;
/** the most a block grows at a time */
const BLOCK = 4096;

/**
 * Feed it chunks as they arrive; it calls back once per whole packet. Payloads are views
 * into the chunk: copy one before keeping it past the callback.
 */
export class MqttParser {
  /** set to 5 once a CONNECT says so: packets after it are read as MQTT 5 */
  version: ProtocolVersion = 4;
  /** bytes copied to keep and assemble partial packets (at most about twice those fed) */
  bytesCopied = 0;
  private readonly maxPacketBytes: number;
  private readonly maxConnectBytes: number;
  /** the pending partial packet: pieces, then the block small pieces are copied into */
  private parts: Buffer[] = [];
  private block: Buffer | undefined;
  private blockLen = 0;
  private held = 0;
  /** the pending packet's size once its fixed header is complete, else 0 */
  private need = 0;

  constructor(limits: number | ParserLimits) {
    const l = typeof limits === 'number' ? { maxPacketBytes: limits } : limits;
    this.maxPacketBytes = l.maxPacketBytes;
    this.maxConnectBytes = l.maxConnectBytes ?? l.maxPacketBytes;
  }

  feed(chunk: Buffer, onPacket: (p: Packet) => void): void {
    if (!chunk.length) return;
    if (!this.held) {
      this.scan(chunk, onPacket);
      return;
    }
    this.hold(chunk);
    if (!this.need) {
      this.need = this.frame(this.peekHeader(), 0)?.total ?? 0;
      if (!this.need) return; // the fixed header itself is still incomplete
    }
    if (this.held < this.need) return;
    this.scan(this.take(), onPacket);
  }

  /** Every whole packet in `buf`; the rest is held. */
  private scan(buf: Buffer, onPacket: (p: Packet) => void): void {
    let pos = 0;
    while (pos < buf.length) {
      const f = this.frame(buf, pos);
      if (!f || buf.length - pos < f.total) {
        this.need = f?.total ?? 0;
        this.hold(buf.subarray(pos));
        return;
      }
      const header = buf[pos]!;
      const end = pos + f.total;
      const p = decodePacket(buf, pos + f.headerLen, end, header, this.version);
      pos = end;
      if (p.type === 'connect' && p.protocolLevel === 5) this.version = 5;
      onPacket(p);
    }
  }

  /**
   * The packet's size from its fixed header at `pos` (§2.2: type byte, Remaining Length in
   * 1–4 bytes of 7 bits), or undefined while the header is incomplete. Throws past a limit.
   */
  private frame(buf: Buffer, pos: number): { headerLen: number; total: number } | undefined {
    let len = 0;
    let mul = 1;
    for (let i = pos + 1; i < pos + 5; i++) {
      if (i >= buf.length) return undefined;
      const b = buf[i]!;
      len += (b & 0x7f) * mul;
      mul *= 128;
      if (!(b & 0x80)) {
        const headerLen = i + 1 - pos;
        const total = headerLen + len;
        const type = buf[pos]! >> 4;
        const limit = type === TYPE_CODE.connect ? this.maxConnectBytes : this.maxPacketBytes;
        if (total > limit) throw new MqttPacketTooLarge(type, total, limit);
        return { headerLen, total };
      }
    }
    throw new MqttProtocolError('malformed remaining length'); // §1.5.5: at most 4 bytes
  }

  /** the first (at most 5) held bytes: all a fixed header can take */
  private peekHeader(): Buffer {
    const out: number[] = [];
    const pieces = this.block ? [...this.parts, this.block.subarray(0, this.blockLen)] : this.parts;
    for (const p of pieces) {
      for (let i = 0; i < p.length && out.length < 5; i++) out.push(p[i]!);
      if (out.length === 5) break;
    }
    return Buffer.from(out);
  }

  private hold(piece: Buffer): void {
    this.held += piece.length;
    // A large piece is kept as it is, unless it is a small view pinning a much larger buffer.
    if (piece.length >= SMALL && piece.length * 4 >= piece.buffer.byteLength) {
      this.closeBlock();
      this.parts.push(piece);
      return;
    }
    if (!this.block || this.blockLen + piece.length > this.block.length) {
      this.closeBlock();
      // grow with what arrives (and no further than the packet needs), not with what is announced
      const want = this.need ? Math.min(BLOCK, this.need - this.held + piece.length) : 16;
      this.block = Buffer.allocUnsafe(Math.max(piece.length, want));
    }
    piece.copy(this.block, this.blockLen);
    this.blockLen += piece.length;
    this.bytesCopied += piece.length;
  }

  private closeBlock(): void {
    if (this.block && this.blockLen) this.parts.push(this.block.subarray(0, this.blockLen));
    this.block = undefined;
    this.blockLen = 0;
  }

  /** everything held, as one buffer (copied once if it is in several pieces) */
  private take(): Buffer {
    this.closeBlock();
    const parts = this.parts;
    const size = this.held;
    this.parts = [];
    this.held = 0;
    this.need = 0;
    if (parts.length === 1) return parts[0]!;
    this.bytesCopied += size;
    return Buffer.concat(parts, size);
  }
}
