// Device identifiers: what a CSR's CN may contain. They end up in a SPIFFE URI path segment
// and in MQTT topics, so the alphabet excludes '/', '+', '#' and anything needing escaping.
// It also excludes ':', which keeps devices out of the services' MQTT client ids
// (`svc:<name>[:<worker>]`, gateway/core/client-id.ts): a device's client id is its id, so no
// device can ever take, squat or resume a service's session.
import { EdgesealError } from '../../lib/errors.ts';

export const DEVICE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function checkDeviceId(id: string, prefix: string | null): string {
  if (!DEVICE_ID_RE.test(id)) {
    throw new EdgesealError(
      'ERR_DEVICE_ID_INVALID',
      `device id ${JSON.stringify(id.slice(0, 80))} must be 1–64 characters of A–Z a–z 0–9 . _ - starting with a letter or digit`,
    );
  }
  if (prefix && !id.startsWith(prefix)) {
    throw new EdgesealError(
      'ERR_DEVICE_ID_INVALID',
      `device id "${id}" must start with this batch's prefix "${prefix}"`,
    );
  }
  return id;
}
