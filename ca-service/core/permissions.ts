// Who may do what: deny by default. Roles are those of PRODUCT.md; `factory` is carried by
// production batch credentials (EST / /v1/enroll), not by API tokens. `gateway` is a
// service role: a gateway instance reads the revocation feed and gets its server certificate.
import type { Role } from './tokens.ts';

export const PERMISSIONS = {
  'batch.create': ['admin'],
  'batch.revoke': ['admin', 'security-admin'],
  'batch.read': ['admin', 'auditor', 'security-admin'],
  'token.create': ['admin'],
  'token.revoke': ['admin'],
  'token.read': ['admin', 'auditor'],
  'certificate.read': ['admin', 'auditor', 'security-admin'],
  'certificate.revoke': ['security-admin'],
  'audit.read': ['admin', 'auditor', 'security-admin'],
  // the live revocation feed (SSE): gateways cut sessions with it
  'revocation.feed': ['admin', 'auditor', 'security-admin', 'gateway'],
  // certificates for the fleet's services: gateway TLS server certificates, and backend
  // MQTT client identities (which read every device's telemetry)
  'service.server-certificate': ['admin', 'gateway'],
  'service.identity': ['admin'],
  // a gateway announces itself and how it routes (core/gateway-leases.ts)
  'gateway.lease': ['admin', 'gateway'],
  'gateway.read': ['admin', 'auditor', 'security-admin'],
  // reference values and attestation policy (issue 8)
  'firmware.read': ['admin', 'auditor', 'security-admin'],
  'firmware.manage': ['security-admin'],
  'attestation.read': ['admin', 'auditor', 'security-admin'],
  // the live attestation state feed (SSE): gateways quarantine with it
  'attestation.feed': ['admin', 'auditor', 'security-admin', 'gateway'],
  // content keys the key service releases to attested devices
  'key.create': ['admin', 'release-manager'],
  // model releases (issue 9): release managers publish; keys that sign manifests are credentials
  'release.publish': ['release-manager'],
  'release.read': ['admin', 'auditor', 'security-admin', 'release-manager'],
  'release-key.manage': ['admin'],
  'release-key.revoke': ['admin', 'security-admin'],
  // fleet state: certificate, attestation, model, inference and drift per device (issue 9)
  'device.read': ['admin', 'auditor', 'security-admin', 'release-manager'],
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof PERMISSIONS;

export const allows = (role: Role, p: Permission): boolean =>
  (PERMISSIONS[p] as readonly Role[]).includes(role);
