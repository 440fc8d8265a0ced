// Request and response shapes of /v1: the one source for validation and /openapi.json.
import { z } from 'zod';

export const EnrollBody = z
  .object({
    csr: z.string().min(1).max(60_000).describe('PKCS#10 request as PEM, or base64 DER'),
    hardware_model: z.string().optional().describe('checked against the batch when given'),
  })
  .strict();

export const ReenrollBody = z.object({ csr: z.string().min(1).max(60_000) }).strict();

export const Issued = z.object({
  serial: z.string(),
  device_id: z.string(),
  not_after: z.string(),
  certificate: z.string().describe('PEM'),
  chain: z.array(z.string()).describe('PEM: issuing CA, then root'),
});

export const BatchCreateBody = z
  .object({
    hardware_model: z.string(),
    quota: z.number().int(),
    expires_in: z.string().describe('duration: 90s, 45m, 8h, 7d'),
    id_prefix: z.string().optional(),
  })
  .strict();

export const Batch = z.object({
  id: z.string(),
  hardware_model: z.string(),
  quota: z.number().int(),
  enrolled: z.number().int(),
  id_prefix: z.string().nullable(),
  status: z.enum(['active', 'expired', 'exhausted', 'revoked']),
  expires_at: z.string(),
  revoked_at: z.string().nullable(),
  created_at: z.string(),
  created_by: z.string(),
});

export const BatchCreated = Batch.extend({
  secret: z.string().describe('shown once; EST HTTP Basic password (user name: the batch id)'),
});

export const Certificate = z.object({
  serial: z.string(),
  kind: z.enum(['device', 'server', 'ocsp']),
  device_id: z.string().nullable(),
  batch_id: z.string().nullable(),
  hardware_model: z.string().nullable(),
  subject: z.string(),
  key_type: z.string(),
  key_bits: z.number().int(),
  spki_sha256: z.string(),
  not_before: z.string(),
  not_after: z.string(),
  issued_at: z.string(),
  status: z.enum(['valid', 'revoked', 'expired']),
  certificate: z.string().describe('PEM'),
});

export const CaInfo = z.object({
  issuer_id: z.string(),
  trust_domain: z.string(),
  root: z.string().describe('PEM'),
  issuing: z.string().describe('PEM'),
});

export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  code: z.string(),
  request_id: z.string(),
});

export const TokenCreateBody = z
  .object({
    role: z.string().describe('auditor, security-admin, release-manager or admin'),
    expires_in: z.string().optional().describe('duration: 90s, 45m, 8h, 7d; default: no expiry'),
    label: z.string().max(200).optional(),
  })
  .strict();

export const Token = z.object({
  id: z.string(),
  role: z.string(),
  label: z.string().nullable(),
  status: z.enum(['active', 'expired', 'revoked']),
  expires_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
  created_at: z.string(),
});

export const TokenCreated = Token.extend({ token: z.string().describe('shown once: `<id>.<secret>`') });

export const RevokeBody = z
  .object({
    serial: z
      .string()
      .regex(/^[0-9A-Fa-f:]{1,60}$/, 'a hex serial')
      .optional(),
    device_id: z.string().min(1).max(64).optional(),
    batch_id: z.string().min(1).max(64).optional(),
    reason: z
      .union([z.string(), z.number().int()])
      .optional()
      .describe('RFC 5280 CRLReason name or number; default unspecified'),
  })
  .strict();

export const ServiceCertificateBody = z
  .object({
    kind: z
      .enum(['server', 'service'])
      .describe('server: a TLS server (a gateway); service: a backend MQTT client'),
    csr: z.string().min(1).describe('PKCS#10, PEM or base64 DER; its key is certified, its subject ignored'),
    hosts: z
      .array(z.string().regex(/^[A-Za-z0-9.:-]{1,253}$/))
      .min(1)
      .max(20)
      .optional()
      .describe('server: DNS names and IP addresses'),
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/)
      .optional()
      .describe('service: the name in spiffe://<trust domain>/service/<name>'),
  })
  .strict();

export const ServiceCertificate = z.object({
  serial: z.string(),
  not_after: z.string(),
  certificate: z.string().describe('PEM'),
  chain: z.string().describe('PEM: the certificate then the issuing CA'),
  root: z.string().describe('PEM: the root CA'),
});

export const GatewayLeaseBody = z
  .object({
    routing: z
      .enum(['local', 'upstream'])
      .describe(
        'local: the gateway routes through its own in-process broker; upstream: through a shared broker',
      ),
    upstream: z
      .string()
      .max(256)
      .optional()
      .describe('upstream: the broker it bridges through, without credentials (for humans)'),
  })
  .strict();

export const FirmwareAddBody = z
  .object({
    hardware_model: z.string().min(1).max(64),
    version: z.string().min(1).max(64),
    svn: z.number().int().min(0).max(2_147_483_647).describe('security version number'),
    sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hexadecimal characters'),
    component: z
      .enum(['firmware', 'agent'])
      .optional()
      .describe('firmware (default) or the device agent build'),
  })
  .strict();

export const FirmwareDenyBody = z
  .object({
    sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hexadecimal characters'),
    reason: z.string().max(200).optional(),
  })
  .strict();

export const FirmwarePolicyBody = z
  .object({
    min_svn: z.number().int().min(0).max(2_147_483_647).optional(),
    attestation: z
      .enum(['auto', 'required', 'off'])
      .optional()
      .describe('auto: required exactly when the model has reference values'),
  })
  .strict();
