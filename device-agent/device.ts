// device.json: who this device is and where its servers are. Written once at provisioning
// (last, so its presence means the directory is complete); read at every `agent run`.
import { randomBytes } from 'node:crypto';
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { fail } from './errors.ts';

/** Same alphabet the CA enforces on device ids (ca-service/core/device-id.ts). */
export const DEVICE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const url = (protocols: readonly string[]) =>
  z.string().refine(
    (s) => {
      try {
        return protocols.includes(new URL(s).protocol);
      } catch {
        return false;
      }
    },
    `must be a ${protocols.join(' or ')} URL`,
  );

const DeviceFile = z.object({
  version: z.literal(1),
  device_id: z.string().regex(DEVICE_ID_RE),
  hardware_model: z.string().min(1).max(64),
  firmware_path: z.string().refine(isAbsolute, 'must be an absolute path'),
  /** RFC 9711 §4.2.1 UEID, type RAND (0x01) and 32 random bytes, base64url */
  ueid: z.string().regex(/^[A-Za-z0-9_-]{44}$/),
  est_url: url(['https:']),
  control_plane_url: url(['https:']),
  gateway_url: url(['mqtts:']),
  /** the key to ask for when affirming (Part 4's test key; `agent run --key-id` overrides) */
  key_id: z.string().min(1).max(128).optional(),
  provisioned_at: z.string(),
});

export type DeviceFile = z.infer<typeof DeviceFile>;

/** RFC 9711 §4.2.1.1: UEID type 0x01 (RAND) followed by 32 random bytes; made once, at provisioning. */
export function newUeid(random: (n: number) => Buffer = randomBytes): string {
  return Buffer.concat([Buffer.from([0x01]), random(32)]).toString('base64url');
}

export function parseDeviceFile(text: string, path: string): DeviceFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return fail('ERR_STATE', `${path} is not JSON`);
  }
  const r = DeviceFile.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0]!;
    return fail('ERR_STATE', `${path}: ${i.path.join('.') || '(root)'} ${i.message}`);
  }
  return r.data;
}

export const serializeDeviceFile = (d: DeviceFile): string => `${JSON.stringify(d, null, 2)}\n`;
