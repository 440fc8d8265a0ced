// Issue 7 item 7, at the responder: a flood of unknown CertIDs costs at most one store lookup
// per request (fewer under load: waiting requests share one), repeats are answered from
// memory, revoked serials never reach the store, and a failing store is internalError.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { nul, octets, oid, seq, uint } from '../../lib/der/encode.ts';
import { children, content, readTop } from '../../lib/der/decode.ts';
import { randomSerial, spkiKeyBits } from '../../lib/x509/certificate.ts';
import { keySigner } from '../../lib/x509/key-signer.ts';
import { MAX_CERTS_PER_REQUEST, OCSP_OID } from '../../lib/x509/ocsp.ts';
import { ctx } from '../../lib/der/encode.ts';
import { makeIssuer } from '../core/issuer.ts';
import { issuingCaCertificate, ocspResponderCertificate, rootCertificate } from '../core/profiles.ts';
import { OcspResponder } from './ocsp-responder.ts';

const HOUR = 3_600_000;
const validity = { notBefore: new Date(Date.now() - HOUR), notAfter: new Date(Date.now() + 24 * HOUR) };
const urls = { publicHttpUrl: 'http://localhost:8080' };

function setup(issuedSerials: ReadonlySet<string>, revoked = new Set<string>(), failing = false) {
  const rk = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ik = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ok = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = (k: typeof rk) => k.publicKey.export({ format: 'der', type: 'spki' });
  const rootSigner = keySigner(rk.privateKey, 'P-256');
  const root = makeIssuer(
    'root',
    rootCertificate({ serial: randomSerial(), subject: 'r', spki: spki(rk), validity, signer: rootSigner }),
    rootSigner,
    urls,
  );
  const issuer = makeIssuer(
    'issuing-1',
    issuingCaCertificate(root, {
      serial: randomSerial(),
      subject: 'i',
      spki: spki(ik),
      validity,
      trustDomain: 'fleet.example',
    }),
    keySigner(ik.privateKey, 'P-256'),
    urls,
  );
  const certDer = ocspResponderCertificate(issuer, { serial: randomSerial(), spki: spki(ok), validity });
  const lookups: string[][] = [];
  const errors: unknown[] = [];
  const responder = new OcspResponder({
    issuer,
    identity: {
      key: ok.privateKey,
      keyPem: '',
      certDer,
      certChainPem: '',
      serial: '01',
      notAfter: validity.notAfter,
    },
    issued: async (serials) => {
      lookups.push([...serials]);
      await new Promise((r) => setTimeout(r, 5)); // a store takes time: requests pile up meanwhile
      if (failing) throw new Error('store down');
      return new Set(serials.filter((s) => issuedSerials.has(s)));
    },
    revoked: (s) =>
      revoked.has(s)
        ? { serial: s, deviceId: null, issuerId: 'issuing-1', revokedAt: new Date(), reason: 1 }
        : undefined,
    clock: { now: () => new Date() },
    log: { error: (o: unknown) => errors.push(o) } as never,
  });
  const nameHash = createHash('sha1').update(issuer.cert.subjectDer).digest();
  const keyHash = createHash('sha1').update(spkiKeyBits(issuer.cert.spki)).digest();
  /** An RFC 6960 request for `serials`, with a fresh nonce (so no response cache helps). */
  const request = (serials: readonly string[], nonce = true) =>
    seq(
      seq(
        seq(
          ...serials.map((s) =>
            seq(
              seq(
                seq(oid('1.3.14.3.2.26'), nul()),
                octets(nameHash),
                octets(keyHash),
                uint(Buffer.from(s, 'hex')),
              ),
            ),
          ),
        ),
        ...(nonce ? [ctx(2, seq(seq(oid(OCSP_OID.nonce), octets(octets(randomBytes(16))))))] : []),
      ),
    );
  return { responder, lookups, errors, request };
}

const unknownSerials = (n: number) =>
  Array.from({ length: n }, () => {
    const b = randomBytes(16);
    b[0] = (b[0]! & 0x3f) | 0x40; // as randomSerial makes them: positive, no leading zero
    return b.toString('hex');
  });
/** responseStatus, and the CertStatus tags ([0] good, [1] revoked, [2] unknown) in order. */
function read(der: Buffer): { status: number; certStatuses: number[] } {
  const [st, bytes] = children(readTop(der));
  const status = content(st!)[0]!;
  if (!bytes) return { status, certStatuses: [] };
  const basic = readTop(content(children(children(bytes)[0]!)[1]!));
  const tbs = children(basic)[0]!;
  const responses = children(tbs).find((n, i) => i > 0 && n.tag === 0x30)!;
  return { status, certStatuses: children(responses).map((r) => children(r)[1]!.tag & 0x1f) };
}

describe('OCSP responder under a flood of unknown CertIDs', () => {
  it(`answers ${MAX_CERTS_PER_REQUEST} unknown CertIDs with one lookup, and the same again from memory`, async () => {
    const { responder, lookups, request } = setup(new Set());
    const serials = unknownSerials(MAX_CERTS_PER_REQUEST);
    const first = read((await responder.respond(request(serials))).der);
    expect(first.status).toBe(0);
    expect(first.certStatuses).toEqual(serials.map(() => 2));
    expect(lookups).toHaveLength(1);
    expect(lookups[0]).toHaveLength(MAX_CERTS_PER_REQUEST);
    // a new nonce defeats the response cache, not the serial view
    expect(read((await responder.respond(request(serials))).der).certStatuses).toEqual(serials.map(() => 2));
    expect(lookups).toHaveLength(1);
  });

  it('a request over the cap is refused whole: malformedRequest, no lookup', async () => {
    const { responder, lookups, request } = setup(new Set());
    const r = read((await responder.respond(request(unknownSerials(MAX_CERTS_PER_REQUEST + 1)))).der);
    expect(r.status).toBe(1);
    expect(lookups).toHaveLength(0);
  });

  it('200 concurrent requests of distinct unknown serials share a handful of lookups', async () => {
    const { responder, lookups, request } = setup(new Set());
    const answers = await Promise.all(
      Array.from({ length: 200 }, () => responder.respond(request(unknownSerials(MAX_CERTS_PER_REQUEST)))),
    );
    expect(answers.every((a) => read(a.der).status === 0)).toBe(true);
    expect(lookups.length).toBeLessThanOrEqual(200 / 64 + 2);
    expect(lookups.flat()).toHaveLength(200 * MAX_CERTS_PER_REQUEST);
  });

  it('good serials are looked up once, revoked ones never', async () => {
    const good = unknownSerials(2);
    const gone = unknownSerials(1);
    const { responder, lookups, request } = setup(new Set([...good, ...gone]), new Set(gone));
    const ask = [...good, ...gone];
    expect(read((await responder.respond(request(ask))).der).certStatuses).toEqual([0, 0, 1]);
    expect(read((await responder.respond(request(ask))).der).certStatuses).toEqual([0, 0, 1]);
    expect(lookups).toEqual([good]);
  });

  it('a failing store gives internalError (2), logged, not an exception', async () => {
    const { responder, errors, request } = setup(new Set(), new Set(), true);
    expect(read((await responder.respond(request(unknownSerials(1)))).der).status).toBe(2);
    expect(errors).toHaveLength(1);
  });
});
