// Issue 7 items 7 and 8 on the wire: crafted OCSP requests that used to get a 500 and a stack
// trace are answered malformedRequest (RFC 6960 §2.3) as openssl reads it; a request naming
// more CertIDs than the cap is refused whole; and a bounded fuzz run over POST and GET never
// gets anything but an OCSPResponse that says successful or malformedRequest.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { children, content, readTop } from '../lib/der/decode.ts';
import { ctx, nul, octets, oid, seq, uint } from '../lib/der/encode.ts';
import { toPem } from '../lib/pem.ts';
import { spkiKeyBits } from '../lib/x509/certificate.ts';
import { MAX_CERTS_PER_REQUEST, OCSP_OID } from '../lib/x509/ocsp.ts';
import { byteMutants, encodeTree, structuralMutations } from './helpers/der-mutate.ts';
import { opensslAsync, opensslTry, tmp, writeTmp } from './helpers/openssl.ts';
import { startStack, type TestStack } from './helpers/stack.ts';

let s: TestStack;
let ocspUrl: string;
let issuerPem: string;
let certId: (serial: Buffer) => Buffer;
const dir = tmp();

beforeAll(async () => {
  s = await startStack();
  ocspUrl = `${s.cp.httpUrl.replace('localhost', '127.0.0.1')}/ocsp`;
  const issuing = s.cp.boot.hierarchy.issuing;
  issuerPem = writeTmp(dir, 'issuing.pem', toPem('CERTIFICATE', issuing.cert.der));
  const nameHash = createHash('sha1').update(issuing.cert.subjectDer).digest();
  const keyHash = createHash('sha1').update(spkiKeyBits(issuing.cert.spki)).digest();
  certId = (serial) => seq(seq(oid('1.3.14.3.2.26'), nul()), octets(nameHash), octets(keyHash), uint(serial));
});
afterAll(() => s?.stop());

const post = (body: Buffer) =>
  fetch(ocspUrl, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body });

/** The responseStatus of an OCSPResponse body (RFC 6960 §4.2.1), or -1 when it is not one. */
function responseStatus(body: Buffer): number {
  try {
    const [st] = children(readTop(body));
    return st!.tag === 0x0a ? content(st!)[0]! : -1;
  } catch {
    return -1;
  }
}

/** What openssl, as the relying party, says of a response. */
const opensslSays = (body: Buffer) =>
  opensslTry(['ocsp', '-respin', writeTmp(dir, `r-${Math.random()}.der`, body), '-resp_text', '-noverify'])
    .out;

describe('OCSP: malformed input is malformedRequest, never a 500', () => {
  const serial = Buffer.from('4a1b2c3d4e5f60718293a4b5c6d7e8f9', 'hex');
  const crafted: [string, () => Buffer][] = [
    ['empty requestExtensions', () => seq(seq(seq(seq(certId(serial))), Buffer.from([0xa2, 0x00])))],
    ['an empty Extensions list', () => seq(seq(seq(seq(certId(serial))), ctx(2, seq())))],
    ['an empty Extension', () => seq(seq(seq(seq(certId(serial))), ctx(2, seq(seq()))))],
    [
      'a CertID with an empty hashAlgorithm',
      () => seq(seq(seq(seq(seq(seq(), octets(Buffer.alloc(20)), octets(Buffer.alloc(20)), uint(serial)))))),
    ],
    ['an empty Request', () => seq(seq(seq(seq())))],
    [
      'an Extension without extnValue',
      () => seq(seq(seq(seq(certId(serial))), ctx(2, seq(seq(oid(OCSP_OID.nonce)))))),
    ],
  ];

  it.each(crafted)('%s: 200, OCSPResponse malformedRequest, over POST and GET', async (_name, make) => {
    const der = make();
    const r = await post(der);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/ocsp-response');
    const body = Buffer.from(await r.arrayBuffer());
    expect(opensslSays(body)).toMatch(/Responder Error: malformedrequest \(1\)/);
    const g = await fetch(`${ocspUrl}/${encodeURIComponent(der.toString('base64'))}`);
    expect(g.status).toBe(200);
    expect(responseStatus(Buffer.from(await g.arrayBuffer()))).toBe(1);
  });

  it(`openssl asking about ${MAX_CERTS_PER_REQUEST} serials gets them all; about ${MAX_CERTS_PER_REQUEST + 1}, malformedRequest`, async () => {
    const ask = (n: number) =>
      opensslAsync([
        'ocsp',
        '-issuer',
        issuerPem,
        ...Array.from({ length: n }, (_, i) => ['-serial', `0x${(0x1000 + i).toString(16)}`]).flat(),
        '-url',
        ocspUrl,
        '-CAfile',
        s.cp.boot.paths.chainPem,
      ]);
    const within = await ask(MAX_CERTS_PER_REQUEST);
    expect(within.out).toContain('Response verify OK');
    expect(within.out.match(/: unknown/g)).toHaveLength(MAX_CERTS_PER_REQUEST);
    const over = await ask(MAX_CERTS_PER_REQUEST + 1);
    expect(over.out).toMatch(/Responder Error: malformedrequest \(1\)/);
  });

  it('bounded fuzz over HTTP: every mutant gets an OCSPResponse (successful or malformedRequest), none a 500', async () => {
    const valid = seq(
      seq(
        seq(seq(certId(serial)), seq(certId(Buffer.from('01', 'hex')))),
        ctx(2, seq(seq(oid(OCSP_OID.nonce), octets(octets(Buffer.alloc(16, 7)))))),
      ),
    );
    expect(responseStatus(Buffer.from(await (await post(valid)).arrayBuffer()))).toBe(0);
    const inputs = [
      ...structuralMutations(valid).map((m) => m.bytes ?? encodeTree(m.tree!)),
      ...byteMutants(valid, 400, 0x0c5b),
    ];
    const seen = new Map<string, number>();
    for (let i = 0; i < inputs.length; i += 16) {
      await Promise.all(
        inputs.slice(i, i + 16).map(async (der, j) => {
          const viaGet = (i + j) % 4 === 0;
          const r = viaGet
            ? await fetch(`${ocspUrl}/${encodeURIComponent(der.toString('base64'))}`)
            : await post(der);
          const key = `${r.status}/${responseStatus(Buffer.from(await r.arrayBuffer()))}`;
          seen.set(key, (seen.get(key) ?? 0) + 1);
        }),
      );
    }
    expect([...seen.keys()].sort()).toEqual(['200/0', '200/1']);
  });
});
