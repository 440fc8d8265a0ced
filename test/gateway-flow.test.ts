// Flow control in the in-process broker: a subscriber slower than its publishers makes them
// wait; nothing a publisher had acknowledged is dropped, and the order holds.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../gateway/main.ts';
import { MqttClient } from '../lib/mqtt/client.ts';
import { jwe, metric, metricsText, rootOf, serviceIdentity, startTestGateway } from './helpers/mqtt.ts';
import { enrollDevice, type EnrolledDevice, startStack, type TestStack } from './helpers/stack.ts';

let s: TestStack;
let gw: Gateway;
let dev: EnrolledDevice;

beforeAll(async () => {
  s = await startStack();
  gw = await startTestGateway(s, { EDGESEAL_GATEWAY_RATE: '0' });
  dev = await enrollDevice(s, 'cam-flow');
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await s?.stop();
});

describe('gateway flow control', () => {
  it('holds a fast QoS 1 publisher back for a slow subscriber and delivers every acknowledged message, in order', async () => {
    const ca = readFileSync(rootOf(s));
    const sinkId = await serviceIdentity(s, 'slow-sink');
    const url = `mqtts://127.0.0.1:${gw.port}`;
    const got: number[] = [];
    let acks: Promise<void> = Promise.resolve();
    const sink = await MqttClient.connect({
      url,
      clientId: 'svc:slow-sink',
      tls: { ca, cert: readFileSync(sinkId.certPath), key: readFileSync(sinkId.keyPath) },
      // a slow consumer: one acknowledgement a millisecond, one after the other
      onMessage: (m, ack) => {
        got.push(Number(m.payload.toString().split('.')[3]));
        acks = acks.then(() => new Promise((r) => setTimeout(r, 1))).then(ack);
      },
    });
    expect(await sink.subscribe('devices/+/telemetry', 1)).toEqual([1]);
    const pub = await MqttClient.connect({
      url,
      clientId: 'cam-flow',
      tls: { ca, cert: readFileSync(dev.path), key: readFileSync(dev.keyPath) },
    });
    const N = 3000;
    const header = jwe('x').split('.')[0];
    // fire all at once: the gateway acknowledges what it accepted, and pauses reading the rest
    await Promise.all(
      Array.from({ length: N }, (_, i) =>
        pub.publish('devices/cam-flow/telemetry', `${header}..aXY.${i}.dGFn`, 1),
      ),
    );
    // held back: by the last PUBACK the subscriber has most of them (without flow control
    // every PUBACK would be back at once while the subscriber had about a window's worth)
    expect(got.length).toBeGreaterThan(N - 1000);
    const end = Date.now() + 20_000;
    while (got.length < N && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(got.length).toBe(N);
    expect(got).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(
      metric(await metricsText(gw), 'edgeseal_gateway_messages_dropped_total{reason="queue_full"}'),
    ).toBe(0);
    await pub.end();
    await sink.end();
  });
});
