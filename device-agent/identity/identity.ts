// Who the device is right now: its key, its current certificate, the issuing CA and root,
// and one TLS context built from them that HTTPS and MQTT share (built once per certificate:
// cheaper per connection than handing PEMs to every connect). Renewal replaces the
// certificate; whoever holds a connection is told and reconnects with the new one.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import { fail } from '../errors.ts';
import { readStateFile, type StatePaths } from '../state.ts';
import { type Cert, certsFromPem, checkDeviceCert } from './certs.ts';

export interface Identity {
  readonly deviceId: string;
  readonly key: KeyObject;
  readonly cert: Cert;
  readonly issuingCa: Cert;
  readonly root: Cert;
  /** client certificate (leaf + issuing CA), key and trusted root for every TLS connection */
  readonly secureContext: SecureContext;
}

export function makeIdentity(
  deviceId: string,
  key: KeyObject,
  cert: Cert,
  issuingCa: Cert,
  root: Cert,
): Identity {
  const secureContext = createSecureContext({
    key: key.export({ type: 'pkcs8', format: 'pem' }),
    cert: cert.pem + issuingCa.pem,
    ca: root.pem,
    minVersion: 'TLSv1.2',
  });
  return { deviceId, key, cert, issuingCa, root, secureContext };
}

/** Reads the identity from the state directory and checks its parts belong together. */
export async function loadIdentity(paths: StatePaths, deviceId: string): Promise<Identity> {
  const keyPem = await readStateFile(paths.key, 'device key');
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    return fail('ERR_STATE', `the device key at ${paths.key} is not a PEM private key`);
  }
  const one = async (path: string, what: string): Promise<Cert> => {
    const text = await readStateFile(path, what);
    try {
      return certsFromPem(text, path)[0]!;
    } catch (e) {
      return fail('ERR_STATE', (e as Error).message);
    }
  };
  const cert = await one(paths.cert, 'device certificate');
  const issuingCa = await one(paths.issuingCa, 'issuing CA');
  const root = await one(paths.root, 'root CA');
  try {
    checkDeviceCert(cert, { key, deviceId, issuingCa });
  } catch (e) {
    return fail('ERR_STATE', `${paths.cert} does not belong here: ${(e as Error).message}`);
  }
  return makeIdentity(deviceId, key, cert, issuingCa, root);
}

/** The identity in use, and who wants to hear when it changes. */
export class CurrentIdentity {
  private readonly listeners: ((id: Identity, previous: Identity) => void)[] = [];

  constructor(private value: Identity) {}

  get(): Identity {
    return this.value;
  }

  /** A renewed certificate (same key): builds the new TLS context and tells the listeners. */
  renewed(cert: Cert): Identity {
    const previous = this.value;
    this.value = makeIdentity(previous.deviceId, previous.key, cert, previous.issuingCa, previous.root);
    for (const l of this.listeners) l(this.value, previous);
    return this.value;
  }

  onChange(listener: (id: Identity, previous: Identity) => void): void {
    this.listeners.push(listener);
  }
}
