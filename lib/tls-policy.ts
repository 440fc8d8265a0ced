// What every TLS listener of edgeseal offers (the control plane's HTTPS, the gateway's MQTTS):
// TLS 1.3 (all of whose suites are AEAD with ephemeral key exchange), or TLS 1.2 with ECDHE
// and an AEAD cipher only. No CBC (Lucky13-style padding oracles, SHA-1 MACs), no static RSA
// key exchange (no forward secrecy); RFC 9325 §4.2 recommends exactly these TLS 1.2 suites.
//
// Spread it into the options given to createServer AND to every setSecureContext (the
// certificate renewals): setSecureContext builds a fresh context from the options it is
// given, so a renewal without these would fall back to Node's default list, CBC included.

const TLS13 = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

const TLS12 = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-CHACHA20-POLY1305',
];

export const TLS_SERVER_POLICY = Object.freeze({
  minVersion: 'TLSv1.2',
  ciphers: [...TLS13, ...TLS12].join(':'),
  honorCipherOrder: true,
} as const);
