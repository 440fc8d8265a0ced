// OpenAPI 3.1 for /v1 (and EST, for discoverability). Schemas come from the zod objects the
// handlers validate with, so the document cannot drift from the code on shapes.
import { z } from 'zod';
import { InventoryQuery } from './v1/inventory.ts';
import { DevicesQuery } from './v1/devices.ts';
import * as S from './v1/schemas.ts';

const schema = (s: z.ZodType) => z.toJSONSchema(s, { target: 'draft-2020-12', io: 'input' });
const json = (s: z.ZodType) => ({ content: { 'application/json': { schema: schema(s) } } });
const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: schema(S.Problem) } },
});
const errors = {
  '400': problem('malformed or refused input'),
  '401': problem('missing or bad credential'),
  '403': problem('credential not allowed to do this'),
};

export function openApiDocument(version: string) {
  return {
    openapi: '3.1.0',
    info: { title: 'edgeseal control plane', version },
    components: {
      securitySchemes: {
        token: { type: 'http', scheme: 'bearer', description: 'API token `<id>.<secret>`' },
        batch: { type: 'http', scheme: 'basic', description: 'production batch id and secret' },
        deviceCert: { type: 'mutualTLS', description: "the device's current certificate" },
      },
    },
    paths: {
      '/v1/ca': {
        get: {
          summary: 'CA certificates and trust domain',
          responses: { '200': { description: 'ok', ...json(S.CaInfo) } },
        },
      },
      '/v1/enroll': {
        post: {
          summary: 'Enroll a device (JSON twin of EST simpleenroll)',
          security: [{ batch: [] }],
          requestBody: { required: true, ...json(S.EnrollBody) },
          responses: {
            '201': { description: 'issued', ...json(S.Issued) },
            ...errors,
            '409': problem('device or key already enrolled'),
          },
        },
      },
      '/v1/reenroll': {
        post: {
          summary: 'Renew or rekey (JSON twin of EST simplereenroll)',
          security: [{ deviceCert: [] }],
          requestBody: { required: true, ...json(S.ReenrollBody) },
          responses: { '201': { description: 'issued', ...json(S.Issued) }, ...errors },
        },
      },
      '/v1/batches': {
        get: {
          summary: 'List production batches',
          security: [{ token: [] }],
          responses: { '200': { description: 'ok' }, ...errors },
        },
        post: {
          summary: 'Create a production batch (admin)',
          security: [{ token: [] }],
          requestBody: { required: true, ...json(S.BatchCreateBody) },
          responses: {
            '201': { description: 'created; the secret is shown once', ...json(S.BatchCreated) },
            ...errors,
          },
        },
      },
      '/v1/batches/{id}': {
        get: {
          summary: 'One batch',
          security: [{ token: [] }],
          responses: {
            '200': { description: 'ok', ...json(S.Batch) },
            ...errors,
            '404': problem('no such batch'),
          },
        },
      },
      '/v1/batches/{id}/revoke': {
        post: {
          summary: 'Revoke a batch credential (idempotent)',
          security: [{ token: [] }],
          responses: {
            '200': { description: 'ok', ...json(S.Batch) },
            ...errors,
            '404': problem('no such batch'),
          },
        },
      },
      '/v1/tokens': {
        get: {
          summary: 'List API tokens (no secrets)',
          security: [{ token: [] }],
          responses: { '200': { description: 'ok' }, ...errors },
        },
        post: {
          summary: 'Create an API token for a role (admin)',
          security: [{ token: [] }],
          requestBody: { required: true, ...json(S.TokenCreateBody) },
          responses: {
            '201': { description: 'created; the token is shown once', ...json(S.TokenCreated) },
            ...errors,
          },
        },
      },
      '/v1/tokens/{id}/revoke': {
        post: {
          summary: 'Revoke an API token (idempotent)',
          security: [{ token: [] }],
          responses: { '200': { description: 'ok', ...json(S.Token) }, ...errors },
        },
      },
      '/v1/revocations': {
        post: {
          summary: 'Revoke a certificate, all of a device, or all of a batch (security-admin; idempotent)',
          security: [{ token: [] }],
          requestBody: { required: true, ...json(S.RevokeBody) },
          responses: {
            '200': { description: 'counts and the newly revoked serials' },
            ...errors,
            '404': problem('no such serial, device or batch'),
          },
        },
      },
      '/v1/revocations/events': {
        get: {
          summary:
            'Server-sent events: every revocation as it happens (event `revocation`: serial, device_id, reason); Last-Event-ID or ?since=0 replays; `ready` after the replay; `reload` means reconnect (gateway, auditor, security-admin, admin)',
          security: [{ token: [] }],
          responses: { '200': { description: 'text/event-stream' }, ...errors },
        },
      },
      '/v1/service-certificates': {
        post: {
          summary:
            "Certify a service's key: a gateway's TLS server certificate (admin, gateway) or a backend MQTT client identity spiffe://<trust domain>/service/<name> (admin)",
          security: [{ token: [] }],
          requestBody: { required: true, ...json(S.ServiceCertificateBody) },
          responses: { '201': { description: 'issued', ...json(S.ServiceCertificate) }, ...errors },
        },
      },
      '/v1/gateways': {
        get: {
          summary:
            'Gateways serving the fleet now (live leases) and how each routes (admin, auditor, security-admin)',
          security: [{ token: [] }],
          responses: { '200': { description: 'items' }, ...errors },
        },
      },
      '/v1/gateways/{id}/lease': {
        put: {
          summary:
            'A gateway takes or renews its lease (30 s; renew every 10 s). A gateway with its own in-process broker must be the only live one; refused with 409 otherwise (gateway, admin)',
          security: [{ token: [] }],
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          requestBody: { required: true, ...json(S.GatewayLeaseBody) },
          responses: {
            '200': { description: 'the lease' },
            ...errors,
            '409': problem('another gateway serves the fleet in a way this one cannot join'),
          },
        },
        delete: {
          summary: 'A gateway that stops gives its lease back (gateway, admin)',
          security: [{ token: [] }],
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '204': { description: 'released' }, ...errors },
        },
      },
      '/v1/firmware': {
        get: {
          summary:
            'Reference values, deny-listed digests and per-model policies (admin, auditor, security-admin)',
          security: [{ token: [] }],
          parameters: [{ name: 'hardware_model', in: 'query', required: false, schema: { type: 'string' } }],
          responses: { '200': { description: 'items, denied, policies' }, ...errors },
        },
        post: {
          summary: 'Register a firmware (or agent) build for a hardware model (security-admin)',
          security: [{ token: [] }],
          requestBody: { required: true, ...json(S.FirmwareAddBody) },
          responses: {
            '201': { description: 'the reference value' },
            ...errors,
            '409': problem('already listed'),
          },
        },
      },
      '/v1/firmware/deny': {
        post: {
          summary: 'Deny-list a digest, effective at once: devices on it are re-appraised (security-admin)',
          security: [{ token: [] }],
          requestBody: { required: true, ...json(S.FirmwareDenyBody) },
          responses: { '200': { description: 'devices_contraindicated' }, ...errors },
        },
      },
      '/v1/firmware/policies/{model}': {
        put: {
          summary: 'Minimum SVN and attestation requirement of a hardware model (security-admin)',
          security: [{ token: [] }],
          parameters: [{ name: 'model', in: 'path', required: true, schema: { type: 'string' } }],
          requestBody: { required: true, ...json(S.FirmwarePolicyBody) },
          responses: { '200': { description: 'the policy, devices_contraindicated' }, ...errors },
        },
      },
      '/v1/firmware/{id}/retire': {
        post: {
          summary: 'Retire a reference value: devices on it appraise as warning (security-admin)',
          security: [{ token: [] }],
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': { description: 'the reference value' },
            ...errors,
            '404': problem('no such value'),
          },
        },
      },
      '/v1/attestation/challenge': {
        post: {
          summary: 'A single-use 256-bit nonce for this device (RFC 9334 challenge–response)',
          security: [{ deviceCert: [] }],
          responses: { '201': { description: '{nonce, expires_at}' }, ...errors },
        },
      },
      '/v1/attestation/evidence': {
        post: {
          summary:
            'Evidence: an EAT (RFC 9711) JWT signed by the device key, x5c chain; answered with a signed EAR result. Refusals keep the attestation codes (attestation/errors.ts)',
          security: [{ deviceCert: [] }],
          requestBody: { required: true, content: { 'application/eat+jwt': { schema: { type: 'string' } } } },
          responses: {
            '200': { description: '{result_id, status, result, expires_at, reasons, trust_vector}' },
            ...errors,
          },
        },
      },
      '/v1/attestation/results': {
        get: {
          summary: "Each device's latest attestation result (admin, auditor, security-admin)",
          security: [{ token: [] }],
          parameters: [
            { name: 'device_id', in: 'query', required: false, schema: { type: 'string' } },
            {
              name: 'limit',
              in: 'query',
              required: false,
              schema: { type: 'integer', minimum: 1, maximum: 10000 },
            },
          ],
          responses: { '200': { description: 'items' }, ...errors },
        },
      },
      '/v1/attestation/events': {
        get: {
          summary:
            'Server-sent events for gateways: `requirement` and `state` for the whole fleet, `ready`, then changes; `reload` means reconnect (gateway, admin, auditor, security-admin)',
          security: [{ token: [] }],
          responses: { '200': { description: 'text/event-stream' }, ...errors },
        },
      },
      '/v1/keys': {
        post: {
          summary: 'A random AES-256 content key under the KEK (admin, release-manager)',
          security: [{ token: [] }],
          responses: { '201': { description: '{id, label, hardware_models}' }, ...errors },
        },
      },
      '/v1/keys/{id}/release': {
        post: {
          summary:
            "A content key as a JWE (ECDH-ES+A256KW/A256GCM) to the wrapping key of the device's latest fresh affirming result",
          security: [{ deviceCert: [] }],
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': { description: '{key_id, kid, jwe}' },
            ...errors,
            '404': problem('no such key'),
          },
        },
      },
      '/v1/telemetry-key': {
        get: {
          summary: "The fleet's telemetry key (JWK, ECDH-ES+A256KW)",
          responses: { '200': { description: '{kid, jwk}' } },
        },
      },
      '/v1/key-service-key': {
        get: {
          summary: "The key service's key: content keys travel to the control plane wrapped to it",
          responses: { '200': { description: '{kid, jwk}' } },
        },
      },
      '/v1/release-keys': {
        get: {
          summary: 'Release keys that sign manifests, with their status (devices over mTLS, or a token)',
          security: [{ token: [] }, { deviceCert: [] }],
          responses: { '200': { description: 'items' }, ...errors },
        },
        post: {
          summary: 'Register a P-256 release key (admin)',
          security: [{ token: [] }],
          responses: {
            '201': { description: '{kid, jwk, status}' },
            ...errors,
            '409': problem('already registered'),
          },
        },
      },
      '/v1/release-keys/{kid}/revoke': {
        post: {
          summary: 'Revoke a release key (admin, security-admin)',
          security: [{ token: [] }],
          parameters: [{ name: 'kid', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: 'the key' }, ...errors, '404': problem('no such key') },
        },
      },
      '/v1/releases': {
        get: {
          summary: 'Published releases (admin, auditor, security-admin, release-manager)',
          security: [{ token: [] }],
          parameters: [{ name: 'model_id', in: 'query', required: false, schema: { type: 'string' } }],
          responses: { '200': { description: 'items' }, ...errors },
        },
        post: {
          summary: 'Upload a model package, checked at upload (release-manager)',
          security: [{ token: [] }],
          requestBody: {
            required: true,
            content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
          },
          responses: {
            '201': { description: 'the release' },
            ...errors,
            '409': problem('release counter not above the latest'),
            '413': problem('larger than EDGESEAL_MAX_PACKAGE_BYTES'),
            '422': problem('the package does not verify (the detail names why)'),
          },
        },
      },
      '/v1/releases/latest': {
        get: {
          summary: "The newest release for the device's hardware model, with its manifest",
          security: [{ deviceCert: [] }],
          responses: {
            '200': { description: 'the release, manifest, package_url' },
            ...errors,
            '404': problem('none'),
          },
        },
      },
      '/v1/releases/{id}': {
        get: {
          summary: 'A release with its manifest (a device of a listed hardware model, or a token)',
          security: [{ token: [] }, { deviceCert: [] }],
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: 'the release' }, ...errors, '404': problem('none') },
        },
      },
      '/v1/releases/{id}/package': {
        get: {
          summary: 'The package bytes; one Range for resume (206, Content-Range; 416 past the end)',
          security: [{ token: [] }, { deviceCert: [] }],
          parameters: [
            { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
            {
              name: 'Range',
              in: 'header',
              required: false,
              schema: { type: 'string', pattern: '^bytes=\\d+-\\d*$' },
            },
          ],
          responses: {
            '200': { description: 'application/vnd.edgeseal.model-package' },
            '206': { description: 'a byte range' },
            '416': { description: 'range not satisfiable' },
            ...errors,
          },
        },
      },
      '/v1/certificates': {
        get: {
          summary:
            'Inventory search (cursor pagination by log index, newest first); format=csv exports every match',
          security: [{ token: [] }],
          parameters: Object.keys(InventoryQuery.shape).map((name) => ({
            name,
            in: 'query',
            required: false,
            schema: { type: 'string' },
          })),
          responses: { '200': { description: 'items and next_cursor, or text/csv' }, ...errors },
        },
      },
      '/v1/devices': {
        get: {
          summary:
            'Fleet state: each device with its certificate, attestation, model, latest inference, anomalies, input statistics and drift (PSI) verdict',
          security: [{ token: [] }],
          parameters: Object.keys(DevicesQuery.shape).map((name) => ({
            name,
            in: 'query',
            required: false,
            schema: schema(DevicesQuery.shape[name as keyof typeof DevicesQuery.shape]),
          })),
          responses: { '200': { description: 'items (by device id) and next_cursor' }, ...errors },
        },
      },
      '/v1/devices/{id}': {
        get: {
          summary: 'One device, with its latest input histograms and the PSI of every feature',
          security: [{ token: [] }],
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: 'ok' }, ...errors, '404': problem('no such device') },
        },
      },
      '/v1/findings': {
        get: {
          summary:
            'Hygiene findings: shared keys, valid certificates of revoked batches, weak keys, expiring soon',
          security: [{ token: [] }],
          responses: { '200': { description: 'ok' }, ...errors },
        },
      },
      '/v1/audit/events': {
        get: {
          summary: 'Audit events with their hash chain (after, limit)',
          security: [{ token: [] }],
          responses: { '200': { description: 'ok' }, ...errors },
        },
      },
      '/v1/audit/head': {
        get: {
          summary: 'Audit chain head',
          security: [{ token: [] }],
          responses: { '200': { description: 'ok' }, ...errors },
        },
      },
      '/v1/audit/checkpoints': {
        get: {
          summary: 'Signed audit checkpoints and the log public key',
          security: [{ token: [] }],
          responses: { '200': { description: 'ok' }, ...errors },
        },
      },
      '/v1/tlog/sth': {
        get: {
          summary: 'Signed tree head of the transparency log',
          security: [{ token: [] }],
          responses: { '200': { description: 'ok' }, ...errors },
        },
      },
      '/v1/tlog/inclusion': {
        get: {
          summary: 'Inclusion proof for a serial (serial, tree_size)',
          security: [{ token: [] }],
          responses: { '200': { description: 'ok' }, ...errors },
        },
      },
      '/v1/tlog/consistency': {
        get: {
          summary: 'Consistency proof between tree sizes (first, second)',
          security: [{ token: [] }],
          responses: { '200': { description: 'ok' }, ...errors },
        },
      },
      '/v1/certificates/{serial}': {
        get: {
          summary: 'One certificate',
          security: [{ token: [] }],
          responses: {
            '200': { description: 'ok', ...json(S.Certificate) },
            ...errors,
            '404': problem('no such certificate'),
          },
        },
      },
      '/.well-known/est/cacerts': {
        get: {
          summary: 'EST CA certificates (RFC 7030 §4.1)',
          responses: { '200': { description: 'application/pkcs7-mime, base64' } },
        },
      },
      '/.well-known/est/simpleenroll': {
        post: {
          summary: 'EST enrollment (RFC 7030 §4.2.1)',
          security: [{ batch: [] }],
          responses: { '200': { description: 'application/pkcs7-mime; smime-type=certs-only, base64' } },
        },
      },
      '/.well-known/est/simplereenroll': {
        post: {
          summary: 'EST re-enrollment (RFC 7030 §4.2.2)',
          security: [{ deviceCert: [] }],
          responses: { '200': { description: 'application/pkcs7-mime; smime-type=certs-only, base64' } },
        },
      },
      '/.well-known/est/csrattrs': {
        get: {
          summary: 'EST CSR attributes (RFC 7030 §4.5)',
          responses: { '200': { description: 'application/csrattrs, base64' } },
        },
      },
    },
  };
}
