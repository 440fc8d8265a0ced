// `edgeseal agent provision`: at manufacture, the device gets its key (made here, written
// only into the state directory, 0600), enrolls over EST with the batch credential, and
// stores its certificate, the trust anchors and device.json. All or nothing: if anything
// fails, what this run wrote is taken away again.
import { generateKeyPairSync } from 'node:crypto';
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type DeviceFile, DEVICE_ID_RE, newUeid, serializeDeviceFile } from './device.ts';
import { fail } from './errors.ts';
import { type Cert, checkDeviceCert, issuedBy, isSelfSigned, sha256Hex } from './identity/certs.ts';
import { deviceCsr } from './identity/csr.ts';
import { type BatchCredential, EstClient } from './identity/est-client.ts';
import { resolveTrustRoot, type TrustSource } from './identity/trust.ts';
import { HttpsClient } from './net/https.ts';
import {
  exists,
  FILE_MODE,
  KEY_MODE,
  prepareStateDir,
  type StatePaths,
  statePaths,
  undoProvisioning,
  writeAtomic,
} from './state.ts';

export interface ProvisionOptions {
  readonly stateDir: string;
  readonly estUrl: string;
  readonly batch: BatchCredential;
  readonly deviceId: string;
  readonly hardwareModel: string;
  readonly firmwarePath: string;
  readonly trust: TrustSource;
  readonly controlPlaneUrl?: string;
  readonly gatewayUrl?: string;
  readonly keyId?: string;
  readonly now?: () => Date;
}

export interface Provisioned {
  readonly device: DeviceFile;
  readonly paths: StatePaths;
  readonly certSerial: string;
  readonly notAfter: Date;
  readonly rootSha256: string;
}

/** A URL of one of `protocols`, without credentials; the message names the flag and the value. */
export function checkUrl(value: string, flag: string, protocols: readonly string[]): URL {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return fail('ERR_BAD_VALUE', `${flag} "${value}" is not a URL`);
  }
  if (!protocols.includes(u.protocol)) {
    fail('ERR_BAD_VALUE', `${flag} "${value}" must be a ${protocols.map((p) => `${p}//`).join(' or ')} URL`);
  }
  if (u.username || u.password) fail('ERR_BAD_VALUE', `${flag} must not carry credentials`);
  return u;
}

/** The control plane is the EST server's origin; the gateway its host on the MQTTS port. */
export function defaultEndpoints(estUrl: URL): { controlPlaneUrl: string; gatewayUrl: string } {
  return { controlPlaneUrl: estUrl.origin, gatewayUrl: `mqtts://${estUrl.hostname}:8883` };
}

async function checkFirmware(path: string): Promise<void> {
  try {
    const fh = await open(path, 'r');
    try {
      await fh.read(Buffer.alloc(1), 0, 1, 0); // a directory opens, but does not read
    } finally {
      await fh.close();
    }
  } catch (e) {
    fail('ERR_BAD_VALUE', `cannot read firmware file ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
}

/** cacerts: the issuing CA that hangs from our root (and the root itself, if it is there, must be ours). */
function issuingCaOf(certs: readonly Cert[], root: Cert, estUrl: string): Cert {
  for (const c of certs) {
    if (isSelfSigned(c) && !c.der.equals(root.der)) {
      fail(
        'ERR_TRUST',
        `${estUrl}/cacerts offers a different root (SHA-256 ${sha256Hex(c.der)}) than the trusted one`,
      );
    }
  }
  const issuing = certs.find((c) => !isSelfSigned(c) && c.x509.ca && issuedBy(c, root));
  return issuing ?? fail('ERR_TRUST', `${estUrl}/cacerts offers no issuing CA signed by the trusted root`);
}

export async function provision(o: ProvisionOptions): Promise<Provisioned> {
  const est = checkUrl(o.estUrl, '--est-url', ['https:']);
  const defaults = defaultEndpoints(est);
  const controlPlaneUrl = checkUrl(o.controlPlaneUrl ?? defaults.controlPlaneUrl, '--control-plane', [
    'https:',
  ]);
  const gatewayUrl = checkUrl(o.gatewayUrl ?? defaults.gatewayUrl, '--gateway', ['mqtts:']);
  if (!DEVICE_ID_RE.test(o.deviceId)) {
    fail(
      'ERR_BAD_VALUE',
      `--device-id "${o.deviceId}" must be 1–64 of A-Z a-z 0-9 . _ - (starting with a letter or digit)`,
    );
  }
  if (o.hardwareModel.length === 0 || o.hardwareModel.length > 64) {
    fail('ERR_BAD_VALUE', '--hardware-model must be 1–64 characters');
  }
  const firmwarePath = resolve(o.firmwarePath);
  await checkFirmware(firmwarePath);
  const paths = statePaths(o.stateDir);
  if (await exists(paths.device)) {
    fail(
      'ERR_ALREADY_PROVISIONED',
      `${paths.dir} is already provisioned (${paths.device} exists); not overwriting it`,
    );
  }
  const estBase = o.estUrl.replace(/\/+$/, '');
  const root = await resolveTrustRoot(o.trust, estBase);
  const http = new HttpsClient({ ca: root.pem });
  try {
    const client = new EstClient(estBase, http);
    const issuing = issuingCaOf(await client.cacerts(), root, estBase);
    const { created } = await prepareStateDir(paths);
    try {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      await writeAtomic(paths.key, privateKey.export({ type: 'pkcs8', format: 'pem' }), KEY_MODE);
      const leaf = await client.simpleEnroll(deviceCsr(privateKey, o.deviceId, o.hardwareModel), o.batch);
      checkDeviceCert(leaf, { key: privateKey, deviceId: o.deviceId, issuingCa: issuing });
      const device: DeviceFile = {
        version: 1,
        device_id: o.deviceId,
        hardware_model: o.hardwareModel,
        firmware_path: firmwarePath,
        ueid: newUeid(),
        est_url: estBase,
        control_plane_url: controlPlaneUrl.origin,
        gateway_url: `mqtts://${gatewayUrl.host}`,
        ...(o.keyId ? { key_id: o.keyId } : {}),
        provisioned_at: (o.now?.() ?? new Date()).toISOString(),
      };
      await writeAtomic(paths.cert, leaf.pem, FILE_MODE);
      await writeAtomic(paths.issuingCa, issuing.pem, FILE_MODE);
      await writeAtomic(paths.root, root.pem, FILE_MODE);
      await writeAtomic(paths.device, serializeDeviceFile(device), FILE_MODE); // last: the directory is complete
      return {
        device,
        paths,
        certSerial: leaf.serial,
        notAfter: leaf.notAfter,
        rootSha256: sha256Hex(root.der),
      };
    } catch (e) {
      await undoProvisioning(paths, created);
      throw e;
    }
  } finally {
    http.close();
  }
}
