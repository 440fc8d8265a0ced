// Test PKI for the attestation tests (not part of the library): a root and an issuing CA built
// with the CA's own profiles, device certificates as the CA issues them, and the odd
// certificates a test needs (a CA as leaf, an expired leaf, a leaf of a foreign CA).
import { generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { makeIssuer, type Issuer } from '../ca-service/core/issuer.ts';
import {
  deviceCertificate,
  deviceUri,
  issuingCaCertificate,
  rootCertificate,
} from '../ca-service/core/profiles.ts';
import { buildTbs, randomSerial, signCertificate } from '../lib/x509/certificate.ts';
import { basicConstraints, keyUsage, subjectAltName } from '../lib/x509/extensions.ts';
import { keySigner } from '../lib/x509/key-signer.ts';
import { encodeName } from '../lib/x509/name.ts';
import { OID } from '../lib/x509/oids.ts';
import type { EvidenceInput } from './evidence-sign.ts';

export const TRUST_DOMAIN = 'fleet.example';
export const NOW = new Date('2026-12-01T12:00:00Z');
const DAY = 86_400_000;
const validity = (fromDays: number, toDays: number) => ({
  notBefore: new Date(NOW.getTime() + fromDays * DAY),
  notAfter: new Date(NOW.getTime() + toDays * DAY),
});

export type DeviceKeyType = 'P-256' | 'P-384' | 'Ed25519' | 'RSA';

export function deviceKey(type: DeviceKeyType = 'P-256'): { privateKey: KeyObject; publicKey: KeyObject } {
  if (type === 'Ed25519') return generateKeyPairSync('ed25519');
  if (type === 'RSA') return generateKeyPairSync('rsa', { modulusLength: 2048 });
  return generateKeyPairSync('ec', { namedCurve: type === 'P-256' ? 'prime256v1' : 'secp384r1' });
}

export interface Device {
  readonly id: string;
  readonly key: KeyObject;
  readonly certDer: Buffer;
  readonly chain: readonly Buffer[];
}

export interface TestPki {
  readonly issuing: Issuer;
  readonly issuingCa: X509Certificate;
  device(p?: { id?: string; model?: string; keyType?: DeviceKeyType; from?: number; to?: number }): Device;
  /** a leaf with basicConstraints cA and keyCertSign, issued by this issuing CA */
  caLeaf(id: string): Device;
}

export function testPki(names: { root?: string; issuing?: string; issuingTo?: number } = {}): TestPki {
  const rk = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ik = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const urls = { publicHttpUrl: 'http://localhost:8080' };
  const rootSigner = keySigner(rk.privateKey, 'P-256');
  const rootDer = rootCertificate({
    serial: randomSerial(),
    subject: names.root ?? 'edgeseal test root',
    spki: rk.publicKey.export({ format: 'der', type: 'spki' }),
    validity: validity(-30, 3650),
    signer: rootSigner,
  });
  const root = makeIssuer('root', rootDer, rootSigner, urls);
  const issuingDer = issuingCaCertificate(root, {
    serial: randomSerial(),
    subject: names.issuing ?? 'edgeseal test issuing CA',
    spki: ik.publicKey.export({ format: 'der', type: 'spki' }),
    validity: validity(-30, names.issuingTo ?? 1825),
    trustDomain: TRUST_DOMAIN,
  });
  const issuing = makeIssuer('issuing-1', issuingDer, keySigner(ik.privateKey, 'P-256'), urls);
  const spkiOf = (k: KeyObject) => k.export({ format: 'der', type: 'spki' });
  return {
    issuing,
    issuingCa: new X509Certificate(issuingDer),
    device({ id = 'cam-0001', model = 'cam-v2', keyType = 'P-256', from = -1, to = 365 } = {}) {
      const k = deviceKey(keyType);
      const certDer = deviceCertificate(issuing, {
        serial: randomSerial(),
        deviceId: id,
        hardwareModel: model,
        trustDomain: TRUST_DOMAIN,
        spki: spkiOf(k.publicKey),
        validity: validity(from, to),
      });
      return { id, key: k.privateKey, certDer, chain: [certDer, issuingDer] };
    },
    caLeaf(id) {
      const k = deviceKey('P-256');
      const tbs = buildTbs(
        {
          serial: randomSerial(),
          issuer: issuing.cert.subjectDer,
          subject: encodeName([
            { type: OID.commonName, value: id },
            { type: OID.organizationalUnitName, value: 'cam-v2' },
          ]),
          ...validity(-1, 365),
          spki: spkiOf(k.publicKey),
          extensions: [
            basicConstraints(true, 0),
            keyUsage(['digitalSignature', 'keyCertSign']),
            subjectAltName({ uris: [deviceUri(TRUST_DOMAIN, id)] }),
            ...issuing.issuedExtensions,
          ],
        },
        issuing.signer.algorithmIdentifier,
      );
      const certDer = signCertificate(tbs, issuing.signer);
      return { id, key: k.privateKey, certDer, chain: [certDer, issuingDer] };
    },
  };
}

export const FIRMWARE_GOOD = 'a1'.repeat(32);
export const AGENT_GOOD = 'b2'.repeat(32);

/** Evidence claims of a well-behaved device; override what a test breaks. */
export function goodInput(over: Partial<EvidenceInput> = {}): EvidenceInput {
  return {
    nonce: Buffer.alloc(32, 7),
    ueid: Buffer.concat([Buffer.from([0x01]), Buffer.alloc(16, 9)]),
    oemid: 64_000,
    hardwareModel: 'cam-v2',
    swname: 'edgeseal-firmware',
    swversion: ['1.4.2', 16384],
    firmware: { sha256: FIRMWARE_GOOD, version: '1.4.2' },
    agent: { sha256: AGENT_GOOD, version: '0.1.0' },
    wrappingKey: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey,
    now: NOW,
    ...over,
  };
}
