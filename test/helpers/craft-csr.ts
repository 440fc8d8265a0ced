// Hand-built CSRs for inputs openssl refuses to make (over-long names and the like).
import { generateKeyPairSync } from 'node:crypto';
import { buildCsr } from '../../lib/x509/build-csr.ts';

export function craftCsr(cn: string): Buffer {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return buildCsr(privateKey, cn);
}
