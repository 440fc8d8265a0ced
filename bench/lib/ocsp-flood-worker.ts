// A worker thread of the OCSP flood (ocsp-flood.ts): `concurrency` closed loops POSTing OCSP
// requests of `certIds` CertIDs for random serials this CA never issued, each with a fresh
// nonce (so neither the response cache nor a repeated serial helps the responder), until
// the deadline. Counts answers by OCSPResponse status.
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { ctx, nul, octets, oid, seq, uint } from '../../lib/der/encode.ts';

const { url, nameHash, keyHash, certIds, seconds, concurrency } = workerData as {
  url: string;
  nameHash: Uint8Array;
  keyHash: Uint8Array;
  certIds: number;
  seconds: number;
  concurrency: number;
};
const NONCE_OID = '1.3.6.1.5.5.7.48.1.2';

function floodRequest(): Buffer {
  const reqs = Array.from({ length: certIds }, () => {
    const serial = randomBytes(16);
    serial[0] = (serial[0]! & 0x3f) | 0x40;
    return seq(seq(seq(oid('1.3.14.3.2.26'), nul()), octets(nameHash), octets(keyHash), uint(serial)));
  });
  return seq(seq(seq(...reqs), ctx(2, seq(seq(oid(NONCE_OID), octets(octets(randomBytes(16))))))));
}

const target = new URL(url);
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const byStatus: Record<string, number> = {};
const end = performance.now() + seconds * 1000;
const post = (body: Buffer) =>
  new Promise<string>((resolve) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/ocsp-request', 'content-length': body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const b = Buffer.concat(chunks);
          // OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, … }: the status octet
          const off = b[1]! & 0x80 ? 2 + (b[1]! & 0x7f) : 2;
          resolve(
            res.statusCode === 200 && b[off] === 0x0a ? `ocsp-${b[off + 2]}` : `http-${res.statusCode}`,
          );
        });
      },
    );
    req.on('error', () => resolve('error'));
    req.end(body);
  });
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      const k = await post(floodRequest());
      byStatus[k] = (byStatus[k] ?? 0) + 1;
    }
  }),
);
agent.destroy();
parentPort!.postMessage({ byStatus });
