// Wires the telemetry half of the control plane (called by ca-service/main.ts, the
// composition root): the store and the device views read from it always; the consumer only
// when there is a gateway to read from — EDGESEAL_TELEMETRY_GATEWAY_URL, or the gateway that
// `edgeseal up` starts beside the control plane (startConsumer). Without either it is off,
// and says so once.
import type { Logger } from 'pino';
import { toPem } from '../../lib/pem.ts';
import type { Bootstrapped } from '../bootstrap.ts';
import type { CaConfig } from '../config.ts';
import type { AuthorityStore, Clock } from '../core/ports.ts';
import { issueServiceIdentity, type ServiceIdentity } from '../keys/server-identity.ts';
import { TelemetryStore } from '../store/telemetry-store.ts';
import { type ConsumerIdentity, TelemetryConsumer } from './consumer.ts';
import { telemetryKeyOf } from './envelope.ts';
import { type TelemetryCounts, TelemetryIngest } from './ingest.ts';

export const CONSUMER_NAME = 'telemetry-consumer';
export const CONSUMER_CLIENT_ID = `svc:${CONSUMER_NAME}`;

export interface TelemetryParts {
  readonly store: TelemetryStore;
  readonly ingest: TelemetryIngest;
  /** Starts the consumer against `gatewayUrl` (mqtts://); a second call is ignored. */
  startConsumer(gatewayUrl: string): void;
  status(): {
    readonly gatewayUrl: string | null;
    readonly connected: boolean;
    readonly counts: TelemetryCounts;
  };
  close(): Promise<void>;
}

export async function startTelemetry(d: {
  config: CaConfig;
  boot: Bootstrapped;
  clock: Clock;
  log: Logger;
  issuanceStore: AuthorityStore;
  /** the consumer's gateway comes later (startConsumer): do not say it is off */
  consumerLater?: boolean | undefined;
}): Promise<TelemetryParts> {
  const { hierarchy, database } = d.boot;
  const store = new TelemetryStore(database.db, {
    windowMessages: d.config.driftWindowMessages,
    now: () => d.clock.now(),
  });
  const ingest = new TelemetryIngest(await telemetryKeyOf(d.boot.telemetryKey), store, d.clock, d.log);
  let consumer: TelemetryConsumer | undefined;
  let gatewayUrl: string | null = null;
  let closed = false;

  let identity: (ServiceIdentity & { renewAt: Date }) | undefined;
  const currentIdentity = async (): Promise<ConsumerIdentity> => {
    const now = d.clock.now();
    if (!identity || now >= identity.renewAt) {
      const id = await issueServiceIdentity(
        hierarchy.issuing,
        { kind: 'service', name: CONSUMER_NAME, trustDomain: d.config.trustDomain },
        d.issuanceStore,
        now,
      );
      // at two thirds of its life, like the control plane's own server certificate
      identity = {
        ...id,
        renewAt: new Date(now.getTime() + ((id.notAfter.getTime() - now.getTime()) * 2) / 3),
      };
    }
    return identity;
  };

  const startConsumer = (url: string) => {
    if (consumer || closed) {
      if (consumer && url !== gatewayUrl)
        d.log.warn({ gateway_url: url, running: gatewayUrl }, 'telemetry consumer already runs; ignored');
      return;
    }
    gatewayUrl = url;
    consumer = new TelemetryConsumer({
      url,
      clientId: CONSUMER_CLIENT_ID,
      ca: hierarchy.chain.map((der) => toPem('CERTIFICATE', der)).join(''),
      identity: currentIdentity,
      handle: (topic, payload) => ingest.handle(topic, payload),
      log: d.log,
      now: () => d.clock.now(),
    });
    consumer.start();
  };

  if (d.config.telemetryGatewayUrl) startConsumer(d.config.telemetryGatewayUrl);
  else if (!d.consumerLater)
    d.log.info(
      'telemetry consumer off: no gateway URL (set EDGESEAL_TELEMETRY_GATEWAY_URL=mqtts://…, or run edgeseal up)',
    );

  return {
    store,
    ingest,
    startConsumer,
    status: () => ({ gatewayUrl, connected: consumer?.connected ?? false, counts: ingest.snapshot() }),
    async close() {
      closed = true;
      await consumer?.close(() => ({ counts: ingest.snapshot() }));
    },
  };
}
