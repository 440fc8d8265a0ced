// A worker thread of the connect-rate load generator (mqtt-load.ts connectRate): `loops`
// closed loops of full mTLS handshake + CONNECT + CONNACK + DISCONNECT until the deadline.
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { createSecureContext } from 'node:tls';
import { MqttClient } from '../../lib/mqtt/client.ts';
import type { Device } from './mqtt-load.ts';

const { port, devices, rootPem, seconds } = workerData as {
  port: number;
  devices: Device[];
  rootPem: string;
  seconds: number;
};
const lat: number[] = [];
let errors = 0;
const end = performance.now() + seconds * 1000;
await Promise.all(
  devices.map(async (d) => {
    const secureContext = createSecureContext({ key: d.keyPem, cert: d.certPem, ca: rootPem });
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        const c = await MqttClient.connect({
          url: `mqtts://127.0.0.1:${port}`,
          clientId: d.id,
          tls: { secureContext },
        });
        lat.push(performance.now() - t0);
        await c.end();
      } catch {
        errors++;
      }
    }
  }),
);
parentPort!.postMessage({ lat, errors });
