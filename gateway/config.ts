// Gateway configuration: parsed once from the environment, validated, frozen. A bad value
// stops start-up with a message naming it. Shared settings (data dir, trust domain, host
// names, log level) mean the same here as in the control plane (ca-service/config.ts).
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';
import { parseEnv } from '../lib/env-config.ts';

const port = z.coerce.number().int().min(0).max(65535);
const seconds = z.coerce.number().min(0).max(31_536_000);

const Env = z.object({
  EDGESEAL_DATA_DIR: z.string().min(1).default('./.edgeseal'),
  EDGESEAL_TRUST_DOMAIN: z.string().min(1).default('edgeseal.local'),
  EDGESEAL_LISTEN_HOST: z.string().min(1).default('127.0.0.1'),
  EDGESEAL_HOSTNAMES: z.string().default('localhost,127.0.0.1'),
  EDGESEAL_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  EDGESEAL_GATEWAY_PORT: port.default(8883),
  EDGESEAL_GATEWAY_METRICS_PORT: port.default(9883),
  MQTT_UPSTREAM_URL: z
    .url({ protocol: /^mqtts?$/ })
    .optional()
    .describe('mqtt://[user:pass@]host:port or mqtts://…'),
  EDGESEAL_CA_URL: z.url({ protocol: /^https$/ }).optional(),
  EDGESEAL_GATEWAY_TOKEN: z
    .string()
    .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'an API token id.secret')
    .optional(),
  // a lone gateway without an upstream broker must say it is the fleet's only gateway
  EDGESEAL_GATEWAY_ONLY: z.enum(['true', 'false', '1', '0']).default('false'),
  EDGESEAL_GATEWAY_REVOCATION_POLICY: z.enum(['fail-closed', 'fail-open']).default('fail-closed'),
  EDGESEAL_GATEWAY_REVOCATION_GRACE_SECONDS: seconds.default(30),
  EDGESEAL_GATEWAY_MAX_PAYLOAD_BYTES: z.coerce.number().int().min(16).max(268_435_455).default(131_072),
  EDGESEAL_GATEWAY_RATE: z.coerce.number().min(0).default(100),
  EDGESEAL_GATEWAY_BURST: z.coerce.number().int().min(1).default(200),
  EDGESEAL_GATEWAY_MAX_QUEUED: z.coerce.number().int().min(0).default(1000),
  EDGESEAL_GATEWAY_SESSION_EXPIRY_SECONDS: seconds.default(86_400),
  EDGESEAL_GATEWAY_CONNECT_TIMEOUT_SECONDS: seconds.default(10),
  EDGESEAL_GATEWAY_MAX_CONNECT_BYTES: z.coerce.number().int().min(512).max(268_435_455).default(8192),
});

export interface GatewayConfig {
  readonly dataDir: string;
  readonly trustDomain: string;
  readonly listenHost: string;
  readonly hosts: { readonly dns: readonly string[]; readonly ips: readonly string[] };
  readonly logLevel: string;
  readonly port: number;
  readonly metricsPort: number;
  readonly upstreamUrl: string | undefined;
  readonly caUrl: string | undefined;
  readonly token: string | undefined;
  /**
   * this gateway is the fleet's only one: it may route through its own in-process broker
   * when run alone (`edgeseal up gateway`); the control plane still refuses it beside another
   */
  readonly onlyGateway: boolean;
  readonly revocationPolicy: 'fail-closed' | 'fail-open';
  readonly revocationGraceMs: number;
  readonly maxPayloadBytes: number;
  /** messages per second per device; 0 = no limit */
  readonly rate: number;
  readonly burst: number;
  readonly maxQueued: number;
  readonly sessionExpiryMs: number;
  readonly connectTimeoutMs: number;
  /**
   * the largest CONNECT read, before anything is known of the client: a client id (≤ 133
   * bytes), a will (topic ≤ 80 bytes, a short status payload), MQTT 5 properties, with room
   * to spare; a larger one is refused from its fixed header, before its body is buffered
   */
  readonly maxConnectBytes: number;
}

export function parseGatewayConfig(env: Readonly<Record<string, string | undefined>>): GatewayConfig {
  const e = parseEnv(Env, env);
  const names = e.EDGESEAL_HOSTNAMES.split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  return Object.freeze({
    dataDir: resolve(e.EDGESEAL_DATA_DIR),
    trustDomain: e.EDGESEAL_TRUST_DOMAIN,
    listenHost: e.EDGESEAL_LISTEN_HOST,
    hosts: { dns: names.filter((h) => !isIP(h)), ips: names.filter((h) => isIP(h)) },
    logLevel: e.EDGESEAL_LOG_LEVEL,
    port: e.EDGESEAL_GATEWAY_PORT,
    metricsPort: e.EDGESEAL_GATEWAY_METRICS_PORT,
    upstreamUrl: e.MQTT_UPSTREAM_URL,
    caUrl: e.EDGESEAL_CA_URL,
    token: e.EDGESEAL_GATEWAY_TOKEN,
    onlyGateway: e.EDGESEAL_GATEWAY_ONLY === 'true' || e.EDGESEAL_GATEWAY_ONLY === '1',
    revocationPolicy: e.EDGESEAL_GATEWAY_REVOCATION_POLICY,
    revocationGraceMs: e.EDGESEAL_GATEWAY_REVOCATION_GRACE_SECONDS * 1000,
    maxPayloadBytes: e.EDGESEAL_GATEWAY_MAX_PAYLOAD_BYTES,
    rate: e.EDGESEAL_GATEWAY_RATE,
    burst: e.EDGESEAL_GATEWAY_BURST,
    maxQueued: e.EDGESEAL_GATEWAY_MAX_QUEUED,
    sessionExpiryMs: e.EDGESEAL_GATEWAY_SESSION_EXPIRY_SECONDS * 1000,
    connectTimeoutMs: e.EDGESEAL_GATEWAY_CONNECT_TIMEOUT_SECONDS * 1000,
    maxConnectBytes: e.EDGESEAL_GATEWAY_MAX_CONNECT_BYTES,
  });
}
