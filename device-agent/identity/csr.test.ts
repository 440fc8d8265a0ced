import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseCsr, verifyCsrSignature } from '../../lib/x509/csr.ts';
import { normalizeFingerprint } from './certs.ts';
import { deviceCsr } from './csr.ts';

const pem = (der: Buffer) =>
  `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;

describe('deviceCsr', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = deviceCsr(privateKey, 'cam-0001', 'cam-v2');

  it('openssl verifies it and reads CN = device id, OU = hardware model', () => {
    const out = execFileSync('openssl', ['req', '-verify', '-noout', '-subject', '-nameopt', 'RFC2253'], {
      input: pem(der),
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    expect(out).toContain('subject=OU=cam-v2,CN=cam-0001');
  });

  it("passes the CA's own strict parser and signature check", () => {
    const csr = parseCsr(der);
    expect(() => verifyCsrSignature(csr)).not.toThrow();
  });

  it('refuses a key that is not P-256', () => {
    const ed = generateKeyPairSync('ed25519').privateKey;
    expect(() => deviceCsr(ed, 'cam-0001', 'cam-v2')).toThrow(TypeError);
  });
});

describe('normalizeFingerprint', () => {
  it.each([
    ['AB:'.repeat(31) + 'AB', 'ab'.repeat(32)],
    ['ab'.repeat(32), 'ab'.repeat(32)],
    ['ab'.repeat(31), undefined],
    ['zz'.repeat(32), undefined],
  ])('%s → %s', (input, out) => {
    expect(normalizeFingerprint(input)).toBe(out);
  });
});
