// What a client can make the gateway spend before it is anyone (issue 7 item 6), and MQTT
// protocol errors answered as the spec says (item 13): a client without a certificate is
// refused at the TLS handshake, a CONNECT is bounded in size (refused from its fixed header)
// and in time (from the handshake, not reset by each dribbled byte); an empty 3.1.1 client id
// for a persistent session, and MQTT 5 Receive Maximum 0 / Maximum Packet Size 0, are refused.
import { readFileSync } from 'node:fs';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../gateway/config.ts';
import { type Gateway, startGateway } from '../gateway/main.ts';
import { localControlLink } from '../gateway/revocation/local-feed.ts';
import { MqttClient, type MqttConnectError } from '../lib/mqtt/client.ts';
import { encodeConnect } from '../lib/mqtt/codec.ts';
import { PROP, writeProperties } from '../lib/mqtt/properties.ts';
import { metric, metricsText, rootOf } from './helpers/mqtt.ts';
import { enrollDevice, type EnrolledDevice, startStack, type TestStack } from './helpers/stack.ts';

let s: TestStack;
let gw: Gateway;
let dev: EnrolledDevice;
let tlsOpts: ConnectionOptions;
const logLines: string[] = [];
const CONNECT_TIMEOUT_S = 2;

beforeAll(async () => {
  s = await startStack();
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _enc, cb) {
        logLines.push(chunk.toString());
        cb();
      },
    }),
  );
  const config = parseGatewayConfig({
    EDGESEAL_DATA_DIR: s.dir,
    EDGESEAL_GATEWAY_PORT: '0',
    EDGESEAL_GATEWAY_METRICS_PORT: '0',
    EDGESEAL_GATEWAY_CONNECT_TIMEOUT_SECONDS: String(CONNECT_TIMEOUT_S),
    EDGESEAL_GATEWAY_MAX_CONNECT_BYTES: '4096',
  });
  gw = await startGateway(config, localControlLink(s.cp.local), { log });
  dev = await enrollDevice(s, 'cam-c1');
  tlsOpts = {
    host: '127.0.0.1',
    port: gw.port,
    ca: readFileSync(rootOf(s)),
    cert: readFileSync(dev.path),
    key: readFileSync(dev.keyPath),
  };
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await s?.stop();
});

const refusals = async (reason: string) =>
  metric(await metricsText(gw), `edgeseal_gateway_refusals_total{reason="${reason}"}`);

interface Exchange {
  /** bytes of `packet` written before the gateway answered or closed */
  sent: number;
  /** what the gateway sent back */
  got: Buffer;
  /** ms from the end of the TLS handshake to the close */
  closedAfterMs: number;
}

/**
 * Opens an mTLS connection with the device's certificate and writes `packet`, `step` bytes
 * per TLS record every `everyMs` ms; resolves when the gateway closes (or after the answer
 * when `untilAnswer`).
 */
function exchange(
  packet: Buffer,
  o: { step?: number; everyMs?: number; untilAnswer?: boolean; tls?: ConnectionOptions } = {},
): Promise<Exchange> {
  const step = o.step ?? packet.length;
  return new Promise((resolve) => {
    let sent = 0;
    let got = Buffer.alloc(0);
    let t0 = 0;
    let timer: NodeJS.Timeout | undefined;
    const sock = tlsConnect(o.tls ?? tlsOpts, () => {
      t0 = Date.now();
      const next = () => {
        if (sock.destroyed || sent >= packet.length) return;
        sock.write(packet.subarray(sent, sent + step));
        sent = Math.min(packet.length, sent + step);
        timer = setTimeout(next, o.everyMs ?? 0);
      };
      next();
    });
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ sent, got, closedAfterMs: Date.now() - t0 });
    };
    sock.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (o.untilAnswer) done();
    });
    sock.on('close', done);
    sock.on('error', () => {});
  });
}

const connect311 = (clientId: string, extra: Partial<Parameters<typeof encodeConnect>[0]> = {}) =>
  encodeConnect({
    cleanSession: true,
    keepAlive: 60,
    clientId,
    will: undefined,
    username: undefined,
    password: undefined,
    ...extra,
  });

/** An MQTT 5 CONNECT (clean start) with the given properties. */
function connect5(clientId: string, props: [number, number][]): Buffer {
  const id = Buffer.from(clientId);
  const body = Buffer.concat([
    Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 5, 0x02, 0, 60]),
    writeProperties(props),
    Buffer.from([id.length >> 8, id.length & 0xff]),
    id,
  ]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]); // body < 128 bytes
}

describe('gateway: what an unauthenticated client can make it spend', () => {
  it('refuses a client without a certificate at the handshake: no CONNACK, counted and logged', async () => {
    const before = await refusals('no_certificate');
    const { cert: _c, key: _k, ...noCert } = tlsOpts;
    const r = await exchange(connect311('cam-c1'), { tls: noCert });
    expect(r.got.length).toBe(0);
    expect(r.closedAfterMs).toBeLessThan(1000);
    expect(await refusals('no_certificate')).toBe(before + 1);
    const line = logLines.map((l) => JSON.parse(l)).find((l) => l.reason === 'no_certificate');
    expect(line).toMatchObject({ event: 'refused', reason: 'no_certificate', remote: '127.0.0.1' });
  });

  it('refuses a CONNECT over EDGESEAL_GATEWAY_MAX_CONNECT_BYTES from its fixed header, before reading its body', async () => {
    const before = await refusals('connect_too_large');
    const big = connect311('cam-c1', {
      will: { topic: 'devices/cam-c1/status', payload: Buffer.alloc(60_000, 0x61), qos: 0, retain: false },
    });
    // one byte per TLS record: the gateway closes after the fixed header's bytes
    const r = await exchange(big, { step: 1, everyMs: 5 });
    expect(r.got.length).toBe(0);
    expect(r.sent).toBeLessThan(100); // of 60 KB
    expect(await refusals('connect_too_large')).toBe(before + 1);
    // a CONNECT within the bound, dribbled, is read and answered
    const ok = await exchange(
      connect311('cam-c1', {
        will: { topic: 'devices/cam-c1/status', payload: Buffer.alloc(3000, 0x61), qos: 0, retain: false },
      }),
      { step: 16, untilAnswer: true },
    );
    expect([...ok.got.subarray(0, 4)]).toEqual([0x20, 2, 0, 0]); // CONNACK accepted
  });

  it('bounds the whole CONNECT in time from the handshake: dribbling does not reset the clock', async () => {
    const before = await refusals('connect_timeout');
    const packet = connect311('cam-c1', {
      will: { topic: 'devices/cam-c1/status', payload: Buffer.alloc(400, 0x61), qos: 0, retain: false },
    });
    // a byte every 20 ms would take 9 s: far longer than the 2 s allowed
    const r = await exchange(packet, { step: 1, everyMs: 20 });
    expect(r.got.length).toBe(0);
    expect(r.sent).toBeLessThan(packet.length);
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_S * 1000 - 100);
    expect(r.closedAfterMs).toBeLessThan(CONNECT_TIMEOUT_S * 1000 + 1500); // checked every 500 ms
    expect(await refusals('connect_timeout')).toBe(before + 1);
  });
});

describe('gateway: MQTT protocol errors as the spec says', () => {
  it('answers a 3.1.1 zero-byte client id with clean session 0 with CONNACK 2, identifier rejected [MQTT-3.1.3-8]', async () => {
    const err = await MqttClient.connect({
      url: `mqtts://127.0.0.1:${gw.port}`,
      clientId: '',
      clean: false,
      tls: tlsOpts,
    }).then(
      (c) => {
        c.destroy();
        return undefined;
      },
      (e: MqttConnectError) => e,
    );
    expect(err?.returnCode).toBe(2);
    expect(await refusals('client_id_required')).toBe(1);
    // with clean session 1 the gateway assigns the device id (§3.1.3.1)
    const ok = await MqttClient.connect({ url: `mqtts://127.0.0.1:${gw.port}`, clientId: '', tls: tlsOpts });
    await ok.end();
  });

  it.each([
    ['Receive Maximum', PROP.receiveMaximum],
    ['Maximum Packet Size', PROP.maximumPacketSize],
  ])('answers an MQTT 5 CONNECT with %s 0 with CONNACK 0x82, protocol error', async (what, prop) => {
    const before = await refusals('protocol_error');
    const r = await exchange(connect5('cam-c1', [[prop, 0]]));
    expect(r.got[0]).toBe(0x20); // CONNACK
    expect(r.got[3]).toBe(0x82); // protocol error (§3.1.2.11.3, §3.1.2.11.4)
    expect(r.got.toString('latin1')).toContain(`${what} 0`); // the reason string
    expect(await refusals('protocol_error')).toBe(before + 1);
    // a non-zero value is accepted
    const ok = await exchange(connect5('cam-c1', [[prop, 10]]), { untilAnswer: true });
    expect([ok.got[0], ok.got[3]]).toEqual([0x20, 0]);
  });
});
