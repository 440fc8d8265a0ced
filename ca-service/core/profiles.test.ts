import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { toPem } from '../../lib/pem.ts';
import { parseCsr, verifyCsrSignature } from '../../lib/x509/csr.ts';
import { randomSerial } from '../../lib/x509/certificate.ts';
import { keySigner } from '../../lib/x509/key-signer.ts';
import { makeCsr, makeKey, openssl, opensslTry, tmp, writeTmp } from '../../test/helpers/openssl.ts';
import { makeIssuer } from './issuer.ts';
import { deviceCertificate, issuingCaCertificate, rootCertificate, serverCertificate } from './profiles.ts';

const HOUR = 3600_000;
const validity = (days: number) => ({
  notBefore: new Date(Date.now() - HOUR),
  notAfter: new Date(Date.now() + days * 24 * HOUR),
});

function hierarchy(alg: 'P-256' | 'P-384') {
  const curve = alg === 'P-256' ? 'prime256v1' : 'secp384r1';
  const rk = generateKeyPairSync('ec', { namedCurve: curve });
  const ik = generateKeyPairSync('ec', { namedCurve: curve });
  const rootSigner = keySigner(rk.privateKey, alg);
  const rootDer = rootCertificate({
    serial: randomSerial(),
    subject: 'edgeseal test root',
    spki: rk.publicKey.export({ format: 'der', type: 'spki' }),
    validity: validity(3650),
    signer: rootSigner,
  });
  const urls = { publicHttpUrl: 'http://localhost:8080' };
  const root = makeIssuer('root', rootDer, rootSigner, urls);
  const issuingDer = issuingCaCertificate(root, {
    serial: randomSerial(),
    subject: 'edgeseal test issuing CA',
    spki: ik.publicKey.export({ format: 'der', type: 'spki' }),
    validity: validity(1825),
    trustDomain: 'fleet.example',
  });
  return { root, issuing: makeIssuer('issuing-1', issuingDer, keySigner(ik.privateKey, alg), urls) };
}

describe.each(['P-256', 'P-384'] as const)('certificate profiles with a %s CA', (alg) => {
  const { root, issuing } = hierarchy(alg);
  const dir = tmp();
  const rootPem = writeTmp(dir, 'root.pem', toPem('CERTIFICATE', root.cert.der));
  const chainPem = writeTmp(dir, 'issuing.pem', toPem('CERTIFICATE', issuing.cert.der));

  it.each(['ec-p256', 'ec-p384', 'ed25519', 'rsa-2048'] as const)(
    'signs a %s CSR from openssl req into a certificate openssl verifies for clientAuth',
    (spec) => {
      const csr = parseCsr(makeCsr(makeKey(spec), '/CN=cam-0001/OU=cam-v2'));
      verifyCsrSignature(csr);
      const der = deviceCertificate(issuing, {
        serial: randomSerial(),
        deviceId: 'cam-0001',
        hardwareModel: 'cam-v2',
        trustDomain: 'fleet.example',
        spki: csr.spki,
        validity: validity(365),
      });
      const leaf = writeTmp(dir, `leaf-${spec}.pem`, toPem('CERTIFICATE', der));
      expect(
        openssl(['verify', '-CAfile', rootPem, '-untrusted', chainPem, '-purpose', 'sslclient', leaf]),
      ).toContain(': OK');
      const text = openssl(['x509', '-in', leaf, '-noout', '-text']);
      expect(text).toContain('Subject: CN = cam-0001, OU = cam-v2');
      expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
      expect(text).toMatch(/X509v3 Extended Key Usage: \s+TLS Web Client Authentication\n/);
      expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
      expect(text).toContain('URI:spiffe://fleet.example/device/cam-0001');
      expect(text).toContain('X509v3 Subject Key Identifier');
      expect(text).toMatch(/X509v3 Authority Key Identifier: \s+([0-9A-F]{2}:){19}[0-9A-F]{2}/);
      expect(text).toContain(`URI:http://localhost:8080/crl/issuing-1.crl`);
      expect(text).toContain('OCSP - URI:http://localhost:8080/ocsp');
      expect(text).toContain('CA Issuers - URI:http://localhost:8080/ca/issuing-1.crt');
    },
  );

  it('the issuing CA is constrained to its trust domain and path length 0', () => {
    const text = openssl(['x509', '-in', chainPem, '-noout', '-text']);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(text).toMatch(/X509v3 Name Constraints: critical\s+Permitted:\s+URI:fleet.example/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
    const rootText = openssl(['x509', '-in', rootPem, '-noout', '-text']);
    expect(rootText).toMatch(/CA:TRUE, pathlen:1/);
  });

  it('a device identity outside the trust domain fails openssl verify (name constraints bite)', () => {
    const csr = parseCsr(makeCsr(makeKey('ec-p256'), '/CN=rogue'));
    const der = deviceCertificate(issuing, {
      serial: randomSerial(),
      deviceId: 'rogue',
      hardwareModel: 'x',
      trustDomain: 'other.example',
      spki: csr.spki,
      validity: validity(1),
    });
    const leaf = writeTmp(dir, 'rogue.pem', toPem('CERTIFICATE', der));
    const r = opensslTry(['verify', '-CAfile', rootPem, '-untrusted', chainPem, leaf]);
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/permitted subtree violation/);
  });

  it('server certificates carry DNS and IP names and serverAuth', () => {
    const k = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const der = serverCertificate(issuing, {
      serial: randomSerial(),
      hosts: { dns: ['localhost'], ips: ['127.0.0.1', '::1'] },
      spki: k.publicKey.export({ format: 'der', type: 'spki' }),
      validity: validity(30),
    });
    const leaf = writeTmp(dir, 'server.pem', toPem('CERTIFICATE', der));
    expect(
      openssl(['verify', '-CAfile', rootPem, '-untrusted', chainPem, '-purpose', 'sslserver', leaf]),
    ).toContain(': OK');
    expect(openssl(['x509', '-in', leaf, '-noout', '-ext', 'subjectAltName'])).toContain(
      'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
  });
});
