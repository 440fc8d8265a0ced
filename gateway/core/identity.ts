// Who is on the other end of a TLS connection, from its verified client certificate. The
// TLS layer has already checked the chain to the issuing CA (RFC 5280 §6.1); this turns
// the outcome and the certificate's SAN URI into a principal or a refusal reason.

export type Principal =
  | {
      readonly kind: 'device';
      readonly id: string;
      readonly serial: string;
      /** the certificate's subject OU: the hardware model the CA enrolled it as */
      readonly hardwareModel?: string | undefined;
    }
  | { readonly kind: 'service'; readonly id: string; readonly serial: string };

/** Refusal reasons, used as the `reason` label of the refusal metric and in the log. */
export type RefusalReason =
  | 'no_certificate'
  | 'cert_expired'
  | 'cert_not_yet_valid'
  | 'unknown_ca'
  | 'bad_certificate'
  | 'no_identity'
  | 'foreign_trust_domain'
  | 'revoked'
  | 'revocation_state_unknown'
  | 'client_id_mismatch'
  | 'client_id_required'
  | 'connect_too_large'
  | 'unsupported_protocol'
  | 'protocol_error'
  | 'connect_timeout'
  | 'tls_handshake'
  | 'upstream_unavailable'
  | 'will_not_allowed'
  | 'bad_auth_method'
  | 'server_shutting_down';

export interface PeerFacts {
  /** did the chain verify against the issuing CA (Node's `socket.authorized`) */
  readonly authorized: boolean;
  /** OpenSSL's verify error code when not authorized, e.g. CERT_HAS_EXPIRED */
  readonly verifyError: string | undefined;
  /** undefined when the client sent no certificate */
  readonly subjectAltName: string | undefined;
  readonly serialNumber: string | undefined;
  /** the certificate's notAfter, ms since the epoch */
  readonly notAfter?: number;
  /** the subject as Node renders it (`CN=…\nOU=…`) */
  readonly subject?: string | undefined;
}

export type IdentityResult =
  | { readonly ok: true; readonly principal: Principal }
  | { readonly ok: false; readonly reason: RefusalReason; readonly detail: string };

const VERIFY_REASONS: Record<string, RefusalReason> = {
  CERT_HAS_EXPIRED: 'cert_expired',
  CERT_NOT_YET_VALID: 'cert_not_yet_valid',
  UNABLE_TO_GET_ISSUER_CERT: 'unknown_ca',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unknown_ca',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unknown_ca',
  SELF_SIGNED_CERT_IN_CHAIN: 'unknown_ca',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'unknown_ca',
  CERT_REVOKED: 'revoked',
};

/** Serial numbers as the CA stores them: lowercase hex, no leading zero byte. */
export function normalizeSerial(hex: string): string {
  let s = hex.toLowerCase().replace(/[^0-9a-f]/g, '');
  if (s.length % 2) s = `0${s}`;
  while (s.length > 2 && s.startsWith('00')) s = s.slice(2);
  return s;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function identify(peer: PeerFacts, trustDomain: string): IdentityResult {
  if (peer.subjectAltName === undefined && peer.serialNumber === undefined) {
    return { ok: false, reason: 'no_certificate', detail: 'the client sent no certificate' };
  }
  if (!peer.authorized) {
    const code = peer.verifyError ?? 'UNKNOWN';
    return {
      ok: false,
      reason: VERIFY_REASONS[code] ?? 'bad_certificate',
      detail: `certificate not accepted: ${code}`,
    };
  }
  // Node renders SANs as `URI:spiffe://…, DNS:…`; a comma inside a URI would be quoted.
  const uris = (peer.subjectAltName ?? '')
    .split(', ')
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
  const spiffe = uris.filter((u) => u.startsWith('spiffe://'));
  if (spiffe.length !== 1) {
    return {
      ok: false,
      reason: 'no_identity',
      detail: `expected one SPIFFE URI SAN, found ${spiffe.length}`,
    };
  }
  const m = /^spiffe:\/\/([^/]+)\/(device|service)\/([^/]+)$/.exec(spiffe[0]!);
  if (!m)
    return { ok: false, reason: 'no_identity', detail: `not a device or service identity: ${spiffe[0]}` };
  if (m[1] !== trustDomain) {
    return {
      ok: false,
      reason: 'foreign_trust_domain',
      detail: `trust domain ${m[1]} is not ${trustDomain}`,
    };
  }
  if (!ID.test(m[3]!)) return { ok: false, reason: 'no_identity', detail: `bad identifier in ${spiffe[0]}` };
  const serial = normalizeSerial(peer.serialNumber ?? '');
  if (m[2] === 'service') return { ok: true, principal: { kind: 'service', id: m[3]!, serial } };
  const ou = /(?:^|\n)OU=([^\n]*)/.exec(peer.subject ?? '')?.[1];
  return { ok: true, principal: { kind: 'device', id: m[3]!, serial, hardwareModel: ou } };
}
