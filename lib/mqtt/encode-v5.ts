// MQTT 5 encoders for what differs from 3.1.1: packets that carry reason codes and
// properties (§3.2, §3.4, §3.9, §3.11, §3.14).
import { type PropValue, varintBytes, writeProperties } from './properties.ts';

type PropList = readonly (readonly [number, PropValue])[];

function packet(first: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([first]), varintBytes(body.length), body]);
}

const id16 = (id: number) => Buffer.from([id >> 8, id & 0xff]);

export const encodeConnackV5 = (sessionPresent: boolean, reason: number, props: PropList = []) =>
  packet(0x20, Buffer.concat([Buffer.from([sessionPresent ? 1 : 0, reason]), writeProperties(props)]));

/** PUBACK / PUBREC / PUBREL / PUBCOMP: success without properties is the short form (§3.4.2.1). */
export function encodeAckV5(
  first: 0x40 | 0x50 | 0x62 | 0x70,
  id: number,
  reason = 0,
  reasonString?: string,
): Buffer {
  if (reason === 0 && !reasonString) return packet(first, id16(id));
  const props: PropList = reasonString ? [[0x1f, reasonString]] : [];
  return packet(first, Buffer.concat([id16(id), Buffer.from([reason]), writeProperties(props)]));
}

export const encodeSubackV5 = (id: number, codes: readonly number[]) =>
  packet(0x90, Buffer.concat([id16(id), Buffer.from([0]), Buffer.from(codes)]));

export const encodeUnsubackV5 = (id: number, codes: readonly number[]) =>
  packet(0xb0, Buffer.concat([id16(id), Buffer.from([0]), Buffer.from(codes)]));

export const encodeDisconnectV5 = (reason: number, reasonString?: string) =>
  packet(
    0xe0,
    Buffer.concat([Buffer.from([reason]), writeProperties(reasonString ? [[0x1f, reasonString]] : [])]),
  );
