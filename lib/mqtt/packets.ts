// MQTT 3.1.1 (OASIS, 2014) and MQTT 5.0 (OASIS, 2019) control packets as plain values. The
// codec (codec.ts) turns bytes into these and back; nothing here does I/O. Fields only MQTT 5
// has (properties, reason codes, subscription options) are optional.
import type { Properties } from './properties.ts';

export type ProtocolVersion = 4 | 5;

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
  /** 3.1.1 Clean Session; MQTT 5 Clean Start */
  readonly cleanSession: boolean;
  readonly properties?: Properties;
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
  readonly properties?: Properties;
}

export interface Subscription {
  readonly filter: string;
  readonly qos: QoS;
  /** MQTT 5 subscription options (§3.8.3.1) */
  readonly noLocal?: boolean;
  readonly retainAsPublished?: boolean;
  readonly retainHandling?: 0 | 1 | 2;
}

export interface SubscribePacket {
  readonly type: 'subscribe';
  readonly id: number;
  readonly subscriptions: readonly Subscription[];
  readonly properties?: Properties;
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
  /** MQTT 5 reason code (0 when absent) */
  readonly reasonCode?: number;
}

export interface BarePacket {
  readonly type: 'pingreq' | 'pingresp' | 'disconnect';
  /** MQTT 5 DISCONNECT reason code (0 when absent; 0x04 = publish the will) */
  readonly reasonCode?: number;
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

/** MQTT 5 reason codes (§2.4) the gateway sends */
export const REASON = {
  success: 0x00,
  disconnectWithWill: 0x04,
  unspecified: 0x80,
  malformedPacket: 0x81,
  protocolError: 0x82,
  unsupportedProtocolVersion: 0x84,
  clientIdNotValid: 0x85,
  badUserNameOrPassword: 0x86,
  notAuthorized: 0x87,
  serverUnavailable: 0x88,
  serverShuttingDown: 0x8b,
  badAuthenticationMethod: 0x8c,
  keepAliveTimeout: 0x8d,
  sessionTakenOver: 0x8e,
  topicFilterInvalid: 0x8f,
  topicNameInvalid: 0x90,
  topicAliasInvalid: 0x94,
  packetTooLarge: 0x95,
  messageRateTooHigh: 0x96,
  administrativeAction: 0x98,
  payloadFormatInvalid: 0x99,
  sharedSubscriptionsNotSupported: 0x9e,
  subscriptionIdsNotSupported: 0xa1,
} as const;

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
