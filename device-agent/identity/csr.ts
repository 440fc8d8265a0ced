// The device's PKCS#10 request (RFC 2986): subject CN = device id, OU = hardware model, signed
// with the device key. lib/x509/build-csr.ts makes CN-only requests for services; a device's
// CA checks OU against its batch (and at re-enrollment against the current certificate), so
// the device names its model itself.
import { createPublicKey, type KeyObject, sign } from 'node:crypto';
import { bitString, ctx, oid, seq, smallInt } from '../../lib/der/encode.ts';
import { encodeName } from '../../lib/x509/name.ts';
import { OID } from '../../lib/x509/oids.ts';

export function deviceCsr(key: KeyObject, deviceId: string, hardwareModel: string): Buffer {
  if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new TypeError('device key must be P-256');
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  const subject = encodeName([
    { type: OID.commonName, value: deviceId },
    { type: OID.organizationalUnitName, value: hardwareModel },
  ]);
  // CertificationRequestInfo: version 0, subject, SPKI, attributes [0] (none)
  const cri = seq(smallInt(0), subject, spki, ctx(0, Buffer.alloc(0)));
  return seq(cri, seq(oid(OID.ecdsaWithSha256)), bitString(sign('sha256', cri, key)));
}
