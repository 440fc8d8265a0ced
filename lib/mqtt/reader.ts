// Reading MQTT's primitive types from a packet, strictly (MQTT 3.1.1 §1.5, MQTT 5 §1.5).

export class MqttProtocolError extends Error {
  override readonly name = 'MqttProtocolError';
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A UTF-8 encoded string field (§1.5.3): length-prefixed, well-formed, no U+0000. */
export function utf8(buf: Buffer, start: number, end: number, what: string): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b === 0) throw new MqttProtocolError(`${what} contains U+0000`); // [MQTT-1.5.3-2]
    if (b > 0x7f) ascii = false;
  }
  if (ascii) return buf.toString('latin1', start, end);
  try {
    return fatalUtf8.decode(buf.subarray(start, end)); // [MQTT-1.5.3-1]
  } catch {
    throw new MqttProtocolError(`${what} is not well-formed UTF-8`);
  }
}

export class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }
  need(n: number, what: string) {
    if (this.pos + n > this.end) throw new MqttProtocolError(`packet too short for ${what}`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }
  u16(what: string): number {
    this.need(2, what);
    const v = (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
    this.pos += 2;
    return v;
  }
  bytes(what: string): Buffer {
    const n = this.u16(what);
    this.need(n, what);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  string(what: string): string {
    const n = this.u16(what);
    this.need(n, what);
    const s = utf8(this.buf, this.pos, this.pos + n, what);
    this.pos += n;
    return s;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  /** Variable Byte Integer (MQTT 5 §1.5.5) */
  varint(what: string): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 4; i++) {
      const b = this.u8(what);
      v += (b & 0x7f) * mul;
      if (!(b & 0x80)) return v;
      mul *= 128;
    }
    throw new MqttProtocolError(`malformed variable byte integer in ${what}`);
  }
  get remaining(): number {
    return this.end - this.pos;
  }
  done(what: string) {
    if (this.pos !== this.end) throw new MqttProtocolError(`${what} has ${this.end - this.pos} extra bytes`);
  }
}
