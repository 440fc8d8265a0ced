// MQTT 3.1.1 (OASIS, 2014) control packets as plain values. The codec (codec.ts) turns bytes
// into these and back; nothing here does I/O.

export type QoS = 0 | 1 | 2;

export interface Will {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
}

export interface ConnectPacket {
  readonly type: 'connect';
  readonly protocolLevel: number;
  readonly cleanSession: boolean;
  readonly keepAlive: number;
  readonly clientId: string;
  readonly will: Will | undefined;
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
}

export interface PublishPacket {
  readonly type: 'publish';
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly dup: boolean;
  /** present when qos > 0 */
  readonly id: number | undefined;
}

export interface SubscribePacket {
  readonly type: 'subscribe';
  readonly id: number;
  readonly subscriptions: readonly { readonly filter: string; readonly qos: QoS }[];
}

export interface UnsubscribePacket {
  readonly type: 'unsubscribe';
  readonly id: number;
  readonly filters: readonly string[];
}

export interface ConnackPacket {
  readonly type: 'connack';
  readonly sessionPresent: boolean;
  readonly returnCode: number;
}

export interface SubackPacket {
  readonly type: 'suback';
  readonly id: number;
  readonly codes: readonly number[];
}

export interface AckPacket {
  readonly type: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp' | 'unsuback';
  readonly id: number;
}

export interface BarePacket {
  readonly type: 'pingreq' | 'pingresp' | 'disconnect';
}

export type Packet =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | AckPacket
  | BarePacket;

/** CONNACK return codes, MQTT 3.1.1 §3.2.2.3 */
export const CONNACK = {
  accepted: 0,
  unacceptableProtocolVersion: 1,
  identifierRejected: 2,
  serverUnavailable: 3,
  badUsernameOrPassword: 4,
  notAuthorized: 5,
} as const;

/** SUBACK failure return code, §3.9.3 */
export const SUBACK_FAILURE = 0x80;

export const TYPE_CODE = {
  connect: 1,
  connack: 2,
  publish: 3,
  puback: 4,
  pubrec: 5,
  pubrel: 6,
  pubcomp: 7,
  subscribe: 8,
  suback: 9,
  unsubscribe: 10,
  unsuback: 11,
  pingreq: 12,
  pingresp: 13,
  disconnect: 14,
} as const;
