// Control-plane configuration: parsed once from the environment, validated, frozen. Nothing
// else reads process.env. A bad value stops start-up with a message naming it.
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';
import { parseEnv } from '../lib/env-config.ts';

const port = z.coerce.number().int().min(0).max(65535);
const list = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().regex(/^[A-Za-z0-9.:-]+$/, 'host names and IPs only')).min(1));

const Env = z.object({
  EDGESEAL_DATA_DIR: z.string().min(1).default('./.edgeseal'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  EDGESEAL_KEK: z.string().optional(),
  EDGESEAL_KEK_FILE: z.string().optional(),
  EDGESEAL_LISTEN_HOST: z.string().min(1).default('127.0.0.1'),
  EDGESEAL_HTTPS_PORT: port.default(8443),
  EDGESEAL_HTTP_PORT: port.default(8080),
  EDGESEAL_HOSTNAMES: list.default(['localhost', '127.0.0.1']),
  EDGESEAL_PUBLIC_HTTP_URL: z.url({ protocol: /^http$/ }).optional(),
  EDGESEAL_TRUST_DOMAIN: z
    .string()
    .regex(/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/, 'a lowercase DNS-style name (SPIFFE trust domain)')
    .default('edgeseal.local'),
  EDGESEAL_CA_KEY_ALGORITHM: z.enum(['P-256', 'P-384']).default('P-256'),
  // fractions allowed (0.01 = 14.4 minutes): short-lived device certificates renew often
  EDGESEAL_DEVICE_CERT_DAYS: z.coerce.number().min(0.001).max(3650).default(365),
  EDGESEAL_ATTESTATION_NONCE_TTL_SECONDS: z.coerce.number().int().min(5).max(3600).default(60),
  EDGESEAL_ATTESTATION_RESULT_TTL_SECONDS: z.coerce.number().int().min(10).max(86_400).default(600),
  EDGESEAL_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(10_485_760).default(65_536),
  // model packages uploaded by release managers (POST /v1/releases) only
  EDGESEAL_MAX_PACKAGE_BYTES: z.coerce.number().int().min(65_536).max(4_294_967_296).default(1_073_741_824),
  EDGESEAL_AUDIT_REFUSAL_WINDOW_SECONDS: z.coerce.number().int().min(1).max(3600).default(10),
  // the gateway the telemetry consumer reads devices/+/telemetry from (edgeseal up: its own)
  EDGESEAL_TELEMETRY_GATEWAY_URL: z.url({ protocol: /^mqtts$/, error: 'must be an mqtts:// URL' }).optional(),
  EDGESEAL_DRIFT_WINDOW_MESSAGES: z.coerce.number().int().min(1).max(100_000).default(30),
  EDGESEAL_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
});

export interface CaConfig {
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  readonly kek: string | undefined;
  readonly kekFile: string | undefined;
  readonly listenHost: string;
  readonly httpsPort: number;
  readonly httpPort: number;
  readonly hosts: { readonly dns: readonly string[]; readonly ips: readonly string[] };
  readonly publicHttpUrl: string;
  readonly trustDomain: string;
  readonly caKeyAlgorithm: 'P-256' | 'P-384';
  readonly deviceCertDays: number;
  readonly maxBodyBytes: number;
  /** the largest model package a release manager may upload */
  readonly maxPackageBytes: number;
  /** how long a challenge nonce may be answered */
  readonly attestationNonceTtlSeconds: number;
  /** how long an attestation result counts (gateway gating, key release) */
  readonly attestationResultTtlSeconds: number;
  /** repeated refusals of an unverified caller (same source, action, reason) within this window: one event */
  readonly auditRefusalWindowSeconds: number;
  /** mqtts:// URL of the gateway the telemetry consumer subscribes through; none: consumer off */
  readonly telemetryGatewayUrl: string | undefined;
  /** K of the drift statistic's decayed histogram sum (core/drift.ts) */
  readonly driftWindowMessages: number;
  readonly logLevel: string;
}

export function parseCaConfig(env: Readonly<Record<string, string | undefined>>): CaConfig {
  const e = parseEnv(Env, env);
  const names = e.EDGESEAL_HOSTNAMES;
  const hosts = { dns: names.filter((h) => !isIP(h)), ips: names.filter((h) => isIP(h)) };
  const first = names[0]!;
  const publicHttpUrl =
    e.EDGESEAL_PUBLIC_HTTP_URL ??
    `http://${isIP(first) === 6 ? `[${first}]` : first}:${e.EDGESEAL_HTTP_PORT}`;
  return Object.freeze({
    dataDir: resolve(e.EDGESEAL_DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    kek: e.EDGESEAL_KEK,
    kekFile: e.EDGESEAL_KEK_FILE,
    listenHost: e.EDGESEAL_LISTEN_HOST,
    httpsPort: e.EDGESEAL_HTTPS_PORT,
    httpPort: e.EDGESEAL_HTTP_PORT,
    hosts: Object.freeze(hosts),
    publicHttpUrl: publicHttpUrl.replace(/\/+$/, ''),
    trustDomain: e.EDGESEAL_TRUST_DOMAIN,
    caKeyAlgorithm: e.EDGESEAL_CA_KEY_ALGORITHM,
    deviceCertDays: e.EDGESEAL_DEVICE_CERT_DAYS,
    maxBodyBytes: e.EDGESEAL_MAX_BODY_BYTES,
    maxPackageBytes: e.EDGESEAL_MAX_PACKAGE_BYTES,
    attestationNonceTtlSeconds: e.EDGESEAL_ATTESTATION_NONCE_TTL_SECONDS,
    attestationResultTtlSeconds: e.EDGESEAL_ATTESTATION_RESULT_TTL_SECONDS,
    auditRefusalWindowSeconds: e.EDGESEAL_AUDIT_REFUSAL_WINDOW_SECONDS,
    telemetryGatewayUrl: e.EDGESEAL_TELEMETRY_GATEWAY_URL,
    driftWindowMessages: e.EDGESEAL_DRIFT_WINDOW_MESSAGES,
    logLevel: e.EDGESEAL_LOG_LEVEL,
  });
}
