// The CA hierarchy: root CA → issuing CA. Created once (idempotently, across processes),
// keys wrapped under the KEK; loaded and unwrapped into memory on every start.
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { unwrapPrivateKey, wrapPrivateKey } from '../../lib/key-wrap.ts';
import { CA_KEY_ALGORITHMS, type CaKeyAlgorithm } from '../../lib/x509/algorithms.ts';
import { randomSerial } from '../../lib/x509/certificate.ts';
import { caKeyAlgorithmOf, keySigner } from '../../lib/x509/key-signer.ts';
import { EdgesealError } from '../../lib/errors.ts';
import { type Issuer, makeIssuer } from '../core/issuer.ts';
import { issuingCaCertificate, rootCertificate } from '../core/profiles.ts';
import type { CaKeyRow, CaKeyStore } from '../store/ca-key-store.ts';
import type { Kek } from './kek-source.ts';

export interface HierarchyOptions {
  readonly algorithm: CaKeyAlgorithm;
  readonly trustDomain: string;
  readonly publicHttpUrl: string;
  readonly rootValidityYears: number;
  readonly issuingValidityYears: number;
  readonly now: Date;
}

export interface Hierarchy {
  readonly root: Issuer;
  readonly issuing: Issuer;
  /** issuing CA then root: what EST cacerts returns and what servers send after their leaf */
  readonly chain: readonly Buffer[];
  readonly created: boolean;
  readonly kekId: string;
}

const years = (d: Date, n: number) =>
  new Date(Date.UTC(d.getUTCFullYear() + n, d.getUTCMonth(), d.getUTCDate()));
const keyTag = (spki: Buffer) => createHash('sha256').update(spki).digest('hex').slice(0, 10);
const aadFor = (id: string) => `edgeseal-ca-key:${id}`;

function create(kek: Kek, o: HierarchyOptions) {
  const curve = CA_KEY_ALGORITHMS[o.algorithm].namedCurve;
  const rk = generateKeyPairSync('ec', { namedCurve: curve });
  const ik = generateKeyPairSync('ec', { namedCurve: curve });
  const rootSpki = rk.publicKey.export({ format: 'der', type: 'spki' });
  const issuingSpki = ik.publicKey.export({ format: 'der', type: 'spki' });
  const rootId = `root-${keyTag(rootSpki)}`;
  const issuingId = `ica-${keyTag(issuingSpki)}`;
  const notBefore = new Date(o.now.getTime() - 3600_000);
  const rootSigner = keySigner(rk.privateKey, o.algorithm);
  const rootDer = rootCertificate({
    serial: randomSerial(),
    subject: 'edgeseal Root CA',
    spki: rootSpki,
    validity: { notBefore, notAfter: years(o.now, o.rootValidityYears) },
    signer: rootSigner,
  });
  const root = makeIssuer(rootId, rootDer, rootSigner, o);
  const issuingDer = issuingCaCertificate(root, {
    serial: randomSerial(),
    subject: 'edgeseal Device Issuing CA',
    spki: issuingSpki,
    validity: { notBefore, notAfter: years(o.now, o.issuingValidityYears) },
    trustDomain: o.trustDomain,
  });
  return {
    rows: [
      {
        id: rootId,
        role: 'root' as const,
        certDer: rootDer,
        publicKeyDer: rootSpki,
        keyWrapped: wrapPrivateKey(kek.key, rk.privateKey, aadFor(rootId)),
        algorithm: o.algorithm,
      },
      {
        id: issuingId,
        role: 'issuing' as const,
        certDer: issuingDer,
        publicKeyDer: issuingSpki,
        keyWrapped: wrapPrivateKey(kek.key, ik.privateKey, aadFor(issuingId)),
        algorithm: o.algorithm,
      },
    ],
    audit: {
      at: o.now,
      actor: 'system',
      action: 'ca.init',
      outcome: 'ok' as const,
      subject: issuingId,
      details: { root_id: rootId, issuing_id: issuingId, algorithm: o.algorithm, kek_id: kek.id },
    },
  };
}

function load(row: CaKeyRow, kek: Kek, o: HierarchyOptions): Issuer {
  const key = unwrapPrivateKey(kek.key, row.keyWrapped, aadFor(row.id));
  if (!row.certDer) throw new EdgesealError('ERR_CA_NOT_INITIALIZED', `CA key ${row.id} has no certificate`);
  return makeIssuer(row.id, row.certDer, keySigner(key, caKeyAlgorithmOf(key)), o);
}

export interface LogKey {
  readonly id: string;
  readonly key: KeyObject;
  readonly publicKeyDer: Buffer;
}

/** A P-256 key that certifies nothing: the log, verifier, telemetry and key-service keys. */
export type SigningKey = LogKey;

/** The log key signs audit checkpoints and transparency tree heads. Created once. */
export const ensureLogKey = (store: CaKeyStore, kek: Kek, now: Date): Promise<LogKey> =>
  ensureSigningKey(store, kek, now, 'log');

/**
 * The fleet's telemetry key: devices encrypt telemetry to it (JWE ECDH-ES), the control
 * plane's consumer decrypts; gateways only route. Created once.
 */
export const ensureTelemetryKey = (store: CaKeyStore, kek: Kek, now: Date): Promise<SigningKey> =>
  ensureSigningKey(store, kek, now, 'telemetry');

/**
 * The key service's key: release engineers wrap a package's content key to it (JWE
 * ECDH-ES) inside the package; only the control plane opens it, at publish. Created once.
 */
export const ensureKeyServiceKey = (store: CaKeyStore, kek: Kek, now: Date): Promise<SigningKey> =>
  ensureSigningKey(store, kek, now, 'key-service');

/** The verifier key signs attestation results (EAR). Created once. */
export const ensureVerifierKey = (store: CaKeyStore, kek: Kek, now: Date): Promise<SigningKey> =>
  ensureSigningKey(store, kek, now, 'verifier');

async function ensureSigningKey(
  store: CaKeyStore,
  kek: Kek,
  now: Date,
  role: 'log' | 'verifier' | 'telemetry' | 'key-service',
): Promise<SigningKey> {
  let row = await store.active(role);
  if (!row) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    const id = `${role}-${keyTag(spki)}`;
    await store.createSigningKeyOnce(
      {
        id,
        role,
        certDer: null,
        publicKeyDer: spki,
        keyWrapped: wrapPrivateKey(kek.key, privateKey, aadFor(id)),
        algorithm: 'P-256',
      },
      {
        at: now,
        actor: 'system',
        action: `${role}-key.create`,
        outcome: 'ok',
        subject: id,
        details: { kek_id: kek.id },
      },
    );
    row = await store.active(role);
    if (!row) throw new EdgesealError('ERR_CA_NOT_INITIALIZED', `${role} key could not be created`);
  }
  return {
    id: row.id,
    key: unwrapPrivateKey(kek.key, row.keyWrapped, aadFor(row.id)),
    publicKeyDer: row.publicKeyDer,
  };
}

export async function ensureHierarchy(store: CaKeyStore, kek: Kek, o: HierarchyOptions): Promise<Hierarchy> {
  const created = await store.createOnce(() => create(kek, o));
  const [rootRow, issuingRow] = [await store.active('root'), await store.active('issuing')];
  if (!rootRow || !issuingRow)
    throw new EdgesealError('ERR_CA_NOT_INITIALIZED', 'CA hierarchy is incomplete in the database');
  const root = load(rootRow, kek, o);
  const issuing = load(issuingRow, kek, o);
  return { root, issuing, chain: [issuing.cert.der, root.cert.der], created, kekId: kek.id };
}
